"""The strategy library: every strategy class, registered under its key."""

from .base import (
    INTERFACE_VERSION,
    TOLERANCE,
    Candles,
    Strategy,
    StrategyError,
    StrategyOutput,
    StrategyParameterError,
    StrategyParameters,
    above,
    below,
)
from .registry import (
    StrategyPluginError,
    UnknownStrategy,
    check_strategy_class,
    get_strategy_class,
    refused_plugins,
    register,
    registered_strategies,
    strategy_choices,
)

__all__ = [
    "TOLERANCE",
    "Candles",
    "StrategyOutput",
    "above",
    "below",
    "INTERFACE_VERSION",
    "Strategy",
    "StrategyError",
    "StrategyParameterError",
    "StrategyParameters",
    "StrategyPluginError",
    "UnknownStrategy",
    "check_strategy_class",
    "get_strategy_class",
    "refused_plugins",
    "register",
    "registered_strategies",
    "strategy_choices",
]

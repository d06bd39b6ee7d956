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
from .registry import get_strategy_class, register, registered_strategies, strategy_choices

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
    "get_strategy_class",
    "register",
    "registered_strategies",
    "strategy_choices",
]

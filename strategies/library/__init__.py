"""The strategy library: every strategy class, registered under its key."""

from .base import (
    INTERFACE_VERSION,
    Strategy,
    StrategyError,
    StrategyParameterError,
    StrategyParameters,
)
from .registry import get_strategy_class, register, registered_strategies, strategy_choices

__all__ = [
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

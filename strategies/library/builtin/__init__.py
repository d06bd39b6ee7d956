"""The built-in strategies; importing this package registers each of them."""

from . import (  # noqa: F401
    donchian_breakout,
    ema_crossover,
    price_threshold,
    rsi_threshold,
    sma_crossover,
)

"""Pieces shared by the built-in strategies: parameter types, the ATR stop and hold-forward.

Every built-in strategy turns its indicators into two boolean "events" per bar (go long, go
short) plus a "ready" mask (all indicators defined). ``hold_forward`` turns events into a
target that holds until the opposite event; ``signal_output`` attaches the stop and enforces
the output contract (int targets in {-1, 0, 1}; a finite stop strictly on the losing side of
the close wherever the target is not 0, NaN elsewhere). All of it on numpy arrays.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import talib
from pydantic import Field

from ..base import Candles, StrategyOutput, StrategyParameters

# TA-Lib accepts look-back periods in [2, 100000] (ATR also 1).
MAX_PERIOD = 100_000
Period = Annotated[int, Field(ge=2, le=MAX_PERIOD)]
AtrPeriod = Annotated[int, Field(ge=1, le=MAX_PERIOD)]
PositiveMultiple = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PositivePrice = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class AtrStopParameters(StrategyParameters):
    """Parameters of a strategy whose stop lies ``stop_atr_multiple`` ATRs from the close."""

    atr_period: AtrPeriod = Field(14, description="Bars of the Average True Range used for the stop.")
    stop_atr_multiple: PositiveMultiple = Field(
        2.0, description="Stop distance from the close, in ATRs (long: below, short: above)."
    )


def average_true_range(candles: Candles, period: int) -> np.ndarray:
    return talib.ATR(candles.high, candles.low, candles.close, timeperiod=period)


def shift(values: np.ndarray, by: int = 1) -> np.ndarray:
    """The value ``by`` bars earlier (NaN for the first ``by`` bars)."""
    out = np.empty_like(values, dtype=np.float64)
    out[:by] = np.nan
    out[by:] = values[:-by] if by else values
    return out


def hold_forward(go_long, go_short, ready) -> np.ndarray:
    """Target per bar: +1 from a long event, -1 from a short event, held until the opposite one.

    Where ``ready`` is False (indicators not yet defined) the target is 0 and nothing carries
    over: the state starts afresh once the indicators are ready. A bar with both events (or
    neither) keeps the previous target.
    """
    ready = np.asarray(ready, dtype=bool)
    go_long = np.asarray(go_long, dtype=bool)
    go_short = np.asarray(go_short, dtype=bool)
    events = np.zeros(len(ready), dtype=np.int64)
    events[go_long & ~go_short] = 1
    events[go_short & ~go_long] = -1
    decided = ~ready | (go_long != go_short)  # bars that set the state (not ready: to 0)
    events[~ready] = 0
    # Forward-fill: each bar takes the event of the last deciding bar at or before it.
    last = np.maximum.accumulate(np.where(decided, np.arange(len(ready)), -1))
    return np.where(last >= 0, events[np.maximum(last, 0)], 0).astype(np.int64)


def signal_output(close: np.ndarray, target: np.ndarray, stop: np.ndarray, **indicators) -> StrategyOutput:
    """The strategy output; a target without a stop strictly on its losing side becomes 0."""
    target = np.asarray(target, dtype=np.int64)
    stop = np.asarray(stop, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        stop_valid = np.isfinite(stop) & np.isfinite(close) & ((close - stop) * target > 0)
    target = np.where(stop_valid, target, 0).astype(np.int64)
    stop = np.where(target != 0, stop, np.nan)
    return StrategyOutput(target, stop, {name: np.asarray(v, dtype=np.float64) for name, v in indicators.items()})


def atr_signal_output(
    candles: Candles,
    go_long: np.ndarray,
    go_short: np.ndarray,
    ready: np.ndarray,
    params: AtrStopParameters,
    **indicators,
) -> StrategyOutput:
    """Hold-forward target with an ATR stop (long: close - k*ATR, short: close + k*ATR).

    Bars whose ATR is undefined or not positive count as not ready: no position without a stop.
    """
    close = candles.close
    atr = average_true_range(candles, params.atr_period)
    with np.errstate(invalid="ignore"):
        ready = ready & np.isfinite(atr) & (atr > 0)
    target = hold_forward(go_long, go_short, ready)
    stop = close - target * params.stop_atr_multiple * atr
    return signal_output(close, target, stop, **indicators, atr=atr)

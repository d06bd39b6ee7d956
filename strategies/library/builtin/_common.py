"""Pieces shared by the built-in strategies: parameter types, the ATR stop and hold-forward.

Every built-in strategy turns its indicators into two boolean "events" per bar (go long, go
short) plus a "ready" mask (all indicators defined). ``hold_forward`` turns events into a
target that holds until the opposite event; ``signal_frame`` attaches the stop and enforces
the output contract (int targets in {-1, 0, 1}; a finite stop strictly on the losing side of
the close wherever the target is not 0, NaN elsewhere).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
import talib
from pydantic import Field

from ..base import StrategyParameters

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


def column(candles: pd.DataFrame, name: str) -> np.ndarray:
    """One candle column as the float64 array TA-Lib wants."""
    return candles[name].to_numpy(dtype=np.float64)


def series(values: np.ndarray, candles: pd.DataFrame) -> pd.Series:
    return pd.Series(values, index=candles.index, dtype=np.float64)


def average_true_range(candles: pd.DataFrame, period: int) -> pd.Series:
    high, low, close = (column(candles, name) for name in ("high", "low", "close"))
    atr = talib.ATR(high, low, close, timeperiod=period)
    return series(atr, candles)


def hold_forward(go_long: pd.Series, go_short: pd.Series, ready: pd.Series) -> pd.Series:
    """Target per bar: +1 from a long event, -1 from a short event, held until the opposite one.

    Where ``ready`` is False (indicators not yet defined) the target is 0 and nothing carries
    over: the state starts afresh once the indicators are ready. A bar with both events (or
    neither) keeps the previous target.
    """
    ready = ready.fillna(False).astype(bool)
    go_long = go_long.fillna(False).astype(bool)
    go_short = go_short.fillna(False).astype(bool)
    events = np.select(
        [~ready.to_numpy(), (go_long & ~go_short).to_numpy(), (go_short & ~go_long).to_numpy()],
        [0.0, 1.0, -1.0],
        default=np.nan,
    )
    return pd.Series(events, index=ready.index).ffill().fillna(0.0).astype(np.int64)


def signal_frame(close: pd.Series, target: pd.Series, stop: pd.Series) -> pd.DataFrame:
    """The strategy output; a target without a stop strictly on its losing side becomes 0."""
    target = target.astype(np.int64)
    stop = stop.astype(np.float64)
    stop_valid = np.isfinite(stop) & np.isfinite(close) & ((close - stop) * target > 0)
    target = target.where(stop_valid, 0).astype(np.int64)
    stop = stop.where(target != 0, np.nan)
    return pd.DataFrame({"target": target, "stop": stop}, index=close.index)


def atr_signal_frame(
    candles: pd.DataFrame,
    go_long: pd.Series,
    go_short: pd.Series,
    ready: pd.Series,
    params: AtrStopParameters,
) -> pd.DataFrame:
    """Hold-forward target with an ATR stop (long: close - k*ATR, short: close + k*ATR).

    Bars whose ATR is undefined or not positive count as not ready: no position without a stop.
    """
    close = candles["close"].astype(np.float64)
    atr = average_true_range(candles, params.atr_period)
    ready = ready & np.isfinite(atr) & (atr > 0)
    target = hold_forward(go_long, go_short, ready)
    stop = close - target * params.stop_atr_multiple * atr
    return signal_frame(close, target, stop)

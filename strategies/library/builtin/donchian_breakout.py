from __future__ import annotations

import pandas as pd
import talib
from pydantic import Field

from ..base import Strategy, StrategyParameters
from ..registry import register
from ._common import Period, column, hold_forward, series, signal_frame


class DonchianBreakoutParameters(StrategyParameters):
    period: Period = Field(20, description="Bars of the channel: highest high and lowest low before the bar.")


@register
class DonchianBreakout(Strategy):
    key = "donchian_breakout"
    label = "Donchian breakout"
    description = (
        "Long when the close breaks above the highest high of the previous `period` bars; sell "
        "(flat, or short if allowed) when it breaks below their lowest low; otherwise the last "
        "position holds. Stop: the opposite side of the channel (long: lowest low, short: highest high)."
    )
    Parameters = DonchianBreakoutParameters
    params: DonchianBreakoutParameters

    @property
    def warmup_bars(self) -> int:
        # The channel of the previous `period` bars is first defined on bar `period`.
        return self.params.period + 1

    def compute(self, candles: pd.DataFrame) -> pd.DataFrame:
        period = self.params.period
        # Channel over the bars *before* each bar: the bar itself must break out of it.
        upper = series(talib.MAX(column(candles, "high"), timeperiod=period), candles).shift(1)
        lower = series(talib.MIN(column(candles, "low"), timeperiod=period), candles).shift(1)
        close = candles["close"].astype("float64")
        target = hold_forward(close > upper, close < lower, upper.notna() & lower.notna())
        stop = lower.where(target > 0, upper.where(target < 0))
        return signal_frame(close, target, stop)

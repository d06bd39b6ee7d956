from __future__ import annotations

import numpy as np
import talib
from pydantic import Field

from ..base import Candles, Strategy, StrategyOutput, StrategyParameters, above, below
from ..registry import register
from ._common import Period, hold_forward, shift, signal_output


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

    def compute(self, candles: Candles) -> StrategyOutput:
        period = self.params.period
        # Channel over the bars *before* each bar: the bar itself must break out of it; a close
        # equal to the channel's edge (within TOLERANCE) is no breakout.
        upper = shift(talib.MAX(candles.high, timeperiod=period))
        lower = shift(talib.MIN(candles.low, timeperiod=period))
        close = candles.close
        target = hold_forward(above(close, upper), below(close, lower), ~np.isnan(upper) & ~np.isnan(lower))
        stop = np.where(target > 0, lower, np.where(target < 0, upper, np.nan))
        return signal_output(close, target, stop, upper=upper, lower=lower)

from __future__ import annotations

import numpy as np
import talib
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..base import Candles, Strategy, StrategyOutput, above, below
from ..registry import register
from ._common import AtrStopParameters, Period, atr_signal_output


class RsiThresholdParameters(AtrStopParameters):
    period: Period = Field(14, description="Bars of the Relative Strength Index.")
    buy_below: float = Field(30.0, gt=0, lt=100, description="Go long when the RSI falls below this.")
    sell_above: float = Field(
        70.0, gt=0, lt=100, description="Sell (go flat, or short if allowed) when the RSI rises above this."
    )

    @model_validator(mode="after")
    def _buy_below_sell(self) -> RsiThresholdParameters:
        if self.buy_below >= self.sell_above:
            raise PydanticCustomError(
                "buy_not_below_sell",
                "buy_below ({buy}) must be smaller than sell_above ({sell}): "
                "the RSI level that buys has to lie under the level that sells",
                {"buy": self.buy_below, "sell": self.sell_above},
            )
        return self


@register
class RsiThreshold(Strategy):
    key = "rsi_threshold"
    label = "RSI threshold"
    description = (
        "Long when the RSI drops below buy_below (oversold); sell when it rises above sell_above "
        "(overbought): flat, or short if allowed. In between, the last position holds. "
        "Stop: stop_atr_multiple ATRs from the close."
    )
    Parameters = RsiThresholdParameters
    params: RsiThresholdParameters

    @property
    def warmup_bars(self) -> int:
        # RSI is first defined on bar `period`, the ATR on bar `atr_period`.
        return max(self.params.period, self.params.atr_period) + 1

    def compute(self, candles: Candles) -> StrategyOutput:
        rsi = talib.RSI(candles.close, timeperiod=self.params.period)
        # An RSI exactly at a level (within TOLERANCE) does not cross it.
        go_long = below(rsi, self.params.buy_below)
        go_short = above(rsi, self.params.sell_above)
        return atr_signal_output(candles, go_long, go_short, ~np.isnan(rsi), self.params, rsi=rsi)

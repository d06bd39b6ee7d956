"""Rate-of-change momentum: an example of a trader's own strategy (README, "Your own strategies").

Long while the close is more than ``threshold_pct`` per cent above the close ``period`` bars
earlier; short (if allowed, else flat) while it is more than that below; in between the position
holds. Stop: ``stop_atr_multiple`` ATRs from the close.
"""

from __future__ import annotations

import numpy as np
import talib
from pydantic import Field

from strategies.library import (
    INTERFACE_VERSION,
    Candles,
    Strategy,
    StrategyOutput,
    StrategyParameters,
    above,
    below,
    register,
)


class MomentumParameters(StrategyParameters):
    period: int = Field(10, ge=1, le=10_000, description="Bars back to compare the close with.")
    threshold_pct: float = Field(0.5, gt=0, le=100, description="Per cent move that counts as momentum.")
    atr_period: int = Field(14, ge=1, le=10_000)
    stop_atr_multiple: float = Field(2.0, gt=0)


@register
class Momentum(Strategy):
    key = "momentum"
    label = "Momentum (rate of change)"
    description = __doc__
    interface_version = INTERFACE_VERSION  # declared: a future interface refuses it with a clear message
    Parameters = MomentumParameters
    params: MomentumParameters

    @property
    def warmup_bars(self) -> int:
        return max(self.params.period, self.params.atr_period) + 1

    def compute(self, candles: Candles) -> StrategyOutput:
        close = candles.close
        roc = talib.ROC(close, timeperiod=self.params.period)  # per cent change over `period` bars
        atr = talib.ATR(candles.high, candles.low, close, timeperiod=self.params.atr_period)
        ready = ~np.isnan(roc) & (atr > 0)
        threshold = self.params.threshold_pct
        # Hold forward: each bar takes the last event's side; not ready means flat.
        event = np.where(above(roc, threshold), 1.0, np.where(below(roc, -threshold), -1.0, np.nan))
        event[~ready] = 0.0
        last = np.maximum.accumulate(np.where(np.isnan(event), -1, np.arange(len(event))))
        target = np.where(last >= 0, event[np.maximum(last, 0)], 0.0).astype(np.int64)
        stop = np.where(target != 0, close - target * self.params.stop_atr_multiple * atr, np.nan)
        return StrategyOutput(target, stop, {"roc": roc, "atr": atr})

"""Moving-average crossover, shared by the SMA and EMA strategies (they differ only in the average)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ..base import Candles, Strategy, StrategyOutput, above, below
from ._common import AtrStopParameters, atr_signal_output


class CrossoverParameters(AtrStopParameters):
    """Subclasses declare ``fast_period`` and ``slow_period`` (type ``Period``) with their defaults."""

    fast_period: int
    slow_period: int

    @model_validator(mode="after")
    def _fast_below_slow(self) -> CrossoverParameters:
        if self.fast_period >= self.slow_period:
            raise PydanticCustomError(
                "fast_not_below_slow",
                "fast_period ({fast}) must be smaller than slow_period ({slow}): "
                "the fast average has to look back over fewer bars than the slow one",
                {"fast": self.fast_period, "slow": self.slow_period},
            )
        return self


class MovingAverageCrossover(Strategy):
    """Long while the fast average is above the slow one, short while below; ties (within the
    interface's TOLERANCE) hold."""

    Parameters: ClassVar[type[CrossoverParameters]] = CrossoverParameters
    params: CrossoverParameters
    # A TA-Lib moving-average function: (values, timeperiod=...) -> values.
    average: ClassVar[Callable[..., np.ndarray]]

    @property
    def warmup_bars(self) -> int:
        # The slow average is first defined on bar slow_period - 1, the ATR on bar atr_period.
        return max(self.params.slow_period, self.params.atr_period + 1)

    def compute(self, candles: Candles) -> StrategyOutput:
        average = type(self).average
        fast = average(candles.close, timeperiod=self.params.fast_period)
        slow = average(candles.close, timeperiod=self.params.slow_period)
        ready = ~np.isnan(fast) & ~np.isnan(slow)
        return atr_signal_output(
            candles, above(fast, slow), below(fast, slow), ready, self.params, fast=fast, slow=slow
        )

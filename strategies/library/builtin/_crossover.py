"""Moving-average crossover, shared by the SMA and EMA strategies (they differ only in the average)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ..base import Strategy
from ._common import AtrStopParameters, atr_signal_frame, column, series


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
    """Long while the fast average is above the slow one, short while below; ties hold."""

    Parameters: ClassVar[type[CrossoverParameters]] = CrossoverParameters
    params: CrossoverParameters
    # A TA-Lib moving-average function: (values, timeperiod=...) -> values.
    average: ClassVar[Callable[..., np.ndarray]]

    @property
    def warmup_bars(self) -> int:
        # The slow average is first defined on bar slow_period - 1, the ATR on bar atr_period.
        return max(self.params.slow_period, self.params.atr_period + 1)

    def compute(self, candles: pd.DataFrame) -> pd.DataFrame:
        close = column(candles, "close")
        average = type(self).average
        fast = series(average(close, timeperiod=self.params.fast_period), candles)
        slow = series(average(close, timeperiod=self.params.slow_period), candles)
        ready = fast.notna() & slow.notna()
        return atr_signal_frame(candles, fast > slow, fast < slow, ready, self.params)

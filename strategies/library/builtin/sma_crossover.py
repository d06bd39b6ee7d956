from __future__ import annotations

import talib
from pydantic import Field

from ..registry import register
from ._common import Period
from ._crossover import CrossoverParameters, MovingAverageCrossover


class SmaCrossoverParameters(CrossoverParameters):
    fast_period: Period = Field(5, description="Bars of the fast simple moving average.")
    slow_period: Period = Field(20, description="Bars of the slow simple moving average.")


@register
class SmaCrossover(MovingAverageCrossover):
    key = "sma_crossover"
    label = "SMA crossover"
    description = (
        "Long while the fast simple moving average of the close is above the slow one, "
        "short (if allowed, else flat) while it is below. Stop: stop_atr_multiple ATRs from the close."
    )
    Parameters = SmaCrossoverParameters
    average = staticmethod(talib.SMA)

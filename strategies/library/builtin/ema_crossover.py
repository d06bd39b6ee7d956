from __future__ import annotations

import talib
from pydantic import Field

from ..registry import register
from ._common import Period
from ._crossover import CrossoverParameters, MovingAverageCrossover


class EmaCrossoverParameters(CrossoverParameters):
    fast_period: Period = Field(9, description="Bars of the fast exponential moving average.")
    slow_period: Period = Field(21, description="Bars of the slow exponential moving average.")


@register
class EmaCrossover(MovingAverageCrossover):
    key = "ema_crossover"
    label = "EMA crossover"
    description = (
        "Long while the fast exponential moving average of the close is above the slow one, "
        "short (if allowed, else flat) while it is below. Stop: stop_atr_multiple ATRs from the close."
    )
    Parameters = EmaCrossoverParameters
    average = staticmethod(talib.EMA)

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..base import Candles, Strategy, StrategyOutput, above, below
from ..registry import register
from ._common import AtrStopParameters, PositivePrice, atr_signal_output


class PriceThresholdParameters(AtrStopParameters):
    # No sensible default for price levels: both are required. Decimals and numeric strings are accepted.
    buy_above: PositivePrice = Field(description="Go long when the close rises above this price.")
    sell_below: PositivePrice = Field(
        description="Sell (go flat, or short if allowed) when the close falls below this price."
    )

    @model_validator(mode="after")
    def _sell_not_above_buy(self) -> PriceThresholdParameters:
        if self.sell_below > self.buy_above:
            raise PydanticCustomError(
                "sell_above_buy",
                "sell_below ({sell}) must not be higher than buy_above ({buy}): "
                "a close between them would both buy and sell",
                {"sell": self.sell_below, "buy": self.buy_above},
            )
        return self


@register
class PriceThreshold(Strategy):
    key = "price_threshold"
    label = "Price threshold"
    description = (
        "Long when the close rises above buy_above; sell (flat, or short if allowed) when it falls "
        "below sell_below; in between, the last position holds. Stop: stop_atr_multiple ATRs from the close."
    )
    Parameters = PriceThresholdParameters
    params: PriceThresholdParameters

    @classmethod
    def default_parameters(cls) -> dict[str, Any]:
        """Defaults of the optional fields only: ``buy_above`` and ``sell_below`` must be given."""
        return {
            name: field.get_default(call_default_factory=True)
            for name, field in cls.Parameters.model_fields.items()
            if not field.is_required()
        }

    @property
    def warmup_bars(self) -> int:
        # Only the ATR needs history: first defined on bar atr_period.
        return self.params.atr_period + 1

    def compute(self, candles: Candles) -> StrategyOutput:
        # A close exactly at a level (within TOLERANCE) does not cross it.
        close = candles.close
        return atr_signal_output(
            candles,
            above(close, self.params.buy_above),
            below(close, self.params.sell_below),
            ~np.isnan(close),
            self.params,
        )

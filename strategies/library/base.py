"""The strategy interface: typed parameters and one vectorised method over candles.

A strategy reads a candle DataFrame (index: tz-aware bar start times, ascending; columns
``open high low close volume`` as float64) and returns, per bar, the target position
(+1 long, 0 flat, -1 short) and the stop-loss level for that target. Live trading reads the
last row; a backtest reads them all: one piece of strategy code for both.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

INTERFACE_VERSION = 1
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


class StrategyParameterError(ValueError):
    """Parameters that do not fit the strategy class; the message names each field and why."""


class StrategyError(RuntimeError):
    """Anything a strategy's own code raised while computing; isolates it from the engine."""


class StrategyParameters(BaseModel):
    """Base for each strategy's parameter model. Unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_short: bool = False


class Strategy:
    key: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    interface_version: ClassVar[int] = INTERFACE_VERSION
    Parameters: ClassVar[type[StrategyParameters]] = StrategyParameters

    def __init__(self, parameters: dict[str, Any] | None = None) -> None:
        self.params = self.parse_parameters(parameters or {})

    @classmethod
    def parse_parameters(cls, parameters: dict[str, Any]) -> StrategyParameters:
        try:
            return cls.Parameters.model_validate(parameters)
        except ValidationError as exc:
            # A field's error names the field; a rule across fields (loc empty) speaks for itself, so
            # it is not prefixed (the caller reports it under "parameters" already).
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
                for err in exc.errors()
            )
            raise StrategyParameterError(reasons) from None

    @classmethod
    def validate_parameters(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        """Validate and return the full parameter set with defaults filled in (JSON-safe)."""
        return cls.parse_parameters(parameters).model_dump(mode="json")

    @classmethod
    def default_parameters(cls) -> dict[str, Any]:
        return cls.Parameters().model_dump(mode="json")

    @property
    def warmup_bars(self) -> int:
        """How many bars the indicators need before the last bar's answer is meaningful."""
        raise NotImplementedError

    def compute(self, candles: pd.DataFrame) -> pd.DataFrame:
        """Return a DataFrame on the same index with columns ``target`` (int) and ``stop`` (float).

        ``stop`` is NaN where ``target`` is 0; otherwise it lies strictly on the losing side of
        the bar's close (below for a long, above for a short).
        """
        raise NotImplementedError

    def run(self, candles: pd.DataFrame) -> pd.DataFrame:
        """``compute`` behind a wrapper: whatever the strategy raises becomes ``StrategyError``."""
        missing = [c for c in CANDLE_COLUMNS if c not in candles.columns]
        if missing:
            raise StrategyError(f"{self.key}: candles lack columns {missing}")
        try:
            result = self.compute(candles)
        except StrategyError:
            raise
        except Exception as exc:  # user strategy code: any failure is isolated, never propagated raw
            raise StrategyError(f"{self.key}: {type(exc).__name__}: {exc}") from exc
        if not self.params.allow_short:
            short = result["target"] < 0
            result.loc[short, "target"] = 0
            result.loc[short, "stop"] = float("nan")
        return result

"""The strategy interface (version 2): typed parameters and one vectorised method over candle arrays.

A strategy reads ``Candles`` (numpy arrays: ``start`` as int64 nanoseconds since the epoch, UTC,
ascending; ``open high low close volume`` as float64) and returns a ``StrategyOutput``: per bar,
the target position (+1 long, 0 flat, -1 short), the stop-loss level for that target, and the
indicator values that decided it (shown in the evaluation ledger). Live trading reads the last
bar; a backtest reads them all: one piece of strategy code for both. TA-Lib takes the arrays
directly; pandas appears only at the edges (``run`` on a DataFrame).

Exact decisions: prices are multiples of the tick, so two indicators are often exactly equal,
and floating-point sums leave residues of about 1e-13 that would make such a tie look like a
cross. Compare prices and indicators with ``above``/``below`` (or ``TOLERANCE`` yourself): a
difference within ``TOLERANCE`` (1e-6, in the compared values' own unit) is a tie. That is
far below any tick (NSE's smallest is 0.0025) and far above the residue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from ..marketdata.base import Candles, CandlesError

INTERFACE_VERSION = 2
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
# Two prices or indicator values closer than this are equal (see the module's docstring).
TOLERANCE = 1e-6


def above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """``a > b`` by more than TOLERANCE (NaN on either side: False)."""
    return np.asarray(a) - b > TOLERANCE


def below(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """``a < b`` by more than TOLERANCE (NaN on either side: False)."""
    return np.asarray(b) - a > TOLERANCE


@dataclass
class StrategyOutput:
    """Per bar: ``target`` (int64 in -1, 0, 1), ``stop`` (float64, NaN where the target is 0)
    and the ``indicators`` (name -> float64 array) that decided it."""

    target: np.ndarray
    stop: np.ndarray
    indicators: dict[str, np.ndarray] = field(default_factory=dict)


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

    def compute(self, candles: Candles) -> StrategyOutput:
        """Return the target, stop and indicators per bar (arrays as long as ``candles``).

        ``stop`` is NaN where ``target`` is 0; otherwise it lies strictly on the losing side of
        the bar's close (below for a long, above for a short). Compare with ``above``/``below``.
        """
        raise NotImplementedError

    def run_arrays(self, candles: Candles) -> StrategyOutput:
        """``compute`` behind a wrapper: whatever the strategy raises becomes ``StrategyError``;
        shorts become flat unless ``allow_short``."""
        try:
            result = self.compute(candles)
            target = np.asarray(result.target)
            stop = np.asarray(result.stop, dtype=np.float64)
            if len(target) != len(candles) or len(stop) != len(candles):
                raise ValueError(f"returned {len(target)} targets and {len(stop)} stops for {len(candles)} candles")
        except StrategyError:
            raise
        except Exception as exc:  # user strategy code: any failure is isolated, never propagated raw
            raise StrategyError(f"{self.key}: {type(exc).__name__}: {exc}") from exc
        if not self.params.allow_short and len(target) and (target < 0).any():  # masking only when needed
            short = target < 0
            target = np.where(short, 0, target)
            stop = np.where(short, np.nan, stop)
        return StrategyOutput(target, stop, result.indicators)

    def run(self, candles: pd.DataFrame) -> pd.DataFrame:
        """``run_arrays`` on a candle DataFrame; returns ``target`` and ``stop`` on its index."""
        try:
            arrays = Candles.from_frame(candles)
        except CandlesError as exc:
            raise StrategyError(f"{self.key}: {exc}") from None
        result = self.run_arrays(arrays)
        return pd.DataFrame({"target": result.target, "stop": result.stop}, index=candles.index)

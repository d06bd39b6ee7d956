"""One strategy on one instrument's candles: its answer on the last bar, or why there is none.

These run inline or in an evaluation process (strategies/parallel.py), so everything here is
picklable and pure of the database unless the market-data source reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from ..ledger_detail import indicator_value
from ..library import StrategyError, get_strategy_class
from ..library.base import StrategyOutput
from ..marketdata.base import Candles, MarketDataSource
from .data_checks import candle_problem


@dataclass(frozen=True)
class Job:
    """One strategy's code and look-back, as an evaluation process needs it (picklable)."""

    strategy_id: int
    library_key: str
    parameters: dict
    count: int


@dataclass
class PairResult:
    """One strategy on one instrument's candles: its answer on the last bar, or why there is none."""

    strategy_id: int
    token: int
    problem: str = ""
    failed: bool = False  # the strategy's own code raised
    target: int = 0
    stop: float = math.nan
    close: float = math.nan
    indicators: dict = field(default_factory=dict)
    changed_ns: int | None = None  # start of the bar the last target began on (None: before the look-back)
    last_ns: int = 0


@dataclass
class Chunk:
    """Instruments and the jobs on each, evaluated together (inline or in an evaluation process)."""

    timeframe: str
    bar_close: datetime
    expected_ns: np.ndarray
    instruments: list  # InstrumentRef
    jobs: dict[int, list[Job]]  # token -> jobs
    counts: dict[int, int]  # token -> longest look-back
    candles: dict[int, Candles | str] | None = None  # read already (stored candles), else by the process


@dataclass(frozen=True)
class InstrumentRef:
    """What a market-data source needs of an instrument (picklable, no database)."""

    instrument_token: int
    exchange: str
    tradingsymbol: str
    tick_size: Decimal
    pk: int | None = None


_CODE_CACHE: dict[tuple[str, str], object] = {}


def _code(job: Job):
    import json

    key = (job.library_key, json.dumps(job.parameters, sort_keys=True, default=str))
    code = _CODE_CACHE.get(key)
    if code is None:
        code = _CODE_CACHE[key] = get_strategy_class(job.library_key)(job.parameters)
    return code


def evaluate_chunk(chunk: Chunk, source: MarketDataSource) -> list[PairResult]:
    """Every job on every instrument of the chunk. Pure of the database unless the source reads it."""
    candles = chunk.candles
    if candles is None:
        candles = source.candle_arrays(chunk.instruments, chunk.timeframe, chunk.bar_close, chunk.counts)
    results: list[PairResult] = []
    for instrument in chunk.instruments:
        token = instrument.instrument_token
        data = candles.get(token, "no data")
        jobs = chunk.jobs[token]
        if not isinstance(data, str):
            problem = candle_problem(data.start, chunk.expected_ns, chunk.timeframe, 2)
            if problem:
                data = problem
        if isinstance(data, str):
            results.extend(PairResult(job.strategy_id, token, problem=data) for job in jobs)
            continue
        for job in jobs:
            results.append(_evaluate_pair(job, token, data.tail(job.count)))
    return results


def _evaluate_pair(job: Job, token: int, data: Candles) -> PairResult:
    try:
        output = _code(job).run_arrays(data)
    except StrategyError as exc:
        return PairResult(job.strategy_id, token, problem=f"strategy error: {exc}", failed=True)
    except Exception as exc:  # the strategy's parameters no longer build it
        return PairResult(job.strategy_id, token, problem=f"strategy error: {type(exc).__name__}: {exc}", failed=True)
    refused = output_problem(output, data)
    if refused:
        return PairResult(job.strategy_id, token, problem=f"refused: {refused}")
    target = output.target
    flips = np.flatnonzero(target[1:] != target[:-1])
    return PairResult(
        job.strategy_id,
        token,
        target=int(target[-1]),
        stop=float(output.stop[-1]),
        close=float(data.close[-1]),
        indicators={name: indicator_value(values[-1]) for name, values in output.indicators.items()},
        changed_ns=int(data.start[flips[-1] + 1]) if flips.size else None,
        last_ns=int(data.start[-1]),
    )


def output_problem(output: StrategyOutput, data: Candles) -> str:
    """Why the last bar's answer cannot be traded, or ''."""
    target, stop, close = output.target[-1], float(output.stop[-1]), float(data.close[-1])
    if isinstance(target, float | np.floating) and not math.isfinite(target):
        return f"the target is {target}"
    if target not in (-1, 0, 1):
        return f"the target is {target}, not -1, 0 or +1"
    if target == 0:
        return ""
    if not math.isfinite(stop):
        return f"a {int(target):+d} target with the stop {stop}"
    if (close - stop) * target <= 0:
        side = "below" if target > 0 else "above"
        return f"the stop {stop:g} is not {side} the close {close:g}"
    return ""

"""Evaluating a timeframe's strategies on one bar: data checks, level-triggered targets, the ledger.

The rule (README, "How a bar is evaluated"): on each evaluated bar a strategy's desired target on
an instrument is compared with what the strategy *last signalled* there, not with its target on
the bar before. A change on a bar that was not evaluated (late tick, stopped engine, missing data)
is therefore caught up on the next evaluated bar, if the bar it changed on lies inside the catch-up
window (EVALUATION_CATCH_UP_WINDOW: the same trading session by default). Outside the window the
change is recorded in the ledger as not signalled, with its reason. A strategy that has never
signalled on an instrument waits for a change seen since it was first evaluated, unless
``enter_on_first_bar`` is on.

This module is pure of the database: the engine reads what it needs (last signals, first evaluated
bar) through the selectors, and writes the ledger through the services.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from .calendar import MarketCalendar
from .ledger_detail import indicator_value, price_on_tick
from .library import StrategyError, get_strategy_class
from .library.base import StrategyOutput
from .marketdata.base import Candles, MarketDataSource

logger = logging.getLogger(__name__)

# Bars beyond the strategy's own warm-up, so indicators have settled by the last bar.
EXTRA_HISTORY_BARS = 50


@dataclass(frozen=True)
class TargetChange:
    """A strategy's desired target on one instrument differs from what it last signalled there."""

    strategy: object  # strategies.models.Strategy
    instrument: object  # strategies.models.Instrument
    bar_time: datetime
    target: int
    price: Decimal
    stop_price: Decimal | None
    data_source: str
    caught_up_from: datetime | None = None  # the earlier, unevaluated bar the target changed on


@dataclass
class StrategyEvaluation:
    """What one strategy did on one bar: becomes its ledger row."""

    strategy: object
    outcome: str = "evaluated"
    reason_code: str = ""
    reason: str = ""
    instruments_total: int = 0
    instruments_evaluated: int = 0
    instruments: dict[str, dict] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    changes: list[TargetChange] = field(default_factory=list)
    duration_ms: int = 0


@dataclass
class EvaluationReport:
    evaluations: list[StrategyEvaluation]
    data_source: str = ""

    @property
    def changes(self) -> list[TargetChange]:
        return [change for ev in self.evaluations for change in ev.changes]

    @property
    def errors(self) -> dict[str, str]:
        """Strategy name -> why it was not evaluated at all."""
        return {ev.strategy.name: ev.reason for ev in self.evaluations if ev.outcome != "evaluated"}

    @property
    def evaluated(self) -> int:
        return sum(1 for ev in self.evaluations if ev.outcome == "evaluated")


@dataclass(frozen=True)
class Decision:
    signal: bool
    note: str = ""
    outside_window: bool = False
    caught_up: bool = False  # the change happened on an earlier bar that was not evaluated


def decide(
    *,
    desired: int,
    changed_ns: int | None,
    last_ns: int,
    last_signalled: int | None,
    enter_on_first_bar: bool,
    first_counted_ns: int,
    window_start_ns: int,
) -> Decision:
    """Level-triggered: does the desired target on the bar starting ``last_ns`` become a signal?

    ``changed_ns``: start of the bar the desired target took its value on (None: on or before the
    first candle of the look-back, so when is unknown). Bars starting at or after
    ``window_start_ns`` are inside the catch-up window; ``first_counted_ns`` is the start of the
    strategy's first evaluated bar (for a strategy that never signalled on the instrument, only
    changes from there count).
    """
    if last_signalled is None:
        if desired == 0:
            return Decision(False, note="flat; nothing signalled yet")
        if enter_on_first_bar:
            return Decision(True, note="enters on its first bar (enter_on_first_bar)")
        if changed_ns is None or changed_ns < first_counted_ns:
            return Decision(False, note=f"holds {desired:+d} from before it was evaluated: waits for a change")
    elif desired == last_signalled:
        return Decision(False, note=f"holds {desired:+d}, as last signalled")
    if changed_ns is None or changed_ns < window_start_ns:
        return Decision(False, outside_window=True)
    if changed_ns == last_ns:
        return Decision(True, note="changed on this bar")
    return Decision(True, note="changed on an earlier bar that was not evaluated: caught up", caught_up=True)


# --- data checks --------------------------------------------------------------------------------

_DAY_NS = 86_400_000_000_000
_IST_OFFSET_NS = 19_800_000_000_000  # +05:30: day bars compare by their India date


def candle_problem(starts_ns: np.ndarray, expected_ns: np.ndarray, timeframe: str, needed: int) -> str:
    """'' when the candles are exactly the expected bars (a tail of them), else why not.

    ``starts_ns``: the candles' start times as given by the source; ``expected_ns``: the market
    calendar's bar starts up to the bar being evaluated. Kite stamps day candles at 00:00 and the
    calendar at the session open, so "1d" compares India dates.
    """
    if len(starts_ns) == 0:
        return "no candles"
    got, want = starts_ns, expected_ns
    if timeframe == "1d":
        got, want = (got + _IST_OFFSET_NS) // _DAY_NS, (want + _IST_OFFSET_NS) // _DAY_NS
    steps = np.diff(got)
    if (steps == 0).any():
        at = int(np.flatnonzero(steps == 0)[0]) + 1
        return f"duplicated candle at {_when(starts_ns[at])}"
    if (steps < 0).any():
        at = int(np.flatnonzero(steps < 0)[0]) + 1
        return f"candles out of order at {_when(starts_ns[at])}"
    if got[-1] < want[-1]:
        last, wanted = _when(starts_ns[-1]), _when(expected_ns[-1])
        return f"stale: the last candle starts {last}, the bar starting {wanted} is missing"
    if got[-1] > want[-1]:
        return f"a candle starts {_when(starts_ns[-1])}, after the bar being evaluated"
    take = min(len(got), len(want))
    if not np.array_equal(got[-take:], want[-take:]):
        missing = np.setdiff1d(want[-take:], got)
        if missing.size:
            first = int(missing[0]) if timeframe != "1d" else _day_start(int(missing[0]), expected_ns)
            return f"{missing.size} candle(s) missing, the first starting {_when(first)}"
        odd = np.setdiff1d(got[-take:], want)
        first = int(odd[0]) if timeframe != "1d" else int(starts_ns[-take:][np.isin(got[-take:], odd)][0])
        return f"a candle starts {_when(first)}, which is no bar of the market calendar"
    if take < needed:
        return f"only {take} candles stored, {needed} needed for the warm-up"
    return ""


def _day_start(day: int, expected_ns: np.ndarray) -> int:
    days = (expected_ns + _IST_OFFSET_NS) // _DAY_NS
    return int(expected_ns[np.searchsorted(days, day)])


def _when(ns: int) -> str:
    from .calendar import KOLKATA

    return datetime.fromtimestamp(int(ns) / 1e9, tz=KOLKATA).strftime("%Y-%m-%d %H:%M")


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


# --- the bar --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BarContext:
    """Everything about the bar that is the same for every strategy and instrument."""

    timeframe: str
    bar_close: datetime
    calendar: MarketCalendar
    window_start: datetime  # bars starting at or after this are inside the catch-up window
    data_source: str


def catch_up_window_start(calendar: MarketCalendar, timeframe: str, bar_close: datetime, window: str) -> datetime:
    """Start of the first bar inside the catch-up window: the session's open, or ``window`` minutes back."""
    if window == "session":
        opens, _ = calendar.session_bounds(calendar.session_date_of_close(bar_close))
        return opens
    return bar_close - timedelta(minutes=int(window)) - calendar.bar_length(timeframe)


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


def evaluate_bar(
    *,
    strategies: Sequence,
    context: BarContext,
    source: MarketDataSource,
    members: dict[int, list],
    last_signalled: dict[tuple[int, int], int],
    first_evaluated: dict[int, datetime],
    processes: int = 1,
    parallel_from: int = 0,
) -> EvaluationReport:
    """Evaluate every strategy on the bar; candles are read once per instrument for all of them.

    ``members``: strategy id -> its instruments.
    ``last_signalled``: (strategy id, instrument id) -> the target it last signalled there.
    ``first_evaluated``: strategy id -> close of its first evaluated bar (absent: this is it).
    With ``processes`` > 1 and at least ``parallel_from`` (strategy, instrument) pairs, the
    instruments are split across evaluation processes (strategies/parallel.py).
    A strategy whose code cannot be built is recorded as skipped (strategy error); one that
    raises on an instrument has that instrument in its problems; the others go on.
    """
    started = time.perf_counter()
    report = EvaluationReport(evaluations=[], data_source=context.data_source)
    evaluations: dict[int, StrategyEvaluation] = {}
    jobs: dict[int, list[Job]] = {}
    counts: dict[int, int] = {}
    refs: dict[int, InstrumentRef] = {}
    for strategy in strategies:
        evaluation = StrategyEvaluation(strategy=strategy)
        report.evaluations.append(evaluation)
        evaluation.instruments_total = len(members[strategy.pk])
        try:
            code = get_strategy_class(strategy.library_key)(strategy.parameters)
            job = Job(strategy.pk, strategy.library_key, strategy.parameters, code.warmup_bars + EXTRA_HISTORY_BARS)
        except Exception as exc:  # unknown type, bad parameters, a broken plugin
            evaluation.outcome, evaluation.reason_code = "skipped", "strategy_error"
            evaluation.reason = f"{type(exc).__name__}: {exc}"
            continue
        evaluations[strategy.pk] = evaluation
        for instrument in members[strategy.pk]:
            token = int(instrument.instrument_token)
            refs[token] = InstrumentRef(
                token, instrument.exchange, instrument.tradingsymbol, instrument.tick_size, instrument.pk
            )
            jobs.setdefault(token, []).append(job)
            counts[token] = max(counts.get(token, 0), job.count)
    if not jobs:
        return report

    calendar = context.calendar
    expected_ns = np.array(
        [_ns(s) for s in calendar.bar_starts_before(context.timeframe, context.bar_close, max(counts.values()))],
        dtype=np.int64,
    )
    pairs = sum(len(j) for j in jobs.values())
    results = None
    if processes > 1 and pairs >= parallel_from:
        from . import parallel

        try:
            results = parallel.evaluate(
                timeframe=context.timeframe,
                bar_close=context.bar_close,
                expected_ns=expected_ns,
                instruments=list(refs.values()),
                jobs=jobs,
                counts=counts,
                source=source,
                processes=processes,
            )
        except Exception:  # no processes to be had (or one died): the bar is still evaluated, here
            logger.exception("evaluation processes failed; evaluating the bar in this process")
            parallel.shutdown()
    if results is None:
        chunk = Chunk(context.timeframe, context.bar_close, expected_ns, list(refs.values()), jobs, counts)
        results = evaluate_chunk(chunk, source)

    by_pair = {(r.strategy_id, r.token): r for r in results}
    bar_start_ns = _ns(calendar.bar_start(context.timeframe, context.bar_close))
    window_start_ns = _ns(context.window_start)
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    for strategy_id, evaluation in evaluations.items():
        first = first_evaluated.get(strategy_id)
        first_ns = _ns(calendar.bar_start(context.timeframe, first)) if first else bar_start_ns
        _decide_strategy(
            evaluation,
            members[strategy_id],
            by_pair,
            context,
            first_ns,
            window_start_ns,
            last_signalled,
        )
        evaluation.duration_ms = elapsed_ms
    return report


def _decide_strategy(
    evaluation: StrategyEvaluation,
    members: list,
    by_pair: dict,
    context: BarContext,
    first_ns: int,
    window_start_ns: int,
    last_signalled: dict,
) -> None:
    strategy = evaluation.strategy
    failures = []
    for instrument in members:
        symbol = instrument.kite_symbol
        result = by_pair[(strategy.pk, int(instrument.instrument_token))]
        if result.problem:
            evaluation.problems[symbol] = result.problem
            if result.failed:
                failures.append(symbol)
            continue
        evaluation.instruments_evaluated += 1
        last = last_signalled.get((strategy.pk, instrument.pk))
        decision = decide(
            desired=result.target,
            changed_ns=result.changed_ns,
            last_ns=result.last_ns,
            last_signalled=last,
            enter_on_first_bar=strategy.enter_on_first_bar,
            first_counted_ns=first_ns,
            window_start_ns=window_start_ns,
        )
        changed_on = None
        if result.changed_ns is not None and result.changed_ns != result.last_ns:
            changed_on = context.calendar.bar_close(context.timeframe, _to_datetime(result.changed_ns))
        note = decision.note
        if decision.outside_window:
            when = f"on the bar closing {changed_on:%Y-%m-%d %H:%M}" if changed_on else "before the look-back"
            note = f"target changed to {result.target:+d} {when}, outside the catch-up window: not signalled"
            evaluation.problems[symbol] = note
        caught_up_from = changed_on if decision.caught_up else None
        evaluation.instruments[symbol] = {
            "instrument": instrument.pk,
            "target": result.target,
            "stop": price_on_tick(result.stop, instrument.tick_size),
            "close": price_on_tick(result.close, instrument.tick_size),
            "indicators": result.indicators,
            "last_signalled": last,
            "signal": decision.signal,
            "caught_up_from": caught_up_from.isoformat() if caught_up_from else None,
            "note": note,
        }
        if decision.signal:
            tick = instrument.tick_size
            evaluation.changes.append(
                TargetChange(
                    strategy=strategy,
                    instrument=instrument,
                    bar_time=context.bar_close,
                    target=result.target,
                    price=to_price(result.close, tick),
                    stop_price=None if result.target == 0 else to_price(result.stop, tick),
                    data_source=context.data_source,
                    caught_up_from=caught_up_from,
                )
            )
    if evaluation.instruments_evaluated == 0 and evaluation.instruments_total:
        evaluation.outcome = "skipped"
        if failures:
            evaluation.reason_code = "strategy_error"
            evaluation.reason = f"the strategy failed on {', '.join(failures)}: {evaluation.problems[failures[0]]}"
        else:
            evaluation.reason_code = "data_missing"
            evaluation.reason = f"no usable candles for {', '.join(sorted(evaluation.problems))}"
    elif evaluation.problems:
        evaluation.reason = f"{len(evaluation.problems)} instrument(s) not evaluated or refused: see problems"


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


def to_price(value: float, tick: Decimal) -> Decimal:
    """A float price on the instrument's tick grid, as Decimal."""
    return (Decimal(repr(float(value))) / tick).quantize(Decimal("1")) * tick


def _to_datetime(ns: int) -> datetime:
    from .calendar import KOLKATA

    return datetime.fromtimestamp(int(ns) // 1_000_000_000, tz=KOLKATA)

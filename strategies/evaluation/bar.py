"""Evaluating a timeframe's strategies on one bar: candles once per instrument for every strategy,
each (strategy, instrument) pair computed (inline or across evaluation processes), the level-triggered
rule applied, and what each strategy did gathered for its ledger row and its signals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from ..calendar import MarketCalendar
from ..ledger_detail import price_on_tick
from ..library import get_strategy_class
from ..marketdata.base import MarketDataSource
from .pairs import Chunk, InstrumentRef, Job, evaluate_chunk
from .rule import decide

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
class BarContext:
    """Everything about the bar that is the same for every strategy and instrument."""

    timeframe: str
    bar_close: datetime
    calendar: MarketCalendar
    window_start: datetime  # bars starting at or after this are inside the catch-up window
    data_source: str


def evaluate_bar(
    *,
    strategies: Sequence,
    context: BarContext,
    source: MarketDataSource,
    members: dict[int, list],
    last_signalled: dict[tuple[int, int], object],  # strategies.selectors.LastSignal
    first_evaluated: dict[int, datetime],
    processes: int = 1,
    parallel_from: int = 0,
) -> EvaluationReport:
    """Evaluate every strategy on the bar; candles are read once per instrument for all of them.

    ``members``: strategy id -> its instruments.
    ``last_signalled``: (strategy id, instrument id) -> its last signal there (``LastSignal``).
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
        from .. import parallel

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
        last_signal = last_signalled.get((strategy.pk, instrument.pk))
        last = last_signal.target if last_signal else None
        changed_on = None
        if result.changed_ns is not None and result.changed_ns != result.last_ns:
            changed_on = context.calendar.bar_close(context.timeframe, _to_datetime(result.changed_ns))
        decision = decide(
            desired=result.target,
            changed_ns=result.changed_ns,
            last_ns=result.last_ns,
            last_signalled=last,
            enter_on_first_bar=strategy.enter_on_first_bar,
            first_counted_ns=first_ns,
            window_start_ns=window_start_ns,
            overridden=_overridden(last_signal, result, changed_on, context.bar_close),
        )
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


def _overridden(last_signal, result, changed_on: datetime | None, bar_close: datetime) -> bool:
    """Whether the last signal, a manual one or an alert, was made after the desired target took its
    value: the operator's word came last, and the strategy waits for its next change.

    Ordered by when each was decided: the strategy's change at its bar's close (this bar's when it
    changed on this bar; before the look-back when that is unknown), the operator's signal at its
    bar time (a manual signal's moment, an alert's window start or bar). An alert holding the
    change's own bar key (its window started at that close) came after the close too. The strategy's
    own last signal never overrides: a target it does not hold is a change it missed.
    """
    if last_signal is None or not last_signal.external:
        return False
    if result.changed_ns is None:
        return True
    change_close = changed_on or bar_close
    return last_signal.bar_time >= change_close


def to_price(value: float, tick: Decimal) -> Decimal:
    """A float price on the instrument's tick grid, as Decimal."""
    return (Decimal(repr(float(value))) / tick).quantize(Decimal("1")) * tick


def _to_datetime(ns: int) -> datetime:
    from ..calendar import KOLKATA

    return datetime.fromtimestamp(int(ns) // 1_000_000_000, tz=KOLKATA)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000

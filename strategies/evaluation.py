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

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from .calendar import MarketCalendar
from .library import StrategyError, get_strategy_class
from .library.base import Candles, StrategyOutput
from .marketdata.base import MarketDataSource, MarketDataUnavailable

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
    changed_at: int | None = None  # index of the bar the desired target took its value on
    note: str = ""
    outside_window: bool = False


# --- the rule ----------------------------------------------------------------------------------


def decide(
    targets: np.ndarray,
    *,
    last_signalled: int | None,
    enter_on_first_bar: bool,
    first_counted: int,
    window_first: int,
) -> Decision:
    """Level-triggered: does the last bar's target become a signal?

    ``targets`` are the strategy's targets on the candles (the last one is the bar being
    evaluated). ``window_first`` is the index of the first bar inside the catch-up window;
    ``first_counted`` the first bar on or after the strategy's first evaluated bar (only changes
    from there count for a strategy that has never signalled on the instrument).
    """
    n = len(targets)
    desired = int(targets[-1])
    flips = np.flatnonzero(targets[1:] != targets[:-1])
    run_start = int(flips[-1]) + 1 if flips.size else 0  # the bar the desired target began on
    known = run_start > 0  # 0: it began on or before the first bar we have: when is unknown
    if last_signalled is None:
        if desired == 0:
            return Decision(False, note="flat; nothing signalled yet")
        if enter_on_first_bar:
            return Decision(True, note="enters on its first bar (enter_on_first_bar)")
        if not known or run_start < first_counted:
            return Decision(False, note=f"holds {desired:+d} from before it was evaluated: waits for a change")
        if run_start < window_first:
            return Decision(False, changed_at=run_start, outside_window=True)
        return Decision(True, changed_at=run_start, note=_changed_note(run_start, n))
    if desired == last_signalled:
        return Decision(False, note=f"holds {desired:+d}, as last signalled")
    if not known or run_start < window_first:
        return Decision(False, changed_at=run_start if known else None, outside_window=True)
    return Decision(True, changed_at=run_start, note=_changed_note(run_start, n))


def _changed_note(run_start: int, n: int) -> str:
    return "changed on this bar" if run_start == n - 1 else f"changed {n - 1 - run_start} bar(s) ago: caught up"


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
    tail = want[-len(got) :] if len(got) <= len(want) else None
    if tail is None or not np.array_equal(got, tail):
        missing = np.setdiff1d(want[-len(got) :] if len(got) <= len(want) else want, got)
        first = _when(int(missing[0]) if timeframe != "1d" else _day_start(missing[0], expected_ns))
        return f"{len(missing)} candle(s) missing, the first starting {first}"
    if len(got) < needed:
        return f"only {len(got)} candles stored, {needed} needed for the warm-up"
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


@dataclass
class _Runner:
    strategy: object
    code: object  # the library Strategy instance
    count: int
    first_evaluated_start_ns: int  # bar start of the strategy's first evaluated bar
    evaluation: StrategyEvaluation


def evaluate_bar(
    *,
    strategies: Sequence,
    context: BarContext,
    source: MarketDataSource,
    last_signalled: dict[tuple[int, int], int],
    first_evaluated: dict[int, datetime],
) -> EvaluationReport:
    """Evaluate every strategy on the bar; candles are read once per instrument for all of them.

    ``last_signalled``: (strategy id, instrument id) -> the target it last signalled there.
    ``first_evaluated``: strategy id -> close of its first evaluated bar (absent: this is it).
    A strategy whose code cannot be built or raises is recorded as skipped (strategy error) or,
    per instrument, in its problems; the others go on.
    """
    calendar = context.calendar
    bar_start_ns = _ns(calendar.bar_start(context.timeframe, context.bar_close))
    runners: list[_Runner] = []
    report = EvaluationReport(evaluations=[], data_source=context.data_source)
    for strategy in strategies:
        evaluation = StrategyEvaluation(strategy=strategy)
        report.evaluations.append(evaluation)
        try:
            code = get_strategy_class(strategy.library_key)(strategy.parameters)
            count = code.warmup_bars + EXTRA_HISTORY_BARS
        except Exception as exc:  # unknown type, bad parameters, a broken plugin
            evaluation.outcome, evaluation.reason_code = "skipped", "strategy_error"
            evaluation.reason = f"{type(exc).__name__}: {exc}"
            continue
        first = first_evaluated.get(strategy.pk)
        first_ns = _ns(calendar.bar_start(context.timeframe, first)) if first else bar_start_ns
        runners.append(_Runner(strategy, code, count, first_ns, evaluation))
    if not runners:
        return report

    # Candles once per instrument, for the longest look-back any of its strategies needs.
    needs: dict[int, int] = {}
    instruments: dict[int, object] = {}
    for runner in runners:
        for instrument in runner.strategy.instruments.all():
            instruments[instrument.pk] = instrument
            needs[instrument.pk] = max(needs.get(instrument.pk, 0), runner.count)
    longest = max(needs.values(), default=0)
    expected_ns = np.array(
        [_ns(s) for s in calendar.bar_starts_before(context.timeframe, context.bar_close, longest)], dtype=np.int64
    )
    window_start_ns = _ns(context.window_start)
    candles: dict[int, Candles | str] = {}
    for pk, instrument in instruments.items():
        candles[pk] = _read_candles(source, instrument, context, needs[pk], expected_ns)

    for runner in runners:
        started = time.perf_counter()
        _evaluate_strategy(runner, candles, context, window_start_ns, last_signalled)
        runner.evaluation.duration_ms = int((time.perf_counter() - started) * 1000)
    return report


def _read_candles(source, instrument, context: BarContext, count: int, expected_ns: np.ndarray) -> Candles | str:
    """The instrument's candles, or why they cannot be used on this bar."""
    try:
        frame = source.candles(instrument, context.timeframe, context.bar_close, count)
    except MarketDataUnavailable as exc:
        return f"no data: {exc}"
    candles = Candles.from_frame(frame)
    problem = candle_problem(candles.start, expected_ns[-count:], context.timeframe, 2)
    return problem or candles


def _evaluate_strategy(runner: _Runner, candles, context: BarContext, window_start_ns: int, last_signalled) -> None:
    strategy, evaluation = runner.strategy, runner.evaluation
    members = list(strategy.instruments.all())
    evaluation.instruments_total = len(members)
    failures = []
    for instrument in members:
        symbol = instrument.kite_symbol
        data = candles[instrument.pk]
        if isinstance(data, str):
            evaluation.problems[symbol] = data
            continue
        data = data.tail(runner.count)
        try:
            output = runner.code.run_arrays(data)
        except StrategyError as exc:
            evaluation.problems[symbol] = f"strategy error: {exc}"
            failures.append(symbol)
            continue
        refused = output_problem(output, data)
        if refused:
            evaluation.problems[symbol] = f"refused: {refused}"
            continue
        evaluation.instruments_evaluated += 1
        last = last_signalled.get((strategy.pk, instrument.pk))
        decision = decide(
            output.target,
            last_signalled=last,
            enter_on_first_bar=strategy.enter_on_first_bar,
            first_counted=int(np.searchsorted(data.start, runner.first_evaluated_start_ns)),
            window_first=int(np.searchsorted(data.start, window_start_ns)),
        )
        target = int(output.target[-1])
        stop = float(output.stop[-1])
        close = float(data.close[-1])
        changed_on = None
        if decision.changed_at is not None and decision.changed_at < len(data) - 1:
            changed_on = context.calendar.bar_close(context.timeframe, _to_datetime(data.start[decision.changed_at]))
        note = decision.note
        if decision.outside_window:
            when = f"on the bar closing {changed_on:%Y-%m-%d %H:%M}" if changed_on else "before the look-back"
            note = f"target changed to {target:+d} {when}, outside the catch-up window: not signalled"
            evaluation.problems[symbol] = note
        evaluation.instruments[symbol] = {
            "instrument": instrument.pk,
            "target": target,
            "stop": None if math.isnan(stop) else stop,
            "close": close,
            "indicators": {name: _json_number(values[-1]) for name, values in output.indicators.items()},
            "last_signalled": last,
            "signal": decision.signal,
            "caught_up_from": changed_on.isoformat() if decision.signal and changed_on else None,
            "note": note,
        }
        if decision.signal:
            tick = instrument.tick_size
            evaluation.changes.append(
                TargetChange(
                    strategy=strategy,
                    instrument=instrument,
                    bar_time=context.bar_close,
                    target=target,
                    price=to_price(close, tick),
                    stop_price=None if target == 0 else to_price(stop, tick),
                    data_source=context.data_source,
                    caught_up_from=changed_on,
                )
            )
    if evaluation.instruments_evaluated == 0 and evaluation.instruments_total:
        evaluation.outcome = "skipped"
        if failures:
            evaluation.reason_code = "strategy_error"
            evaluation.reason = f"the strategy failed on {', '.join(failures)}"
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


def _json_number(value) -> float | int | None:
    value = float(value)
    return None if not math.isfinite(value) else value


def _to_datetime(ns: int) -> datetime:
    from .calendar import KOLKATA

    return datetime.fromtimestamp(int(ns) // 1_000_000_000, tz=KOLKATA)

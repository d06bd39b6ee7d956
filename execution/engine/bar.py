"""The engine's bar: evaluate a timeframe's strategies and turn target changes into signals."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from risk.selectors import engine_is_running
from strategies import selectors as strategy_selectors
from strategies import services as strategy_services
from strategies.models import Signal, SignalSource, SkipReason
from strategies.selectors import active_strategies, market_data_source

from .schedules import timeframes_switched_off
from .signals import signal_submit

logger = logging.getLogger(__name__)

# A beat tick later than this after its bar closed does not trade (beat's ``expires`` backs it up).
MAX_TICK_LATENESS = timedelta(minutes=5)


@dataclass
class BarRun:
    timeframe: str
    bar_close: datetime | None
    skipped: str = ""
    signals: list[Signal] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    evaluated: int = 0
    would_signal: list = field(default_factory=list)  # a replay's changes, not sent (send_signals off)


def run_timeframe(
    *, timeframe: str, now: datetime | None = None, force: bool = False, send_signals: bool = True
) -> BarRun:
    """Evaluate every active strategy of ``timeframe`` on the bar that just closed.

    Every (strategy, bar) lands in the evaluation ledger: evaluated, or skipped with its reason
    (engine stopped, market closed, tick late). ``force`` (the ``evaluate`` command) runs even
    when the engine is stopped or the tick is late. Without ``send_signals`` (a replay of an
    earlier bar) the changes are recorded in the ledger and returned in ``would_signal``, but no
    signal is made: nothing reaches an account.
    """
    now = now or timezone.now()
    source = market_data_source()
    bar_close = source.calendar.last_bar_close(timeframe, now)
    if bar_close is None:
        return BarRun(timeframe, None, skipped="no completed bar")
    strategies = list(active_strategies(timeframe=timeframe))
    skip = "" if force else _why_not_now(timeframe=timeframe, now=now, bar_close=bar_close, calendar=source.calendar)
    if skip:
        code, reason = skip
        strategy_services.evaluations_skip(
            strategies=strategies, timeframe=timeframe, bar_close=bar_close, reason_code=code, reason=reason
        )
        return BarRun(timeframe, None if code == SkipReason.ENGINE_STOPPED else bar_close, skipped=reason)
    return _evaluate(
        strategies=strategies, timeframe=timeframe, bar_close=bar_close, source=source, now=now, send=send_signals
    )


def run_latest_bars(*, now: datetime | None = None) -> list[BarRun]:
    """Right after Start: evaluate each timeframe's latest closed bar for the active strategies that
    have not been evaluated on it, so a 1h strategy takes its position now, not at the next hour.

    Only while the engine runs and the market is open, and on NSE only a bar of today's session (a
    1d bar of an earlier session is left to its own close). A strategy already evaluated on the bar is left
    alone: a bar is evaluated once, whichever of this and beat's tick comes first (a signal is one
    per (strategy, instrument, bar) either way). Bars skipped while the engine was stopped are
    evaluated here.
    """
    now = now or timezone.now()
    if not engine_is_running():
        return []
    source = market_data_source()
    calendar = source.calendar
    if not calendar.is_open(now):
        return []
    today = calendar.session_date_of_close(now)
    runs = []
    by_timeframe: dict[str, list] = {}
    # A timeframe whose beat schedules are all disabled is not traded by beat: Start does not trade
    # it either (an operator turned it off; after an emergency stop the reset turns them back on).
    switched_off = timeframes_switched_off()
    for strategy in active_strategies():
        if strategy.timeframe not in switched_off:
            by_timeframe.setdefault(strategy.timeframe, []).append(strategy)
    for timeframe, strategies in sorted(by_timeframe.items(), key=lambda item: calendar.bar_length(item[0])):
        bar_close = calendar.last_bar_close(timeframe, now)
        # On NSE a bar of an earlier session is left to the catch-up rule; around the clock the market
        # never closed between the bar and now (the 00:00 close ends yesterday's session there).
        if bar_close is None or not (calendar.around_the_clock or calendar.session_date_of_close(bar_close) == today):
            continue
        evaluated = strategy_selectors.strategies_evaluated_on(
            strategy_ids=[s.pk for s in strategies], bar_close=bar_close
        )
        waiting = [s for s in strategies if s.pk not in evaluated]
        if waiting:
            runs.append(_evaluate(strategies=waiting, timeframe=timeframe, bar_close=bar_close, source=source, now=now))
    return runs


def _evaluate(
    *, strategies: list, timeframe: str, bar_close: datetime, source, now: datetime, send: bool = True
) -> BarRun:
    """Evaluate ``strategies`` on the bar, submit the signals their changed targets make, record the
    ledger rows. A manual signal or alert made between the bar's close and ``now`` overrides the
    bar's change (the operator acted after the strategy decided)."""
    run = BarRun(timeframe, bar_close)
    report = strategy_services.evaluate_timeframe(
        strategies=strategies, timeframe=timeframe, bar_close=bar_close, source=source, now=now
    )
    run.errors, run.evaluated = report.errors, report.evaluated
    signals_made: dict[int, int] = {}
    if not send:
        run.would_signal = list(report.changes)
        for change in run.would_signal:
            _not_sent(report, change, f"replay of an earlier bar: would signal {change.target:+d}, not sent")
    for change in report.changes if send else ():
        signal, created = signal_submit(
            strategy=change.strategy,
            instrument=change.instrument,
            bar_time=change.bar_time,
            target=change.target,
            price=change.price,
            stop_price=change.stop_price,
            data_source=change.data_source,
            caught_up_from=change.caught_up_from,
        )
        if created:
            run.signals.append(signal)
        if created or (signal.source == SignalSource.STRATEGY and signal.target == change.target):
            # Made here, or by Start and the tick evaluating the bar side by side: the ledger row,
            # whichever of the two writes it last, counts the bar's signal.
            signals_made[change.strategy.pk] = signals_made.get(change.strategy.pk, 0) + 1
        else:
            # A manual signal or an alert took the bar's key while the bar was evaluated: the strategy's
            # change was not sent (it counts as overridden from the next bar); the ledger says so.
            _key_taken(report, change, signal)
    strategy_services.evaluations_record(
        report=report, timeframe=timeframe, bar_close=bar_close, signals_made=signals_made
    )
    return run


def _key_taken(report, change, signal: Signal) -> None:
    _not_sent(
        report,
        change,
        f"wants {change.target:+d}, not sent: signal #{signal.pk} ({signal.source}, {signal.target:+d}) "
        "was made on this bar while it was evaluated",
    )


def _not_sent(report, change, note: str) -> None:
    """The ledger's line for a change the rule decided to signal and that was not sent, and why."""
    for evaluation in report.evaluations:
        if evaluation.strategy.pk == change.strategy.pk:
            detail = evaluation.instruments.get(change.instrument.kite_symbol)
            if detail is not None:
                detail["signal"] = False
                detail["note"] = note


def _why_not_now(*, timeframe: str, now: datetime, bar_close: datetime, calendar) -> tuple[str, str] | None:
    """(reason code, reason) when this tick must not evaluate the bar, else None."""
    if not engine_is_running():
        return SkipReason.ENGINE_STOPPED, "engine is stopped"
    lateness = now - bar_close
    if lateness <= min(calendar.bar_length(timeframe), MAX_TICK_LATENESS):
        return None
    if not calendar.is_open(now):
        return SkipReason.MARKET_CLOSED, f"market closed: the last {timeframe} bar closed {lateness} before this tick"
    return SkipReason.TICK_LATE, f"tick {lateness} after the bar closed: too late to trade"


@dataclass(frozen=True)
class FanOut:
    account_ids: list[int]
    expires_at: datetime  # past this, an order message is dropped unsent

    def batches(self, size: int) -> list[list[int]]:
        """The accounts in order messages of at most ``size`` (ORDER_FANOUT_BATCH) each."""
        return [self.account_ids[start : start + size] for start in range(0, len(self.account_ids), size)]


def fan_out_targets(*, signal_id: int) -> FanOut:
    """Where a signal goes (its pending deliveries, one per mapped account) and until when its orders may."""
    from .delivery import deliveries_create, pending_account_ids, signal_deadline

    signal = Signal.objects.only("strategy_id", "created_at").get(pk=signal_id)
    deliveries_create(signal=signal)  # a signal recorded without them (an earlier release's) gets them now
    return FanOut(pending_account_ids(signal_id=signal_id), signal_deadline(signal))

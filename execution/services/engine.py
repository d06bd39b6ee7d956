"""The engine's bar: evaluate a timeframe's strategies and turn target changes into signals."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from risk.selectors import engine_is_running
from strategies import services as strategy_services
from strategies.models import Signal
from strategies.selectors import active_strategies, market_data_source

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


def run_timeframe(*, timeframe: str, now: datetime | None = None, force: bool = False) -> BarRun:
    """Evaluate every active strategy of ``timeframe`` on the bar that just closed.

    ``force`` (the ``evaluate`` command) runs even when the engine is stopped or the tick is late.
    """
    now = now or timezone.now()
    if not force and not engine_is_running():
        return BarRun(timeframe, None, skipped="engine is stopped")
    source = market_data_source()
    bar_close = source.calendar.last_bar_close(timeframe, now)
    if bar_close is None:
        return BarRun(timeframe, None, skipped="no completed bar")
    lateness = now - bar_close
    if not force and lateness > min(source.calendar.bar_length(timeframe), MAX_TICK_LATENESS):
        return BarRun(timeframe, bar_close, skipped=f"tick {lateness} after the bar closed: too late to trade")
    run = BarRun(timeframe, bar_close)
    strategies = list(active_strategies(timeframe=timeframe))
    report = strategy_services.evaluate_timeframe(strategies=strategies, bar_close=bar_close, source=source)
    run.errors, run.evaluated = report.errors, report.evaluated
    for change in report.changes:
        signal, created = signal_submit(
            strategy=change.strategy,
            instrument=change.instrument,
            bar_time=change.bar_time,
            target=change.target,
            price=change.price,
            stop_price=change.stop_price,
            data_source=change.data_source,
        )
        if created:
            run.signals.append(signal)
    return run


@dataclass(frozen=True)
class FanOut:
    account_ids: list[int]
    expires_at: datetime  # past this, an order message is dropped unsent

    def batches(self, size: int) -> list[list[int]]:
        """The accounts in order messages of at most ``size`` (ORDER_FANOUT_BATCH) each."""
        return [self.account_ids[start : start + size] for start in range(0, len(self.account_ids), size)]


def fan_out_targets(*, signal_id: int) -> FanOut:
    """Where a signal goes (its pending deliveries, one per mapped account) and until when its orders may."""
    from ..engine.delivery import deliveries_create, pending_account_ids, signal_deadline

    signal = Signal.objects.only("strategy_id", "created_at").get(pk=signal_id)
    deliveries_create(signal=signal)  # a signal recorded without them (an earlier release's) gets them now
    return FanOut(pending_account_ids(signal_id=signal_id), signal_deadline(signal))

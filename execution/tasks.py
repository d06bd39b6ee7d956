"""Celery tasks: each takes ids, calls one service, and returns something small to log."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def run_timeframe(timeframe: str, at: str | None = None) -> dict:
    """Beat's tick for one timeframe. ``at`` (ISO time) replays the bar that closed by then."""
    run = services.run_timeframe(timeframe=timeframe, now=datetime.fromisoformat(at) if at else None)
    return {
        "timeframe": timeframe,
        "bar_close": run.bar_close.isoformat() if run.bar_close else None,
        "skipped": run.skipped,
        "signals": [s.id for s in run.signals],
        "errors": run.errors,
    }


@shared_task(ignore_result=True)
def fan_out_signal(signal_id: int) -> int:
    """One execution task per mapped account, in parallel on the ``orders`` queue."""
    account_ids = services.fan_out_targets(signal_id=signal_id)
    for account_id in account_ids:
        execute_signal_for_account.delay(signal_id, account_id)
    return len(account_ids)


# acks_late plus the unique (signal, account, leg) order and the placement claim: a redelivered
# message finds its orders and never sends a second one.
@shared_task(ignore_result=True, acks_late=True)
def execute_signal_for_account(signal_id: int, account_id: int) -> list[int]:
    return [o.id for o in services.execute_signal_for_account(signal_id=signal_id, account_id=account_id)]


@shared_task(ignore_result=True)
def mark_to_market() -> int:
    return services.mark_open_positions()

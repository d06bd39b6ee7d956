"""Celery tasks: each takes ids, calls one service, and returns something small to log."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from .engine import bar, fanout
from .operations import daily_loss, runs


@shared_task(ignore_result=True)
def run_timeframe(timeframe: str, at: str | None = None) -> dict:
    """Beat's tick for one timeframe. ``at`` (ISO time) replays the bar that closed by then."""
    run = bar.run_timeframe(timeframe=timeframe, now=datetime.fromisoformat(at) if at else None)
    return {
        "timeframe": timeframe,
        "bar_close": run.bar_close.isoformat() if run.bar_close else None,
        "skipped": run.skipped,
        "signals": [s.id for s in run.signals],
        "errors": run.errors,
    }


@shared_task(ignore_result=True)
def evaluate_latest_bars() -> list[dict]:
    """After Start: each timeframe's latest closed bar, for the strategies not yet evaluated on it."""
    return [
        {"timeframe": run.timeframe, "bar_close": run.bar_close.isoformat(), "signals": [s.id for s in run.signals]}
        for run in bar.run_latest_bars()
    ]


@shared_task(ignore_result=True)
def fan_out_signal(signal_id: int) -> int:
    """The signal's pending deliveries in order messages of ORDER_FANOUT_BATCH on the ``orders`` queue;
    each message's accounts run side by side on its worker's order threads (execution/order_threads.py).

    Messages only nudge: each delivery is decided once under its account lock, whatever number of
    messages carry it, and one still pending after a lost message is sent again by the sweeper.
    Each message expires with the signal (SIGNAL_ORDER_TTL_SECONDS): the sweeper expires its deliveries.
    """
    from django.conf import settings

    fan_out = bar.fan_out_targets(signal_id=signal_id)
    for account_ids in fan_out.batches(settings.ORDER_FANOUT_BATCH):
        execute_signal_for_accounts.apply_async((signal_id, account_ids), expires=fan_out.expires_at)
    return len(fan_out.account_ids)


@shared_task(ignore_result=True)
def sweep_deliveries() -> dict:
    """Every few seconds from beat: send again the deliveries still pending after a grace, expire
    those past their signal's TTL (execution/engine/delivery.py)."""
    from .engine.delivery import deliveries_sweep

    sweep = deliveries_sweep()
    return {"redriven": {s: len(a) for s, a in sweep.redriven.items()}, "expired": len(sweep.expired)}


@shared_task(ignore_result=True)
def sweep_operations() -> dict:
    """Every 5 s from beat: send again the operations whose message was lost (still queued after
    OPERATION_REQUEUE_SECONDS); fail and replace those whose worker died (silent for
    OPERATION_STALL_SECONDS) (execution/operations/sweep.py)."""
    from .operations.sweep import operations_sweep

    sweep = operations_sweep()
    return {
        "requeued": sweep.requeued,
        "not_sent": sweep.not_sent,
        "replaced": sweep.replaced,
        "abandoned": sweep.abandoned,
    }


# Acknowledged when it starts (the project's default): a delivery, not the message, is the record of
# what must happen, so nothing depends on Redis redelivering a message.
@shared_task(ignore_result=True)
def execute_signal_for_accounts(signal_id: int, account_ids: list[int]) -> dict[int, list[int] | str]:
    outcomes = fanout.execute_signal_for_accounts(signal_id=signal_id, account_ids=account_ids)
    return {
        account_id: repr(outcome) if isinstance(outcome, Exception) else [o.id for o in outcome]
        for account_id, outcome in outcomes.items()
    }


# The one-account message of earlier releases: messages still queued (or handed back by Redis) when
# workers are upgraded would otherwise be rejected as unknown and dropped without a trace.
# Nothing publishes it any more; remove it a release after every worker runs the batched fan-out.
@shared_task(ignore_result=True)
def execute_signal_for_account(signal_id: int, account_id: int) -> dict[int, list[int] | str]:
    return execute_signal_for_accounts(signal_id, [account_id])


@shared_task(ignore_result=True)
def mark_to_market() -> dict:
    """Every 15 s from beat: mark open positions in market hours, then enforce the daily loss limits."""
    run = daily_loss.mark_to_market_tick()
    return {
        "skipped": run.skipped,
        "marked": run.marked,
        "halted": [b.account.id for b in run.breaches],
        "flattening": [b.flatten.id for b in run.breaches if b.flatten],  # operations, run as tasks
    }


@shared_task(ignore_result=True)
def compact_equity_snapshots() -> int:
    """Nightly from beat: minute equity snapshots past EQUITY_MINUTE_RETENTION_DAYS become one a day."""
    from .tracking.equity import equity_snapshots_compact

    return equity_snapshots_compact()


@shared_task(ignore_result=True)
def intraday_square_off() -> dict:
    """Every minute from beat; in the MIS square-off window of a trading day it starts the square-off
    as an operation (``run_operation``) and returns at once: a slow broker never holds beat."""
    start = runs.intraday_square_off_start()
    return {"skipped": start.skipped, "operation": start.operation.id if start.operation else None}


@shared_task(ignore_result=True)
def run_operation(operation_id: int) -> str:
    """An operation's cancels and exits (emergency stop, flatten, strategy stop, MIS square-off,
    daily-loss flatten), once; its row holds the status. Acknowledged when it starts, like every
    task here: a message lost before the claim is sent again by ``sweep_operations``, a run whose
    worker dies is replaced by it."""
    return runs.operation_run(operation_id=operation_id).operation.state


# --- Kite order updates: resolution of UNKNOWN orders, fills after postbacks, reconciliation --------
# Reads only: each may be retried. None of them ever sends an order.


@shared_task(bind=True, ignore_result=True, max_retries=None)
def resolve_unknown_order(self, order_id: int) -> str:
    """Look for an UNKNOWN order by tag until it is found or declared not placed (with backoff)."""
    from .orders.resolution import RESOLVE_DELAYS, RESOLVE_MAX_ATTEMPTS
    from .tracking import reconcile

    outcome = reconcile.order_resolve_unknown(order_id=order_id)
    if outcome == reconcile.RETRY and self.request.retries < RESOLVE_MAX_ATTEMPTS:
        delays = RESOLVE_DELAYS
        raise self.retry(countdown=delays[min(self.request.retries + 1, len(delays) - 1)])
    return outcome


@shared_task(bind=True, ignore_result=True, max_retries=8)
def confirm_order(self, order_id: int) -> str:
    """A postback said an order was refused or cancelled: record what the order book says."""
    from .tracking import reconcile

    outcome = reconcile.order_confirm(order_id=order_id)
    if outcome == reconcile.RETRY:
        raise self.retry(countdown=2 ** (self.request.retries + 1))
    return outcome


@shared_task(bind=True, ignore_result=True, max_retries=5)
def fetch_order_fills(self, order_id: int) -> int:
    """After a postback reported a fill: record the order's trades."""
    from .brokers import BrokerUnavailable, RateLimited
    from .tracking import reconcile

    try:
        return reconcile.order_fetch_fills(order_id=order_id)
    except (BrokerUnavailable, RateLimited) as exc:
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1))


@shared_task(ignore_result=True)
def reconcile_kite_accounts() -> int:
    """Beat: one reconciliation task per Kite account with a valid session."""
    from .tracking import reconcile

    account_ids = reconcile.reconcile_targets()
    for account_id in account_ids:
        reconcile_account.delay(account_id)
    return len(account_ids)


@shared_task(bind=True, ignore_result=True, max_retries=3)
def reconcile_account(self, account_id: int) -> dict:
    from .brokers import BrokerUnavailable, RateLimited
    from .tracking import reconcile

    try:
        report = reconcile.reconcile_account(account_id=account_id)
    except (BrokerUnavailable, RateLimited) as exc:
        raise self.retry(exc=exc, countdown=5 * (self.request.retries + 1))
    return {"skipped": report.skipped, "updated": report.orders_updated, "mismatches": report.mismatches}

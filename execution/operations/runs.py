"""Operations: every flatten of the book runs as a task with a status, whoever starts it.

The operator's emergency stop, account flatten and strategy stop; beat's MIS square-off; the
daily-loss flatten of a breached account. What must take effect at once does so in the caller, in
one short transaction: for the emergency stop the kill switch trips, the engine stops and the
strategy schedules are disabled; for a strategy stop its kill switch goes off; for a daily-loss
breach the account is halted (``daily_loss``). The rest (cancel open orders, exit positions: broker
calls, seconds to minutes with many accounts) runs as a task through the one decision service
(``squareoff.flatten`` -> ``execution.orders.decision``), recorded in an ``Operation`` row the caller
can poll, so neither a request nor beat ever waits on a broker. If the task cannot be queued (Redis
down), it runs in the caller instead: a stop is never left undone for want of a queue. The
``emergency_stop`` command runs its operation itself and waits (``emergency.emergency_stop``).

The row, not the message, is the record of what must happen: a run beats on its row
(``heartbeat_at``) when it claims it and as it reports, and the operations sweep
(``execution.operations.sweep``) sends again an operation whose message was lost and replaces one
whose worker died (``operation_replace``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from risk import services as risk_services
from risk.models import RiskEventKind
from strategies.models import Product

from ..engine.schedules import set_trading_schedules_enabled
from ..models import Operation, OperationKind, OperationState
from .squareoff import (
    REASON_ACCOUNT_FLATTEN,
    REASON_DAILY_LOSS,
    REASON_EMERGENCY,
    REASON_INTRADAY,
    REASON_STRATEGY_STOP,
    FlattenError,
    FlattenReport,
    flatten,
    flatten_has_work,
    intraday_square_off_window,
)

logger = logging.getLogger(__name__)

# A square-off operation still queued or running this recently is left to finish; an older one
# (its worker died) no longer keeps beat from starting the next.
OPERATION_STALE_AFTER = timedelta(minutes=5)


def _actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def default_reason(*, actor, origin: str) -> str:
    """Who pressed it and from where, when they gave no reason: the audit log still says."""
    who = f" by {actor}" if _actor_or_none(actor) else ""
    return f"Emergency stop{who} from {origin}"[:200]


@dataclass
class EmergencyStopBegun:
    operation: Operation
    was_already_active: bool
    schedules_disabled: int


def emergency_stop_start(*, actor=None, reason: str = "", origin: str) -> Operation:
    """Stop everything now; the flatten goes on in a task. Returns the operation to poll.

    ``origin`` says where it was pressed (the API and the caller's address, the dashboard, the
    command line); with no ``reason``, the reason says who and from where.
    """
    return _queued(emergency_stop_begin(actor=actor, reason=reason, origin=origin).operation)


def emergency_stop_begin(*, actor=None, reason: str = "", origin: str, waits: bool = False) -> EmergencyStopBegun:
    """What takes effect at once, and the operation row for the rest, not yet queued: the caller
    queues it (``emergency_stop_start``) or runs it and ``waits`` (the command)."""
    reason = (reason or "").strip() or default_reason(actor=actor, origin=origin)
    actor = _actor_or_none(actor)
    with transaction.atomic():
        _, was_already_active = risk_services.kill_switch_trip(actor=actor, reason=reason)
        disabled = set_trading_schedules_enabled(enabled=False)
        operation = Operation.objects.create(
            kind=OperationKind.EMERGENCY_STOP,
            actor=actor,
            reason=reason[:200],
            started=(
                f"Kill switch on{' (it already was)' if was_already_active else ''}, engine stopped, "
                f"{disabled} trading schedule(s) disabled; cancelling open orders and squaring off every "
                + ("position, waiting for it." if waits else "position in a task.")
            ),
        )
    return EmergencyStopBegun(operation=operation, was_already_active=was_already_active, schedules_disabled=disabled)


def _queued(operation: Operation) -> Operation:
    """Queue the operation's task once the row is committed (at once outside a transaction)."""
    operation_id = operation.id
    transaction.on_commit(lambda: _enqueue_or_run(operation_id=operation_id))
    return operation


def _enqueue_or_run(*, operation_id: int) -> None:
    if not operation_send(operation_id=operation_id):
        logger.error("operation %s: could not be queued; running it here", operation_id)
        operation_run(operation_id=operation_id)


def operation_send(*, operation_id: int) -> bool:
    """Send the operation's task message; False (logged) if the queue is down. Sending it twice is
    harmless: the first run claims the row, a second finds it taken."""
    from ..tasks import run_operation

    try:
        run_operation.delay(operation_id)
    except Exception:
        logger.exception("operation %s: its message could not be sent", operation_id)
        return False
    return True


def operation_replace(*, lost: Operation) -> Operation:
    """A new operation of the same kind, scope and actor as ``lost`` (whose worker died part way),
    QUEUED; the caller sends it once its row is committed (``operation_send``). Running a flatten
    again is safe: positions with an exit in flight get no second one, and cancels are idempotent."""
    operation = Operation.objects.create(
        kind=lost.kind,
        actor=lost.actor,
        account=lost.account,
        strategy=lost.strategy,
        reason=f"Replaces #{lost.id} (its worker was lost): {lost.reason}"[:200],
        started=(
            f"#{lost.id}'s worker was lost part way; cancelling what is still open and closing what is "
            "still held in its scope, in a task."
        ),
    )
    return operation


def account_flatten_start(*, account, actor=None, reason: str) -> Operation:
    """Cancel one account's open orders and close its positions, in a task. The account's state is
    not changed: halt it too, or its strategies may enter again."""
    reason = (reason or "").strip() or "Account flattened"
    with transaction.atomic():
        operation = Operation.objects.create(
            kind=OperationKind.ACCOUNT_FLATTEN,
            actor=_actor_or_none(actor),
            account=account,
            reason=reason[:200],
            started=f"Cancelling {account.name}'s open orders and closing its positions in a task.",
        )
    return _queued(operation)


def strategy_stop_start(*, strategy, actor=None, reason: str) -> Operation:
    """Switch one strategy off at once; close only its positions, on every account, in a task."""
    reason = (reason or "").strip() or "Strategy stopped"
    actor = _actor_or_none(actor)
    with transaction.atomic():
        risk_services.strategy_trading_disable(strategy=strategy, actor=actor, reason=reason)
        operation = Operation.objects.create(
            kind=OperationKind.STRATEGY_STOP,
            actor=actor,
            strategy=strategy,
            reason=reason[:200],
            started=f"{strategy.name} switched off (no new entries); closing its positions in a task.",
        )
    return _queued(operation)


@dataclass
class SquareOffStart:
    """What beat's MIS square-off tick did: started an operation, or skipped and why."""

    skipped: str = ""
    operation: Operation | None = None


def intraday_square_off_start(*, now: datetime | None = None) -> SquareOffStart:
    """Beat's minute tick: in the MIS square-off window, with MIS positions or orders still open,
    start the square-off as an operation (at most one at a time) and return at once."""
    now = now or timezone.now()
    cutoff, outside = intraday_square_off_window(now=now)
    if cutoff is None:
        return SquareOffStart(skipped=outside)
    if not flatten_has_work(scope={"product": Product.MIS}):
        return SquareOffStart(skipped="nothing to square off")
    under_way = (
        Operation.objects.filter(
            kind=OperationKind.INTRADAY_SQUARE_OFF,
            state__in=(OperationState.QUEUED, OperationState.RUNNING),
            created_at__gte=now - OPERATION_STALE_AFTER,
        )
        .order_by("-id")
        .first()
    )
    if under_way is not None:
        return SquareOffStart(skipped=f"square-off #{under_way.id} is {under_way.state}", operation=under_way)
    operation = Operation.objects.create(
        kind=OperationKind.INTRADAY_SQUARE_OFF,
        reason=f"Intraday square-off of MIS positions at {cutoff:%H:%M} IST",
        started="Cancelling open MIS orders and closing MIS positions in a task.",
    )
    return SquareOffStart(operation=_queued(operation))


def daily_loss_flatten_start(*, account, reason: str) -> Operation:
    """A breached account that asks for it is flattened in a task; it was halted at once by the caller."""
    operation = Operation.objects.create(
        kind=OperationKind.DAILY_LOSS_FLATTEN,
        account=account,
        reason=reason[:200],
        started=f"{account.name} halted; cancelling its open orders and closing its positions in a task.",
    )
    return _queued(operation)


# What each kind of operation says on its exits (the tag's reason letter and the order's reason).
def _why(operation: Operation) -> tuple[str, str]:
    if operation.kind == OperationKind.ACCOUNT_FLATTEN:
        return REASON_ACCOUNT_FLATTEN, f"{operation.account.name} flattened: {operation.reason}"
    if operation.kind == OperationKind.STRATEGY_STOP:
        return REASON_STRATEGY_STOP, f"Strategy {operation.strategy.name} stopped: {operation.reason}"
    if operation.kind == OperationKind.INTRADAY_SQUARE_OFF:
        return REASON_INTRADAY, operation.reason
    if operation.kind == OperationKind.DAILY_LOSS_FLATTEN:
        return REASON_DAILY_LOSS, operation.reason
    return REASON_EMERGENCY, f"Emergency stop: {operation.reason}"


def _flatten(operation: Operation, report: FlattenReport) -> FlattenReport:
    """The operation's cancels and exits, in its scope (``Operation.scope``: the one rule,
    also read by the progress pages), then its line in the risk audit log."""
    reason_code, why = _why(operation)
    report.reason = why
    flatten(scope=operation.scope, reason_code=reason_code, reason=why, report=report)
    if operation.kind == OperationKind.INTRADAY_SQUARE_OFF:
        return report
    risk_services.risk_event_record(
        kind=RiskEventKind.SQUARE_OFF,
        account=operation.account,
        strategy=operation.strategy,
        actor=operation.actor,
        message=report.summary,
    )
    return report


# A run beats at least this often while it sends exits and cancels (each one is a sign of life),
# well inside OPERATION_STALL_SECONDS, without one write per order.
HEARTBEAT_EVERY = timedelta(seconds=5)


class _Heartbeat:
    """The run's sign of life on its row, for the operations sweep. Written only while the row is
    RUNNING: once the sweep has declared the run lost, a worker that comes back overwrites nothing."""

    def __init__(self, operation_id: int, beaten_at: datetime) -> None:
        self.operation_id = operation_id
        self.beaten_at = beaten_at

    def beat(self, **fields) -> None:
        now = timezone.now()
        Operation.objects.filter(pk=self.operation_id, state=OperationState.RUNNING).update(heartbeat_at=now, **fields)
        self.beaten_at = now

    def progress(self, listener: Callable[[str], None] | None) -> Callable[[str], None]:
        def heard(line: str) -> None:
            if timezone.now() - self.beaten_at >= HEARTBEAT_EVERY:
                self.beat()
            if listener is not None:
                listener(line)

        return heard


def _report_writer(heartbeat: _Heartbeat) -> Callable[[FlattenReport], None]:
    """Writes the report on the operation's row as each account finishes a step (with a heartbeat):
    a run that fails or is killed after that still shows what it did."""

    def write(report: FlattenReport) -> None:
        heartbeat.beat(report=report.as_record())

    return write


@dataclass
class OperationRun:
    operation: Operation
    report: FlattenReport | None = None  # None: another run had taken it (a duplicate message), or it failed


def operation_run(*, operation_id: int, progress: Callable[[str], None] | None = None) -> OperationRun:
    """Run an operation's cancels and exits once: a second run (a duplicate message) finds it taken.
    ``progress`` hears each cancel and exit as it is done. Each exit it makes and each order it
    cancels carries the operation's id, and its report is written as each account finishes a step
    (``_report_writer``), so a failed or killed run still shows what it did."""
    now = timezone.now()
    claimed = Operation.objects.filter(pk=operation_id, state=OperationState.QUEUED).update(
        state=OperationState.RUNNING, running_since=now, heartbeat_at=now
    )
    operation = Operation.objects.select_related("account", "strategy", "actor").get(pk=operation_id)
    if not claimed:
        return OperationRun(operation=operation)
    heartbeat = _Heartbeat(operation.id, now)
    report = FlattenReport(
        reason=operation.reason,
        operation_id=operation.id,
        progress=heartbeat.progress(progress),
        checkpoint=_report_writer(heartbeat),
    )
    try:
        _flatten(operation, report)
    except Exception as exc:
        logger.exception("operation %s failed", operation_id)
        failure = f"{type(exc).__name__}: {exc}"
        # What it did before it failed stays, with the failure under the account it was working on.
        report.errors.append(FlattenError(account_id=report.account_id, message=f"Failed: {failure}"))
        operation.state, operation.summary = OperationState.FAILED, f"Failed: {failure}"
        operation.report, report = report.as_record(), None
    else:
        operation.state, operation.summary = OperationState.DONE, report.summary
        operation.report = report.as_record()
    operation.finished_at = timezone.now()
    finished = Operation.objects.filter(pk=operation.id, state=OperationState.RUNNING).update(
        state=operation.state, summary=operation.summary, report=operation.report, finished_at=operation.finished_at
    )
    if not finished:
        # The sweep declared this run lost (silent past OPERATION_STALL_SECONDS) and replaced it: its
        # row keeps saying so; what this run did is on its orders.
        logger.warning("operation %s finished after it was declared lost: %s", operation.id, operation.summary)
        operation.refresh_from_db()
    return OperationRun(operation=operation, report=report)

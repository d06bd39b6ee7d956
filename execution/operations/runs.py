"""Operations: the emergency stop, an account flatten and a strategy stop, as tasks with a status.

What must take effect at once does so in the caller, in one short transaction: for the emergency
stop the kill switch trips, the engine stops and the strategy schedules are disabled; for a strategy
stop its kill switch goes off. The rest (cancel open orders, exit positions: broker calls, seconds to
minutes with many accounts) runs as a task through the one decision service
(``squareoff.flatten`` -> ``execution.orders.decision``), recorded in an ``Operation`` row the caller
can poll. If the task cannot be queued (Redis down), it runs in the caller instead: a stop is never
left undone for want of a queue.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from risk import services as risk_services
from risk.models import RiskEventKind

from ..engine.schedules import set_trading_schedules_enabled
from ..models import Operation, OperationKind, OperationState
from .squareoff import REASON_ACCOUNT_FLATTEN, REASON_EMERGENCY, REASON_STRATEGY_STOP, flatten

logger = logging.getLogger(__name__)


def _actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def default_reason(*, actor, origin: str) -> str:
    """Who pressed it and from where, when they gave no reason: the audit log still says."""
    who = f" by {actor}" if _actor_or_none(actor) else ""
    return f"Emergency stop{who} from {origin}"[:200]


def emergency_stop_start(*, actor=None, reason: str = "", origin: str) -> Operation:
    """Stop everything now; the flatten goes on in a task. Returns the operation to poll.

    ``origin`` says where it was pressed (the API and the caller's address, the dashboard, the
    command line); with no ``reason``, the reason says who and from where.
    """
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
                "position in a task."
            ),
        )
    operation_id = operation.id
    transaction.on_commit(lambda: _enqueue_or_run(operation_id=operation_id))
    return operation


def _enqueue_or_run(*, operation_id: int) -> None:
    from ..tasks import run_operation

    try:
        run_operation.delay(operation_id)
    except Exception:
        logger.exception("operation %s: could not be queued; running it here", operation_id)
        operation_run(operation_id=operation_id)


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
    operation_id = operation.id
    transaction.on_commit(lambda: _enqueue_or_run(operation_id=operation_id))
    return operation


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
    operation_id = operation.id
    transaction.on_commit(lambda: _enqueue_or_run(operation_id=operation_id))
    return operation


def _flatten(operation: Operation):
    if operation.kind == OperationKind.ACCOUNT_FLATTEN:
        account = operation.account
        scope, code, why = {"account_id": account.pk}, REASON_ACCOUNT_FLATTEN, f"{account.name} flattened"
        report = flatten(scope=scope, reason_code=code, reason=f"{why}: {operation.reason}")
        risk_services.risk_event_record(
            kind=RiskEventKind.SQUARE_OFF, account=account, actor=operation.actor, message=report.summary
        )
        return report
    if operation.kind == OperationKind.STRATEGY_STOP:
        strategy = operation.strategy
        why = f"Strategy {strategy.name} stopped: {operation.reason}"
        report = flatten(scope={"strategy_id": strategy.pk}, reason_code=REASON_STRATEGY_STOP, reason=why)
        risk_services.risk_event_record(
            kind=RiskEventKind.SQUARE_OFF, strategy=strategy, actor=operation.actor, message=report.summary
        )
        return report
    report = flatten(scope={}, reason_code=REASON_EMERGENCY, reason=f"Emergency stop: {operation.reason}")
    risk_services.risk_event_record(kind=RiskEventKind.SQUARE_OFF, actor=operation.actor, message=report.summary)
    return report


def operation_run(*, operation_id: int) -> Operation:
    """Run an operation's cancels and exits once: a second run (a duplicate message) finds it taken."""
    claimed = Operation.objects.filter(pk=operation_id, state=OperationState.QUEUED).update(
        state=OperationState.RUNNING, running_since=timezone.now()
    )
    operation = Operation.objects.select_related("account", "strategy", "actor").get(pk=operation_id)
    if not claimed:
        return operation
    try:
        report = _flatten(operation)
    except Exception as exc:
        logger.exception("operation %s failed", operation_id)
        operation.state, operation.summary = OperationState.FAILED, f"Failed: {type(exc).__name__}: {exc}"
    else:
        operation.state, operation.summary = OperationState.DONE, report.summary
        operation.report = {
            "cancelled": [o.id for o in report.cancelled],
            "not_cancelled": {str(k): v for k, v in report.not_cancelled.items()},
            "exit_orders": [o.id for o in report.exit_orders],
            "failed_exits": [o.id for o in report.failed_exits],
            "skipped": {str(k): v for k, v in report.skipped.items()},
            "errors": report.errors,
        }
    operation.finished_at = timezone.now()
    operation.save(update_fields=["state", "summary", "report", "finished_at"])
    return operation

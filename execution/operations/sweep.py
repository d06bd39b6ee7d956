"""The operations sweep: the database, not the broker, holds what must happen to an operation.

Beat runs it every few seconds (``execution.tasks.sweep_operations``), like the delivery sweep:

- An operation still QUEUED ``OPERATION_REQUEUE_SECONDS`` after it was created (or after its last
  nudge) has lost its message (Redis restarted without persistence, a worker killed after taking it
  and before claiming the row): its message is sent again. A duplicate is harmless, the first run
  claims the row (``runs.operation_run``). With the queue down it stays queued for the next sweep.
- An operation RUNNING whose heartbeat (``Operation.heartbeat_at``, written at the claim and as it
  reports) is older than ``OPERATION_STALL_SECONDS`` has lost its worker: it is marked FAILED, saying
  when it last reported, and a new operation of the same kind, scope and actor replaces it
  (``runs.operation_replace``; a flatten is safe to run again). Not the MIS square-off: beat's
  minute tick starts the next one itself.
- An operation with a fresh heartbeat is never touched: it still runs, and is never sent twice.
- An operation from an earlier day (IST) is never started by the sweep: it is marked FAILED, for
  an operator to start again if still wanted. Yesterday's lost flatten run at this morning's open
  would surprise whoever pressed it, and the book has moved on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Broker
from strategies.calendar import to_market_time

from ..models import Operation, OperationKind, OperationState, Order, OrderStatus
from ..orders.state import order_transition
from .runs import operation_replace, operation_send
from .squareoff import FlattenError

logger = logging.getLogger(__name__)


@dataclass
class OperationsSweep:
    requeued: list[int] = field(default_factory=list)  # queued operations sent again
    not_sent: list[int] = field(default_factory=list)  # queued operations the queue would not take
    stalled: list[int] = field(default_factory=list)  # running operations whose worker was lost: failed
    replaced: dict[int, int] = field(default_factory=dict)  # failed operation -> its replacement
    requeued_replacements: list[int] = field(default_factory=list)  # replacements whose message was sent
    abandoned: list[int] = field(default_factory=list)  # from an earlier day: failed, not run


@dataclass
class _Failed:
    replacement: int | None  # None: not replaced (the MIS square-off)


def operations_sweep(*, now: datetime | None = None) -> OperationsSweep:
    """Send again the operations whose message was lost; fail and replace those whose worker died."""
    now = now or timezone.now()
    sweep = OperationsSweep()
    today = to_market_time(now).replace(hour=0, minute=0, second=0, microsecond=0)
    stall_cutoff = now - timedelta(seconds=settings.OPERATION_STALL_SECONDS)
    grace_cutoff = now - timedelta(seconds=settings.OPERATION_REQUEUE_SECONDS)
    stalled = (
        Operation.objects.filter(state=OperationState.RUNNING)
        .annotate(last_sign=Coalesce("heartbeat_at", "running_since", "created_at"))
        .filter(last_sign__lt=stall_cutoff)
    )
    lost = Operation.objects.filter(state=OperationState.QUEUED, created_at__lte=grace_cutoff).filter(
        Q(nudged_at=None) | Q(nudged_at__lte=grace_cutoff)
    )
    earlier_day = [
        *stalled.filter(created_at__lt=today).values_list("id", flat=True),
        *lost.filter(created_at__lt=today).values_list("id", flat=True),
    ]
    for operation_id in sorted(earlier_day):
        if _abandon(operation_id=operation_id, stall_cutoff=stall_cutoff, now=now):
            sweep.abandoned.append(operation_id)
    for operation_id in stalled.filter(created_at__gte=today).order_by("id").values_list("id", flat=True):
        failed = _fail_stalled(operation_id=operation_id, cutoff=stall_cutoff, now=now)
        if failed is None:
            continue  # it beat or finished meanwhile, or another sweep has it
        sweep.stalled.append(operation_id)
        if failed.replacement is not None:
            sweep.replaced[operation_id] = failed.replacement
            # Sent once its row is committed; if the queue is down it waits, QUEUED, for a later sweep.
            if operation_send(operation_id=failed.replacement):
                sweep.requeued_replacements.append(failed.replacement)
    for operation_id in lost.filter(created_at__gte=today).order_by("id").values_list("id", flat=True):
        if operation_send(operation_id=operation_id):
            Operation.objects.filter(pk=operation_id, state=OperationState.QUEUED).update(nudged_at=now)
            sweep.requeued.append(operation_id)
        else:
            sweep.not_sent.append(operation_id)  # logged; the next sweep tries again
    if sweep.requeued or sweep.stalled or sweep.abandoned:
        logger.warning(
            "operations sweep: sent again %s, worker lost %s (replaced %s), from an earlier day %s",
            sweep.requeued,
            sweep.stalled,
            sweep.replaced,
            sweep.abandoned,
        )
    return sweep


def _ist(moment: datetime | None) -> str:
    return f"{to_market_time(moment):%Y-%m-%d %H:%M:%S} IST" if moment else "never"


@transaction.atomic
def _fail_stalled(*, operation_id: int, cutoff: datetime, now: datetime) -> _Failed | None:
    """Mark a silent run FAILED and create its replacement, in one transaction (two sweeps never
    both replace it). None when the row moved on meanwhile (it beat, or finished, or another sweep
    holds it)."""
    operation = (
        Operation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("account", "strategy", "actor")
        .filter(pk=operation_id, state=OperationState.RUNNING)
        .first()
    )
    if operation is None:
        return None
    last_sign = operation.heartbeat_at or operation.running_since or operation.created_at
    if last_sign >= cutoff:
        return None
    silent = int((now - last_sign).total_seconds())
    lost = (
        f"Failed: the worker running it was lost (it last reported at {_ist(last_sign)}, {silent} s before "
        f"the sweep; OPERATION_STALL_SECONDS={settings.OPERATION_STALL_SECONDS})"
    )
    _paper_claims_release(operation_id=operation.id)
    replacement = None
    if operation.kind == OperationKind.INTRADAY_SQUARE_OFF:
        summary = f"{lost}; beat's minute tick starts the next square-off."
    else:
        replacement = operation_replace(lost=operation)
        summary = f"{lost}; replaced by #{replacement.id}, which flattens what is left."
    report = dict(operation.report or {})
    report["errors"] = [*report.get("errors", []), FlattenError(account_id=None, message=summary).as_record()]
    Operation.objects.filter(pk=operation.id).update(
        state=OperationState.FAILED, summary=summary, report=report, finished_at=now
    )
    logger.error("operation %s: %s", operation.id, summary)
    return _Failed(replacement=replacement.id if replacement else None)


def _paper_claims_release(*, operation_id: int) -> None:
    """The lost run's paper orders that it claimed and never recorded an answer for were never placed:
    the paper broker fills in the worker's memory and nothing exists until the answer is recorded. Left
    PENDING they count as exits in flight, the replacement skips their positions, and those positions
    stay open for good (seen: a worker killed between the claim and the answer). A Kite order in that
    state may have reached Kite: reconciliation resolves it by its tag."""
    unanswered = Order.objects.filter(
        operation_id=operation_id,
        status=OrderStatus.PENDING,
        placed_at__isnull=False,
        broker_order_id="",
        account__broker=Broker.PAPER,
    )
    for order in unanswered:
        order_transition(
            order=order,
            status=OrderStatus.CANCELLED,
            message="Never placed: the worker placing this paper order was lost before its answer was recorded.",
        )


@transaction.atomic
def _abandon(*, operation_id: int, stall_cutoff: datetime, now: datetime) -> bool:
    operation = (
        Operation.objects.select_for_update(skip_locked=True)
        .filter(pk=operation_id, state__in=(OperationState.QUEUED, OperationState.RUNNING))
        .first()
    )
    if operation is None:
        return False
    last_sign = operation.heartbeat_at or operation.running_since or operation.created_at
    if operation.state == OperationState.RUNNING and last_sign >= stall_cutoff:
        return False  # it still runs: never touched
    if operation.state == OperationState.QUEUED:
        what = "never run: its message was lost"
    else:
        what = f"its worker was lost (it last reported at {_ist(last_sign)})"
    summary = (
        f"Failed: {what}, and it was started on an earlier day ({_ist(operation.created_at)}); the sweep "
        "does not carry an operation into another day: start it again if it is still wanted."
    )
    report = dict(operation.report or {})
    report["errors"] = [*report.get("errors", []), FlattenError(account_id=None, message=summary).as_record()]
    Operation.objects.filter(pk=operation.id).update(
        state=OperationState.FAILED, summary=summary, report=report, finished_at=now
    )
    logger.error("operation %s: %s", operation.id, summary)
    return True

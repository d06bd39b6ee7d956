"""Reads for operations (emergency stops, flattens, strategy stops, MIS square-offs, daily-loss
flattens): the list, each one's progress, and one operation account by account.

A finished operation's report names its orders and positions by id (``execution.operations.runs``):
they are read back here, so an exit's status is today's (sent, then filled: that position is flat).
An operation not done yet (queued, running, or failed part way) has no report: its progress is
counted from the square-off exits made in its scope since it began. The list reads a page of
operations and their orders in a fixed number of queries, however many operations there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from strategies.models import Product

from ..models import (
    FINAL_STATUSES,
    Operation,
    OperationKind,
    OperationState,
    Order,
    OrderLeg,
    OrderStatus,
    Position,
)

__all__ = [
    "OperationDetail",
    "OperationProgress",
    "AccountOutcome",
    "operation_detail",
    "operation_order_ids",
    "operations_filtered",
    "operations_progress",
]

# Every square-off exit's tag starts so (``execution.tags.position_exit_tag``); a signal's orders never do.
SQUARE_OFF_TAG_PREFIX = "Q"
REFUSED = (OrderStatus.BLOCKED, OrderStatus.REJECTED)
# ``squareoff.positions_close`` names the account in each error it isolates: "<instrument> on account <id>: ...".
_ERROR_ACCOUNT = re.compile(r" on account (\d+): ")


def operations_filtered(*, kind: str = "", state: str = "") -> QuerySet[Operation]:
    """Operations newest first, with who started it and its scope."""
    qs = Operation.objects.select_related("actor", "account", "strategy").order_by("-created_at", "-id")
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state)
    return qs


def operation_scope(operation: Operation) -> Q:
    """What the operation flattens: one account, one strategy, the MIS positions, or everything.

    The same scopes as ``runs._flatten`` gives ``squareoff.flatten``, written as a filter on orders
    and positions (both have account, strategy and product).
    """
    if operation.kind == OperationKind.INTRADAY_SQUARE_OFF:
        return Q(product=Product.MIS)
    if operation.account_id:
        return Q(account_id=operation.account_id)
    if operation.strategy_id:
        return Q(strategy_id=operation.strategy_id)
    return Q()


def _has_report(operation: Operation) -> bool:
    return operation.state == OperationState.DONE and bool(operation.report)


def _report_order_ids(report: dict) -> list[int]:
    ids = [*report.get("cancelled", []), *report.get("exit_orders", [])]
    ids += [int(order_id) for order_id in report.get("not_cancelled", {})]
    return ids


def _window(operation: Operation, now: datetime) -> tuple[datetime, datetime]:
    return operation.running_since or operation.created_at, operation.finished_at or now


def _exits_so_far(operations: list[Operation], now: datetime) -> dict[int, list[Order]]:
    """The square-off exits each operation without a report made so far: in its scope, since it
    began (until it ended). One query for all of them."""
    pending = [op for op in operations if not _has_report(op) and op.running_since is not None]
    if not pending:
        return {}
    earliest = min(_window(op, now)[0] for op in pending)
    condition = Q()
    for op in pending:
        since, until = _window(op, now)
        condition |= operation_scope(op) & Q(created_at__gte=since, created_at__lte=until)
    exits = list(
        Order.objects.filter(condition, created_at__gte=earliest)
        .filter(leg=OrderLeg.EXIT, tag__startswith=SQUARE_OFF_TAG_PREFIX)
        .select_related("account", "strategy", "instrument", "risk_decision")
        .order_by("id")
    )
    found: dict[int, list[Order]] = {}
    for op in pending:
        since, until = _window(op, now)
        found[op.id] = [o for o in exits if since <= o.created_at <= until and _in_scope(o, op)]
    return found


def _in_scope(order: Order, operation: Operation) -> bool:
    # operation_scope, for orders already read.
    if operation.kind == OperationKind.INTRADAY_SQUARE_OFF:
        return order.product == Product.MIS
    if operation.account_id:
        return order.account_id == operation.account_id
    if operation.strategy_id:
        return order.strategy_id == operation.strategy_id
    return True


@dataclass
class OperationProgress:
    """What an operation has done: from its report once done, else counted so far (``so_far``)."""

    so_far: bool = False
    cancelled: int = 0
    not_cancelled: int = 0
    exits_sent: int = 0
    exits_filled: int = 0  # those positions are flat
    exits_working: int = 0  # sent, not filled yet
    exits_refused: int = 0  # refused by the checks or the broker: those positions are still open
    skipped: int = 0  # positions with an exit already in flight
    errors: int = 0

    @property
    def settled(self) -> bool:
        """No exit is still working: nothing more will change by itself."""
        return self.exits_working == 0


def _count_exits(progress: OperationProgress, exits: list[Order]) -> None:
    progress.exits_sent = len(exits)
    progress.exits_filled = sum(1 for o in exits if o.status == OrderStatus.COMPLETE)
    progress.exits_refused = sum(1 for o in exits if o.status in REFUSED)
    progress.exits_working = sum(1 for o in exits if o.status not in FINAL_STATUSES)


def operations_progress(operations: list[Operation], *, now: datetime | None = None) -> dict[int, OperationProgress]:
    """Each operation's progress by id, in at most two queries whatever the number of operations."""
    now = now or timezone.now()
    wanted = [i for op in operations if _has_report(op) for i in op.report.get("exit_orders", [])]
    statuses = dict(Order.objects.filter(pk__in=wanted).values_list("id", "status")) if wanted else {}
    so_far = _exits_so_far(operations, now)
    progress: dict[int, OperationProgress] = {}
    for op in operations:
        if _has_report(op):
            report = op.report
            row = OperationProgress(
                cancelled=len(report.get("cancelled", [])),
                not_cancelled=len(report.get("not_cancelled", {})),
                skipped=len(report.get("skipped", {})),
                errors=len(report.get("errors", [])),
            )
            exits = [_StatusOnly(statuses.get(i, "")) for i in report.get("exit_orders", [])]
            _count_exits(row, exits)
        else:
            row = OperationProgress(so_far=True)
            _count_exits(row, so_far.get(op.id, []))
        progress[op.id] = row
    return progress


@dataclass
class _StatusOnly:
    status: str


@dataclass
class AccountOutcome:
    """What one operation did on one account."""

    account: Account
    exits: list[Order] = field(default_factory=list)
    cancelled: list[Order] = field(default_factory=list)
    not_cancelled: list[tuple[Order, str]] = field(default_factory=list)
    skipped: list[tuple[Position, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    open_positions: int = 0  # open in the operation's scope now

    @property
    def orders(self) -> list[Order]:
        return sorted([*self.cancelled, *(o for o, _ in self.not_cancelled), *self.exits], key=lambda o: o.id)


@dataclass
class OperationDetail:
    operation: Operation
    progress: OperationProgress
    accounts: list[AccountOutcome]
    errors: list[str]  # not about one account
    open_positions: int  # open in its scope now, all accounts

    @property
    def took_seconds(self) -> int | None:
        """How long its task ran, once finished."""
        op = self.operation
        if op.finished_at is None:
            return None
        return round((op.finished_at - (op.running_since or op.created_at)).total_seconds())

    @property
    def live(self) -> bool:
        """Still changing: queued, running, or exits sent and not filled yet."""
        return self.operation.state in (OperationState.QUEUED, OperationState.RUNNING) or not self.progress.settled


def operation_detail(*, operation_id: int, now: datetime | None = None) -> OperationDetail:
    """One operation, account by account. Raises ``Operation.DoesNotExist``."""
    now = now or timezone.now()
    operation = Operation.objects.select_related("actor", "account", "strategy").get(pk=operation_id)
    progress = operations_progress([operation], now=now)[operation.id]
    by_account: dict[int, AccountOutcome] = {}

    def outcome(account: Account) -> AccountOutcome:
        return by_account.setdefault(account.id, AccountOutcome(account=account))

    errors: list[str] = []
    if _has_report(operation):
        report = operation.report
        orders = Order.objects.select_related("account", "strategy", "instrument", "risk_decision").in_bulk(
            _report_order_ids(report)
        )
        for order_id in report.get("exit_orders", []):
            if order := orders.get(order_id):
                outcome(order.account).exits.append(order)
        for order_id in report.get("cancelled", []):
            if order := orders.get(order_id):
                outcome(order.account).cancelled.append(order)
        for order_id, why in report.get("not_cancelled", {}).items():
            if order := orders.get(int(order_id)):
                outcome(order.account).not_cancelled.append((order, why))
        skipped = report.get("skipped", {})
        if skipped:
            positions = Position.objects.select_related("account", "instrument").in_bulk([int(i) for i in skipped])
            for position_id, why in skipped.items():
                if position := positions.get(int(position_id)):
                    outcome(position.account).skipped.append((position, why))
        errors = _errors_by_account(report.get("errors", []), by_account, outcome)
    else:
        for order in _exits_so_far([operation], now).get(operation.id, []):
            outcome(order.account).exits.append(order)
    open_now = dict(
        Position.objects.filter(operation_scope(operation))
        .exclude(quantity=0)
        .values("account_id")
        .annotate(n=Count("id"))
        .values_list("account_id", "n")
    )
    missing = [i for i in open_now if i not in by_account]
    for account in Account.objects.filter(pk__in=missing) if missing else []:
        outcome(account)
    for account_id, row in by_account.items():
        row.open_positions = open_now.get(account_id, 0)
    return OperationDetail(
        operation=operation,
        progress=progress,
        accounts=sorted(by_account.values(), key=lambda r: r.account.name),
        errors=errors,
        open_positions=sum(open_now.values()),
    )


def _errors_by_account(errors: list[str], by_account: dict, outcome) -> list[str]:
    """Each error under its account where it names one; the rest returned."""
    named = {int(m.group(1)) for m in (_ERROR_ACCOUNT.search(e) for e in errors) if m}
    accounts = Account.objects.in_bulk([i for i in named if i not in by_account]) if named else {}
    general = []
    for error in errors:
        match = _ERROR_ACCOUNT.search(error)
        account_id = int(match.group(1)) if match else None
        if account_id in by_account:
            by_account[account_id].errors.append(error)
        elif account_id in accounts:
            outcome(accounts[account_id]).errors.append(error)
        else:
            general.append(error)
    return general


def operation_order_ids(*, operation_id: int) -> list[int]:
    """The orders an operation cancelled, could not cancel, or sent (its report's, or its exits so
    far); none for an operation that does not exist."""
    try:
        detail = operation_detail(operation_id=operation_id)
    except Operation.DoesNotExist:
        return []
    return sorted(o.id for row in detail.accounts for o in row.orders)

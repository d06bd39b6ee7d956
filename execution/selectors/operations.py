"""Reads for operations (emergency stops, flattens, strategy stops, MIS square-offs, daily-loss
flattens): the list, each one's progress, and one operation account by account.

What an operation did is read from two records it writes as it goes (``execution.operations``):
its orders carry its id (``Order.operation``: each exit it sends, each order it cancels, stamped as
it happens), and its report, written as each account finishes a step, says why the rest was not
done (orders not cancelled, positions skipped, errors with their account) and which accounts are
done. So a running, failed or killed operation shows exactly what it did, and two operations over
the same accounts never count each other's orders. An exit's status is read now (sent, then
filled: that position is flat). Operations recorded before orders carried their id are read from
their report's order ids. The list reads a page of operations and their orders in a fixed number
of queries, however many operations there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from accounts.models import Account

from ..models import FINAL_STATUSES, Operation, OperationState, Order, OrderStatus, Position

__all__ = [
    "OperationDetail",
    "OperationProgress",
    "AccountOutcome",
    "operation_detail",
    "operation_order_ids",
    "operations_filtered",
    "operations_progress",
]

# Every square-off exit's tag starts so (``execution.tags.position_exit_tag``); a signal's orders never
# do. An operation's own orders that are not its exits are the orders it cancelled.
SQUARE_OFF_TAG_PREFIX = "Q"
REFUSED = (OrderStatus.BLOCKED, OrderStatus.REJECTED)


def operations_filtered(*, kind: str = "", state: str = "") -> QuerySet[Operation]:
    """Operations newest first, with who started it and its scope."""
    qs = Operation.objects.select_related("actor", "account", "strategy").order_by("-created_at", "-id")
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state)
    return qs


def _reported_ids(operation: Operation) -> tuple[list[int], list[int]]:
    """Exits and cancels its report names: an operation recorded before orders carried its id."""
    report = operation.report or {}
    return list(report.get("exit_orders", [])), list(report.get("cancelled", []))


@dataclass
class _Orders:
    """One operation's orders, split: the exits it sent and the orders it cancelled."""

    exits: list = field(default_factory=list)
    cancelled: list = field(default_factory=list)


def _orders_of(operations: list[Operation], query) -> dict[int, _Orders]:
    """Each operation's exits and cancels, from one query over all of them (``query`` reads the
    orders by a filter: whole rows for a page of detail, a few columns for the list)."""
    if not operations:
        return {}
    reported = {op.id: _reported_ids(op) for op in operations}
    legacy = [i for exits, cancelled in reported.values() for i in (*exits, *cancelled)]
    condition = Q(operation_id__in=[op.id for op in operations])
    if legacy:
        condition |= Q(pk__in=legacy)
    rows = query(condition)
    by_id = {_get(o, "id"): o for o in rows}
    found = {op.id: _Orders() for op in operations}
    for order in rows:
        operation_id = _get(order, "operation_id")
        if operation_id in found:
            own = found[operation_id]
            (own.exits if _get(order, "tag").startswith(SQUARE_OFF_TAG_PREFIX) else own.cancelled).append(order)
    for op in operations:
        exits, cancelled = reported[op.id]
        own = found[op.id]
        seen = {_get(o, "id") for o in (*own.exits, *own.cancelled)}
        own.exits += [by_id[i] for i in exits if i in by_id and i not in seen]
        own.cancelled += [by_id[i] for i in cancelled if i in by_id and i not in seen]
        own.exits.sort(key=lambda o: _get(o, "id"))
        own.cancelled.sort(key=lambda o: _get(o, "id"))
    return found


def _get(order, name: str):
    return order[name] if isinstance(order, dict) else getattr(order, name)


@dataclass
class OperationProgress:
    """What an operation has done so far (``so_far``: it is queued or running) or in all."""

    so_far: bool = False
    cancelled: int = 0
    not_cancelled: int = 0
    exits_sent: int = 0
    exits_filled: int = 0  # those positions are flat
    exits_working: int = 0  # sent, not filled yet
    exits_refused: int = 0  # refused by the checks or the broker: those positions are still open
    skipped: int = 0  # positions with an exit already in flight
    errors: int = 0
    accounts_done: int = 0  # accounts whose cancels and exits are all done

    @property
    def settled(self) -> bool:
        """No exit is still working: nothing more will change by itself."""
        return self.exits_working == 0


def _progress(operation: Operation, own: _Orders) -> OperationProgress:
    report = operation.report or {}
    statuses = [_get(o, "status") for o in own.exits]
    return OperationProgress(
        so_far=operation.state in (OperationState.QUEUED, OperationState.RUNNING),
        cancelled=len(own.cancelled),
        not_cancelled=len(report.get("not_cancelled", {})),
        exits_sent=len(statuses),
        exits_filled=sum(1 for s in statuses if s == OrderStatus.COMPLETE),
        exits_working=sum(1 for s in statuses if s not in FINAL_STATUSES),
        exits_refused=sum(1 for s in statuses if s in REFUSED),
        skipped=len(report.get("skipped", {})),
        errors=len(report.get("errors", [])),
        accounts_done=len(report.get("accounts_done", [])),
    )


def operations_progress(operations: list[Operation]) -> dict[int, OperationProgress]:
    """Each operation's progress by id, in one query whatever the number of operations."""

    def query(condition):
        return list(Order.objects.filter(condition).values("id", "operation_id", "tag", "status"))

    orders = _orders_of(operations, query)
    return {op.id: _progress(op, orders[op.id]) for op in operations}


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
    done: bool = False  # its cancels and exits are all done (the report says so)

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


_ORDER_RELATED = ("account", "strategy", "instrument", "risk_decision")


def operation_detail(*, operation_id: int) -> OperationDetail:
    """One operation, account by account. Raises ``Operation.DoesNotExist``."""
    operation = Operation.objects.select_related("actor", "account", "strategy").get(pk=operation_id)
    report = operation.report or {}
    own = _orders_of(
        [operation], lambda condition: list(Order.objects.filter(condition).select_related(*_ORDER_RELATED))
    )[operation.id]
    by_account: dict[int, AccountOutcome] = {}

    def outcome(account: Account) -> AccountOutcome:
        return by_account.setdefault(account.id, AccountOutcome(account=account))

    for order in own.exits:
        outcome(order.account).exits.append(order)
    for order in own.cancelled:
        outcome(order.account).cancelled.append(order)
    not_cancelled = report.get("not_cancelled", {})
    if not_cancelled:
        orders = Order.objects.select_related(*_ORDER_RELATED).in_bulk([int(i) for i in not_cancelled])
        for order_id, why in not_cancelled.items():
            if order := orders.get(int(order_id)):
                outcome(order.account).not_cancelled.append((order, why))
    skipped = report.get("skipped", {})
    if skipped:
        positions = Position.objects.select_related("account", "instrument").in_bulk([int(i) for i in skipped])
        for position_id, why in skipped.items():
            if position := positions.get(int(position_id)):
                outcome(position.account).skipped.append((position, why))
    errors = [(e.get("account_id"), e.get("message", "")) for e in map(_error_record, report.get("errors", []))]
    done = set(report.get("accounts_done", []))
    open_now = dict(
        Position.objects.filter(**operation.scope)
        .exclude(quantity=0)
        .values("account_id")
        .annotate(n=Count("id"))
        .values_list("account_id", "n")
    )
    missing = {i for i in (*open_now, *done, *(a for a, _ in errors if a is not None)) if i not in by_account}
    for account in Account.objects.filter(pk__in=missing) if missing else []:
        outcome(account)
    general = []
    for account_id, message in errors:
        if account_id in by_account:
            by_account[account_id].errors.append(message)
        else:
            general.append(message)
    for account_id, row in by_account.items():
        row.open_positions = open_now.get(account_id, 0)
        row.done = account_id in done
    return OperationDetail(
        operation=operation,
        progress=_progress(operation, own),
        accounts=sorted(by_account.values(), key=lambda r: r.account.name),
        errors=general,
        open_positions=sum(open_now.values()),
    )


def _error_record(error) -> dict:
    # An error written as text only (before errors carried their account) concerns no one account.
    return error if isinstance(error, dict) else {"account_id": None, "message": str(error)}


def operation_order_ids(*, operation_id: int) -> list[int]:
    """The orders an operation cancelled, could not cancel, or sent; none for an operation that
    does not exist."""
    try:
        detail = operation_detail(operation_id=operation_id)
    except Operation.DoesNotExist:
        return []
    return sorted(o.id for row in detail.accounts for o in row.orders)

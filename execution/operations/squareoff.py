"""Cancelling open orders and closing positions: the one way the system flattens anything.

Emergency stop, strategy stop, account flatten, the daily-loss auto-flatten and the intraday
(MIS) square-off all call ``flatten`` with a different scope, so they behave alike: open orders
are cancelled first (so none fills behind the exit), then every open position in the scope gets
a MARKET exit that passes the sanity checks only (``risk.checks``: exits skip entry limits), is
recorded with its decision like any order, and is placed through ``place_order``.

It works account by account within each step (cancels, then exits) and, run as an operation,
stamps every exit it makes and every order it cancels with the operation (``Order.operation``)
and hands its report to ``checkpoint`` as each account finishes a step, so a run that fails or is
killed part way leaves an exact record of what it did (``execution.operations.runs``).

Running it twice is harmless: exits are created under the account lock, a position with an exit
still in flight gets no second one, and each exit's tag is derived from the position, the day,
the reason and the attempt (``execution.tags.position_exit_tag``), so no two are ever the same
order. A later run retries only what is still open after a refused or cancelled exit.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from risk.checks import KITE_MAX_ORDERS_PER_SECOND
from strategies.calendar import to_market_time

from ..brokers import BrokerError, BrokerRejected, BrokerUnavailable, RateLimited, SessionExpired, broker_for
from ..models import Order, OrderLeg, OrderStatus, OrderType, Position
from ..orders.book import account_book
from ..orders.decision import position_exit_decide
from ..orders.intraday import square_off_cutoff
from ..orders.placement import place_order
from ..orders.state import order_transition

logger = logging.getLogger(__name__)

# One letter in the exit tag: why the system closed the position.
REASON_EMERGENCY = "E"
REASON_STRATEGY_STOP = "S"
REASON_ACCOUNT_FLATTEN = "F"
REASON_DAILY_LOSS = "D"
REASON_INTRADAY = "M"

# Cancels are safe to repeat, placements are not: only cancels are retried.
CANCEL_ATTEMPTS = 3
CANCEL_BACKOFF_SECONDS = 0.25
# The MIS square-off keeps retrying what is still open for this long after its time.
INTRADAY_SQUARE_OFF_WINDOW = timedelta(minutes=15)

CANCELLABLE = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.UNKNOWN)


@dataclass
class FlattenError:
    """A failure, with the account it concerns (None: not one account's)."""

    account_id: int | None
    message: str

    def as_record(self) -> dict:
        return {"account_id": self.account_id, "message": self.message}


@dataclass
class FlattenReport:
    """What a flatten did. Exit orders are reloaded after placement: their status tells the rest.

    ``operation_id``: the operation running it, stamped on its exits and cancels. ``checkpoint``
    hears the report each time an account finishes a step, to make it durable."""

    reason: str
    cancelled: list[Order] = field(default_factory=list)
    not_cancelled: dict[int, str] = field(default_factory=dict)  # order id -> why it is still open
    exit_orders: list[Order] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # position id -> why it got no exit now
    errors: list[FlattenError] = field(default_factory=list)  # failures isolated so the other accounts went on
    accounts_done: list[int] = field(default_factory=list)  # accounts whose cancels and exits are all done
    account_id: int | None = None  # the account being worked on now
    accounts_cancelling: set[int] = field(default_factory=set)  # accounts with orders to cancel
    operation_id: int | None = None
    progress: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    checkpoint: Callable[[FlattenReport], None] | None = field(default=None, repr=False, compare=False)

    def note(self, line: str) -> None:
        """Tell whoever waits (the emergency-stop command) what was just done."""
        if self.progress is not None:
            self.progress(line)

    def step_done(self) -> None:
        """An account finished a step: whoever keeps the record writes it now."""
        if self.checkpoint is not None:
            self.checkpoint(self)

    def as_record(self) -> dict:
        """The report as the operation stores it (ids, and why for what was not done)."""
        return {
            "cancelled": [o.id for o in self.cancelled],
            "not_cancelled": {str(k): v for k, v in self.not_cancelled.items()},
            "exit_orders": [o.id for o in self.exit_orders],
            "failed_exits": [o.id for o in self.failed_exits],
            "skipped": {str(k): v for k, v in self.skipped.items()},
            "errors": [e.as_record() for e in self.errors],
            "accounts_done": list(self.accounts_done),
        }

    @property
    def failed_exits(self) -> list[Order]:
        """Exits refused by the checks or the broker: those positions are still open."""
        return [o for o in self.exit_orders if o.status in (OrderStatus.BLOCKED, OrderStatus.REJECTED)]

    @property
    def summary(self) -> str:
        parts = [
            f"{len(self.cancelled)} open order(s) cancelled",
            f"{len(self.exit_orders)} exit order(s) sent",
        ]
        if self.not_cancelled:
            parts.append(f"{len(self.not_cancelled)} order(s) could not be cancelled")
        if self.failed_exits:
            parts.append(f"{len(self.failed_exits)} exit(s) refused, those positions are still open")
        if self.skipped:
            parts.append(f"{len(self.skipped)} position(s) skipped (an exit already in flight)")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s): " + "; ".join(e.message for e in self.errors))
        return f"{self.reason}: " + ", ".join(parts) + "."


def flatten(
    *,
    scope: dict,
    reason_code: str,
    reason: str,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    report: FlattenReport | None = None,
) -> FlattenReport:
    """Cancel the open orders and close the open positions matching ``scope``.

    ``scope`` filters both orders and positions: ``{}`` (everything), ``{"account_id": 1}``,
    ``{"strategy_id": 2}``, ``{"product": "MIS"}`` (an operation's: ``Operation.scope``).
    Calls brokers: never inside a transaction; runs in an operation's task
    (``execution.operations.runs``), which passes its ``report`` (to stamp and checkpoint);
    ``progress`` hears each step.
    """
    report = report or FlattenReport(reason=reason, progress=progress)
    orders_cancel_open(scope=scope, reason=reason, report=report)
    positions_close(scope=scope, reason_code=reason_code, reason=reason, now=now, report=report)
    report.account_id = None
    return report


def flatten_has_work(*, scope: dict) -> bool:
    """Whether ``flatten`` would find anything in ``scope``: an open position or an order to cancel."""
    return Position.objects.filter(**scope).exclude(quantity=0).exists() or _cancellable(scope).exists()


# --- cancelling ---------------------------------------------------------------------------------


def _cancellable(scope: dict):
    # A MARKET exit already sent is what a square-off would send: left to fill, not churned.
    return Order.objects.filter(**scope, status__in=CANCELLABLE).exclude(
        Q(leg=OrderLeg.EXIT, order_type=OrderType.MARKET) & ~Q(placed_at=None)
    )


def orders_cancel_open(*, scope: dict, reason: str, report: FlattenReport) -> None:
    """Cancel every order in ``scope`` that may still fill, except MARKET exits already sent.

    An order not yet sent is cancelled by claiming it the way ``place_order`` does, so a worker
    about to send it finds it taken. A sent one is cancelled at its broker (retrying only on
    transient errors); one whose broker id is unknown is left to reconciliation by tag.
    """
    brokers = {}
    orders = _cancellable(scope).select_related("account").order_by("account_id", "id")
    for order in orders:
        if report.account_id != order.account_id:
            if report.account_id is not None:
                report.step_done()
            report.account_id = order.account_id
            report.accounts_cancelling.add(order.account_id)
        if order.status == OrderStatus.PENDING and order.placed_at is None:
            claimed = Order.objects.filter(pk=order.pk, status=OrderStatus.PENDING, placed_at__isnull=True).update(
                placed_at=timezone.now()
            )
            order.refresh_from_db()
            if claimed:
                message = f"Cancelled before it was sent: {reason}"
                order_transition(order=order, status=OrderStatus.CANCELLED, message=message)
                _stamp_cancelled(order=order, report=report)
                report.cancelled.append(order)
                report.note(f"cancelled {order.tag} before it was sent")
                continue
        if order.is_final:
            continue
        if not order.broker_order_id:
            report.not_cancelled[order.id] = (
                f"{order.tag}: being sent or its outcome unknown; reconciliation resolves it by tag"
            )
            continue
        try:
            if order.account_id not in brokers:
                brokers[order.account_id] = broker_for(order.account)
            problem = _cancel_at_broker(broker=brokers[order.account_id], order=order)
        except Exception as exc:
            # One account's broken adapter must not keep the others' orders open.
            logger.exception("cancel of %s failed", order.tag)
            problem = f"cancel failed ({type(exc).__name__}: {exc})"
        if problem:
            report.not_cancelled[order.id] = f"{order.tag}: {problem}"
            report.note(f"order #{order.id} not cancelled: {report.not_cancelled[order.id]}")
            continue
        order_transition(order=order, status=OrderStatus.CANCELLED, message=f"Cancelled: {reason}")
        _stamp_cancelled(order=order, report=report)
        report.cancelled.append(order)
        report.note(f"cancelled {order.tag} at the broker")
    if report.account_id is not None:
        report.step_done()
    report.account_id = None  # a failure from here on is not that account's


def _stamp_cancelled(*, order: Order, report: FlattenReport) -> None:
    """Record on the order which operation cancelled it, once it is cancelled: an order another
    operation already holds (its own exit) keeps its operation."""
    if report.operation_id is not None:
        Order.objects.filter(pk=order.pk, status=OrderStatus.CANCELLED, operation__isnull=True).update(
            operation_id=report.operation_id
        )


def _cancel_at_broker(*, broker, order: Order) -> str:
    """Ask the broker to cancel; returns '' on success or why it did not happen."""
    for attempt in range(CANCEL_ATTEMPTS):
        try:
            broker.cancel_order(order.broker_order_id)
            return ""
        except (BrokerUnavailable, RateLimited) as exc:
            if attempt + 1 == CANCEL_ATTEMPTS:
                return f"the broker did not answer ({exc})"
            time_module.sleep(CANCEL_BACKOFF_SECONDS * 2**attempt)
        except SessionExpired as exc:
            return f"the account's Kite session is gone ({exc})"
        except BrokerRejected as exc:
            return f"the broker refused the cancel ({exc})"
        except BrokerError as exc:
            return f"cancel failed ({exc})"
    return "cancel failed"


# --- closing --------------------------------------------------------------------------------------


def positions_close(
    *, scope: dict, reason_code: str, reason: str, now: datetime | None = None, report: FlattenReport
) -> None:
    """Send a MARKET exit for every open position in ``scope`` (see the module docstring)."""
    now = now or timezone.now()
    positions = list(
        Position.objects.filter(**scope).exclude(quantity=0).select_related("instrument").order_by("account_id", "id")
    )
    holding = {p.account_id for p in positions}
    # Accounts whose orders were cancelled and that hold nothing in scope are done already.
    _accounts_done(report, report.accounts_cancelling - holding)
    if not positions:
        return
    prices = _last_prices([p.instrument for p in positions])
    market_open = _market_open(now)
    on_date = to_market_time(now).date()
    for n, position in enumerate(positions):
        report.account_id = position.account_id
        try:
            _close_one(
                position=position,
                price=prices.get(position.instrument.instrument_token),
                reason_code=reason_code,
                reason=reason,
                market_open=market_open,
                on_date=on_date,
                report=report,
            )
        except Exception as exc:
            # Isolated like the fan-out: one account's failure never keeps another's positions open.
            logger.exception("square-off of position %s failed", position.id)
            report.errors.append(
                FlattenError(
                    account_id=position.account_id, message=f"{position.instrument}: {type(exc).__name__}: {exc}"
                )
            )
        if n + 1 == len(positions) or positions[n + 1].account_id != position.account_id:
            _accounts_done(report, {position.account_id})


def _accounts_done(report: FlattenReport, account_ids: set[int]) -> None:
    new = sorted(account_ids - set(report.accounts_done))
    if new:
        report.accounts_done.extend(new)
        report.step_done()


def _close_one(
    *, position: Position, price, reason_code: str, reason: str, market_open: bool, on_date, report: FlattenReport
) -> None:
    """One position: wait for an order slot, decide and record its exits, then place them."""
    price = price or position.last_price or position.average_price
    _wait_for_order_slot(account_id=position.account_id)
    decided = position_exit_decide(
        position_id=position.id,
        reason_code=reason_code,
        reason=reason,
        price=Decimal(price),
        market_open=market_open,
        on_date=on_date,
        operation_id=report.operation_id,
    )
    if not decided.orders and decided.reason != "already flat":
        report.skipped[position.id] = decided.reason
    for order in decided.orders:
        if order.status == OrderStatus.PENDING:
            order = place_order(order_id=order.id)
        report.exit_orders.append(order)
        report.note(
            f"exit {order.side} {order.quantity} {position.instrument} on account {position.account_id}: "
            f"{order.status}" + (f" - {order.status_message}" if order.status_message else "")
        )


def _last_prices(instruments) -> dict[int, Decimal]:
    from strategies.selectors import market_data_source

    try:
        return market_data_source().ltp(list({i.pk: i for i in instruments}.values()))
    except Exception:
        # No fresh price must not keep a position open: the last mark (or entry price) sizes the
        # chunks and the value check; a MARKET order fills at the market anyway.
        logger.exception("square-off: no last prices; using the last marks")
        return {}


def _market_open(now: datetime) -> bool:
    from strategies.selectors import market_data_source

    return market_data_source().calendar.is_open(now)


def _wait_for_order_slot(*, account_id: int, timeout: float = 2.0) -> None:
    """Keep a burst of exits under Kite's per-second order limit instead of having them refused."""
    deadline = time_module.monotonic() + timeout
    while time_module.monotonic() < deadline:
        if account_book(account_id=account_id).orders_last_second < KITE_MAX_ORDERS_PER_SECOND - 1:
            return
        time_module.sleep(0.1)


# --- the intraday (MIS) square-off -----------------------------------------------------------------


def intraday_square_off_window(*, now: datetime) -> tuple[datetime | None, str]:
    """When MIS positions must be closed: from ``MIS_SQUARE_OFF_TIME`` until the session closes (at most
    ``INTRADAY_SQUARE_OFF_WINDOW``, so a refused exit is retried), on trading days only. Returns the
    cut-off time when ``now`` is in that window, else None and why not. The around-the-clock
    simulated market has no end of day: skipped unless ``MIS_SQUARE_OFF_AROUND_THE_CLOCK`` is on.
    """
    from strategies.selectors import market_data_source

    calendar = market_data_source().calendar
    cutoff, no_square_off = square_off_cutoff(calendar=calendar, now=now)
    if cutoff is None:
        return None, no_square_off
    local = to_market_time(now)
    _, session_close = calendar.session_bounds(local.date())
    if not cutoff <= local < min(session_close, cutoff + INTRADAY_SQUARE_OFF_WINDOW):
        return None, f"outside the square-off window from {cutoff:%H:%M}"
    return cutoff, ""

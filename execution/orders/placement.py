"""From a signal to orders on one account: plan, size, check, record, then place.

The order row is written (PENDING, with its tag) inside a short transaction that holds the
account's row lock; the broker is called only after that commits, outside any transaction.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from ..brokers import (
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    OutcomeUnknown,
    PlaceResult,
    RateLimited,
    SessionExpired,
    broker_for,
)
from ..models import Order, OrderStatus
from .fills import fill_record
from .sql import ModelColumns
from .state import order_transition, order_transition_unsaved

logger = logging.getLogger(__name__)
# The placement answer's UPDATE, in plain SQL (execution/orders/sql.py).
_ORDER_ROW = ModelColumns(Order)


def place_signal_order(*, order: Order) -> Order:
    """Send a signal's order as its decision wrote it (after the delivery's commit)."""
    # The first approved order is written claimed (``placed_at`` set), so it goes out with no claim
    # UPDATE. The entry behind a reversal's exit is claimed only now: if the exit lost the Kite
    # session, the entry has been refused meanwhile and is not sent.
    return _send(order=order) if order.placed_at else place_order(order_id=order.id)


def order_request_for(order: Order) -> OrderRequest:
    instrument = order.instrument
    return OrderRequest(
        tag=order.tag,
        exchange=instrument.exchange,
        tradingsymbol=instrument.tradingsymbol,
        instrument_token=instrument.instrument_token,
        side=order.side,
        quantity=order.quantity,
        product=order.product,
        order_type=order.order_type,
        price=order.price,
        trigger_price=order.trigger_price,
        reference_price=order.reference_price,
        tick_size=instrument.tick_size,
    )


def place_order(*, order_id: int) -> Order:
    """Send a PENDING order to its broker exactly once.

    The claim (stamping ``placed_at`` on a PENDING, never-tried order) is a single UPDATE, so of
    two workers only one wins; a crash after the claim leaves the order to reconciliation by tag.
    A signal's orders skip this: they are written claimed, inside the decision's transaction.
    """
    claimed = Order.objects.filter(pk=order_id, status=OrderStatus.PENDING, placed_at__isnull=True).update(
        placed_at=timezone.now()
    )
    order = Order.objects.select_related("account", "instrument").get(pk=order_id)
    return _send(order=order) if claimed else order


def _send(*, order: Order) -> Order:
    """Send an order its caller has claimed, and record the broker's answer. Never sends twice:
    the claim is the caller's proof that no one else has or will."""
    broker = broker_for(order.account)
    try:
        result = broker.place_order(order_request_for(order))
    except BrokerRejected as exc:
        order_transition(order=order, status=OrderStatus.REJECTED, message=str(exc))
    except SessionExpired as exc:
        # Nothing reached the exchange: the order is refused; the account needs a login, its other
        # unsent orders stop and its positions become unknown (never flat). Other accounts go on.
        order_transition(
            order=order,
            status=OrderStatus.REJECTED,
            message=f"Not sent: the Kite session expired ({exc}); the account needs a login.",
        )
        from .sessions import account_session_lost

        account_session_lost(account=order.account, reason=str(exc))
    except RateLimited as exc:
        # Raised only when nothing was registered: Kite's 429 refuses a request (the adapter has
        # already looked in the book and tried once more), and our own budget sends nothing.
        message = str(exc)
        order_transition(
            order=order,
            status=OrderStatus.REJECTED,
            message=message if message.startswith("Not sent") else f"Not sent: {message}",
        )
    except (OutcomeUnknown, BrokerUnavailable) as exc:
        order_transition(
            order=order,
            status=OrderStatus.UNKNOWN,
            message=f"Outcome unknown ({exc}); will be resolved from the broker's order book by tag {order.tag}.",
        )
        from .resolution import order_resolution_schedule

        order_resolution_schedule(order_id=order.id)
    else:
        order_apply_result(order=order, result=result)
    return order


def order_apply_result(*, order: Order, result: PlaceResult) -> None:
    """Record what the broker said about a placement: its id, its status and any fills, together."""
    if not result.fills:
        _apply_answer(order=order, result=result)
        return
    with transaction.atomic():
        # The broker's answer is written with the first new fill's totals: one UPDATE of the order.
        _, unsaved = order_transition_unsaved(
            order=order, status=result.status, message=result.status_message or "", broker_order_id=result.order_id
        )
        for fill in result.fills:
            if fill_record(order=order, fill=fill, also_save=unsaved) is not None:
                unsaved = []
        if unsaved:  # every fill was already known
            order.save(update_fields=["updated_at", *unsaved])


def _apply_answer(*, order: Order, result: PlaceResult) -> None:
    """Record a placement answer without fills (Kite's): one UPDATE if no one moved the order meanwhile.

    A postback may have moved it while the call was out (Kite sends one as soon as the order
    fills). The UPDATE applies only if the row still has the status this worker holds; otherwise the
    answer is applied to the row as it is now, under its lock, so a COMPLETE never goes back to
    SUBMITTED.
    """
    held = order.status
    message = result.status_message or None  # no message: keep the row's (a refusal's reason, say)
    _, fields = order_transition_unsaved(
        order=order, status=result.status, message=message, broker_order_id=result.order_id
    )
    if not fields:
        return
    if _ORDER_ROW.update(order, [*fields, "updated_at"], status=held):
        return
    with transaction.atomic():
        _refresh_for_update(order)
        order_transition(order=order, status=result.status, message=message, broker_order_id=result.order_id)


def _refresh_for_update(order: Order) -> None:
    """Lock the order's row and bring in what postbacks and reconciliation may have changed."""
    fields = ("status", "status_message", "broker_order_id", "filled_quantity", "average_price")
    current = Order.objects.select_for_update().filter(pk=order.pk).values_list(*fields).get()
    for name, value in zip(fields, current, strict=True):
        setattr(order, name, value)

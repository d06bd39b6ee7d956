"""Kite order postbacks: verified by checksum, applied to the order they name, fills fetched after.

A postback carries an order's status and cumulative filled quantity, not its trades. Fills are
recorded only from the broker's trades (``/orders/{id}/trades``, fetched by a task after commit,
or the periodic reconciliation), so every fill has one identity, the trade id, and counts once.

Kite's checksum covers the order id and timestamp, not the status: it proves the postback came
from Kite for that order, not that the status is Kite's. Positions never depend on a postback's
word, only on trades; and a refusal or cancellation is recorded only once the order book confirms
it (a task reads the book), so a replayed postback with its status changed cannot end a live order.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.db import transaction

from accounts.models import Account
from accounts.models import Broker as BrokerKind

from ..brokers.kite import KiteBroker
from ..models import Order, OrderStatus
from .orders_state import order_transition

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("user_id", "order_id", "order_timestamp", "checksum", "status")


class PostbackInvalid(ValueError):
    """Malformed: a field is missing or of the wrong type (HTTP 400)."""


class PostbackRefused(PermissionError):
    """Not from Kite for one of our accounts: unknown user or a checksum that does not verify (HTTP 403)."""


def postback_checksum(*, order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256(f"{order_id}{order_timestamp}{api_secret}".encode()).hexdigest()


def postback_verify(*, payload: dict) -> Account:
    """The Kite account a postback is for, if its checksum verifies with that account's api_secret."""
    if not isinstance(payload, dict):
        raise PostbackInvalid("The postback body must be a JSON object.")
    for name in REQUIRED_FIELDS:
        if not isinstance(payload.get(name), str | int) or payload.get(name) == "":
            raise PostbackInvalid(f"The postback has no valid '{name}'.")
    account = Account.objects.filter(broker=BrokerKind.KITE, zerodha_user_id=str(payload["user_id"])).first()
    if account is None or not account.has_api_secret:
        raise PostbackRefused("No Kite account with this user_id can verify the postback.")
    expected = postback_checksum(
        order_id=str(payload["order_id"]),
        order_timestamp=str(payload["order_timestamp"]),
        api_secret=account.get_api_secret(),
    )
    if not hmac.compare_digest(expected, str(payload["checksum"])):
        raise PostbackRefused("The postback's checksum does not verify.")
    return account


# Final statuses a postback may only announce: the order book confirms them (see postback_apply).
UNCONFIRMED_STATUSES = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED})


def postback_apply(*, account: Account, payload: dict) -> Order | None:
    """Apply a verified postback to the order it names.

    Kite's checksum covers the order id and timestamp only: the status, filled quantity and tag of
    a replayed postback can be changed and it still verifies. So the order is found by its broker
    order id; an order not yet known by one (UNKNOWN) is matched by tag but resolved from the order
    book, as is a refusal or cancellation. A COMPLETE is held at OPEN until the trades, read from
    Kite, fill the order. Orders placed outside the system are ignored (reconciliation flags them).
    """
    entry = KiteBroker.broker_order(payload)
    lookup = Order.objects.filter(account=account)
    order = lookup.filter(broker_order_id=entry.order_id).first()
    if order is None:
        order = lookup.filter(tag=entry.tag, broker_order_id="").first() if entry.tag else None
        if order is None:
            logger.info("postback for order %s (tag %r) not placed by the system; ignored", entry.order_id, entry.tag)
            return None
        _confirm_from_book(order)  # the tag is the postback's word: the book says which order it is
        return order
    if entry.status in UNCONFIRMED_STATUSES:
        _confirm_from_book(order)
        return order
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        status = entry.status
        if status == OrderStatus.COMPLETE and order.filled_quantity < order.quantity:
            status = OrderStatus.OPEN  # completes from its trades, never from the postback's count
        order_transition(order=order, status=status, message=entry.status_message or None)
        if entry.status == OrderStatus.COMPLETE or entry.filled_quantity > order.filled_quantity:
            from ..tasks import fetch_order_fills

            order_id = order.id
            transaction.on_commit(lambda: fetch_order_fills.delay(order_id))
    return order


def _confirm_from_book(order: Order) -> None:
    from ..tasks import confirm_order

    order_id = order.id
    transaction.on_commit(lambda: confirm_order.delay(order_id))

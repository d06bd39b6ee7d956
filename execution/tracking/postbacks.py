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
import time
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.models import Broker as BrokerKind

from ..brokers.kite import KiteBroker, kite_time
from ..models import Order, OrderStatus
from ..orders.state import order_transition

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("user_id", "order_id", "order_timestamp", "checksum", "status")


class PostbackInvalid(ValueError):
    """Malformed: a field is missing or of the wrong type (HTTP 400)."""


# Numbers a postback may carry; each, when present, must be finite (quantities whole and >= 0):
# ``"NaN"`` or ``1e999`` in one is a 400, never a 500 further down.
QUANTITY_FIELDS = (
    "quantity",
    "filled_quantity",
    "pending_quantity",
    "unfilled_quantity",
    "cancelled_quantity",
    "disclosed_quantity",
)
PRICE_FIELDS = ("price", "trigger_price", "average_price")
MAX_POSTBACK_NUMBER = Decimal(10) ** 12


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
    _check_numbers(payload)
    postback_order_time(payload)  # a timestamp that does not parse is a 400 here, not later
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


def _check_numbers(payload: dict) -> None:
    for name in QUANTITY_FIELDS + PRICE_FIELDS:
        value = payload.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PostbackInvalid(f"The postback's '{name}' is not a number.")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise PostbackInvalid(f"The postback's '{name}' is not a number.") from None
        if not number.is_finite() or abs(number) >= MAX_POSTBACK_NUMBER:
            raise PostbackInvalid(f"The postback's '{name}' is not a finite number in range.")
        if name in QUANTITY_FIELDS and (number < 0 or number != number.to_integral_value()):
            raise PostbackInvalid(f"The postback's '{name}' is not a whole number of shares.")
        if name in QUANTITY_FIELDS:
            payload[name] = int(number)  # "12" or 12.0 as Kite's 12: read with int() further on


def postback_order_time(payload: dict) -> datetime:
    """The order timestamp (IST wall time, as Kite sends it) as an aware datetime."""
    try:
        return kite_time(str(payload["order_timestamp"]))
    except ValueError:
        raise PostbackInvalid("The postback's 'order_timestamp' is not a date and time.") from None


def postback_skip_reason(*, account: Account, payload: dict) -> str | None:
    """Why a verified postback is acknowledged without any work, or None to apply it.

    The checksum covers only the order id and timestamp, so a captured postback verifies forever.
    One older than ``KITE_POSTBACK_MAX_AGE_SECONDS`` is stale; one already seen (same order id,
    timestamp, status and filled quantity, for as long as the window) is a repeat. The record of
    seen postbacks lives in the shared cache (Redis in production), so every web process sees it.
    """
    window = settings.KITE_POSTBACK_MAX_AGE_SECONDS
    if timezone.now() - postback_order_time(payload) > timedelta(seconds=window):
        return "stale"
    identity = "|".join(str(payload.get(name)) for name in ("order_id", "order_timestamp", "status", "filled_quantity"))
    key = f"kite-postback-seen:{account.pk}:{hashlib.sha256(identity.encode()).hexdigest()}"
    if not cache.add(key, 1, timeout=window):
        return "repeat"
    return None


def postback_work_allowed(*, account: Account) -> bool:
    """Whether a postback may start another Kite call (trades fetch, order-book check) for the account.

    A fixed window per account in the shared cache, ``KITE_POSTBACK_WORK_RATE`` ("30/minute"). Over
    it, the order waits for the periodic reconciliation, which reads the same trades and order book.
    """
    count, seconds = _rate(settings.KITE_POSTBACK_WORK_RATE)
    window = int(time.time() // seconds)
    key = f"kite-postback-work:{account.pk}:{window}"
    cache.add(key, 0, timeout=seconds + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=seconds + 1)
        used = 1
    if used > count:
        logger.warning("postback work for account %s over %s; left to reconciliation", account.pk, count)
        return False
    return True


_PERIODS = {"s": 1, "m": 60, "h": 3600}


def _rate(rate: str) -> tuple[int, int]:
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0]]


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
        wants_fills = entry.status == OrderStatus.COMPLETE or entry.filled_quantity > order.filled_quantity
        if wants_fills and postback_work_allowed(account=account):
            from ..tasks import fetch_order_fills

            order_id = order.id
            transaction.on_commit(lambda: fetch_order_fills.delay(order_id))
    return order


def _confirm_from_book(order: Order) -> None:
    from ..tasks import confirm_order

    if not postback_work_allowed(account=order.account):
        return
    order_id = order.id
    transaction.on_commit(lambda: confirm_order.delay(order_id))

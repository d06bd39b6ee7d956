"""The Kite broker: the official ``kiteconnect`` client behind the project's broker interface.

kiteconnect 5.2.2 raises its own exceptions for error bodies and lets ``requests`` exceptions
through for transport failures (it never retries). They are mapped here, once, onto the
project's: what the pipeline needs to know is whether an order was refused (BrokerRejected),
may exist (OutcomeUnknown), was refused for rate (RateLimited), or the session is gone
(SessionExpired); a failed read is BrokerUnavailable and may be retried.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from kiteconnect import exceptions as kite_errors

from .base import (
    Broker,
    BrokerError,
    BrokerFill,
    BrokerHolding,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    OutcomeUnknown,
    PlaceResult,
    RateLimited,
    SessionExpired,
)
from .budget import order_budget

logger = logging.getLogger(__name__)

VARIETY = "regular"
IST = ZoneInfo("Asia/Kolkata")

# Kite's order statuses onto the project's. Transient states before the exchange has the order
# are SUBMITTED; modify/cancel in progress and "UPDATE" (a postback for a partial fill) are OPEN.
KITE_STATUS = {
    "COMPLETE": "COMPLETE",
    "CANCELLED": "CANCELLED",
    "REJECTED": "REJECTED",
    "OPEN": "OPEN",
    "TRIGGER PENDING": "OPEN",
    "UPDATE": "OPEN",
    "MODIFY VALIDATION PENDING": "OPEN",
    "MODIFY PENDING": "OPEN",
    "MODIFIED": "OPEN",
    "CANCEL PENDING": "OPEN",
    "PUT ORDER REQ RECEIVED": "SUBMITTED",
    "VALIDATION PENDING": "SUBMITTED",
    "OPEN PENDING": "SUBMITTED",
    "AMO REQ RECEIVED": "SUBMITTED",
}

IP_NOT_WHITELISTED = (
    "Kite refused the order because this server's IP address is not whitelisted for the account's "
    "Kite Connect app. Since April 2026 orders are accepted only from the app's registered static IP: "
    "add this server's IP in the Kite developer console (developers.kite.trade, the app's settings), "
    "then send the order again. Kite said: {message}"
)


def order_status(kite_status: str | None) -> str:
    return KITE_STATUS.get((kite_status or "").upper(), "SUBMITTED")


def kite_time(value) -> datetime:
    """Kite's timestamps are IST wall time (parsed by kiteconnect into naive datetimes, or strings)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=IST)
    return timezone.now()


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))


def market_protection() -> float:
    value = float(settings.KITE_MARKET_PROTECTION)
    if not (value == -1 or 0 < value <= 100):
        raise ImproperlyConfigured(
            f"KITE_MARKET_PROTECTION must be -1 (automatic) or a percentage in (0, 100], not {value:g}"
        )
    return int(value) if value == int(value) else value


def is_rate_limited(exc: Exception) -> bool:
    return isinstance(exc, kite_errors.NetworkException) and getattr(exc, "code", None) == 429


def placement_error(exc: Exception) -> BrokerError:
    """What a failed placement means: refused, refused for rate, session gone, or maybe placed."""
    message = str(exc) or exc.__class__.__name__
    if isinstance(exc, kite_errors.TokenException):
        return SessionExpired(message)
    if isinstance(exc, kite_errors.PermissionException):
        if "ip" in message.lower() or "whitelist" in message.lower():
            return BrokerRejected(IP_NOT_WHITELISTED.format(message=message))
        return BrokerRejected(f"Kite refused permission for the order: {message}")
    if isinstance(exc, kite_errors.InputException | kite_errors.OrderException):
        return BrokerRejected(f"Kite rejected the order: {message}")
    if is_rate_limited(exc):
        return RateLimited(f"Kite answered 429 (too many requests): {message}")
    if isinstance(exc, kite_errors.DataException | kite_errors.NetworkException):
        return OutcomeUnknown(f"Kite answered {getattr(exc, 'code', '?')} ({message})")
    if isinstance(exc, kite_errors.KiteException):
        if getattr(exc, "code", 500) >= 500:
            return OutcomeUnknown(f"Kite answered {exc.code} ({message})")
        return BrokerRejected(f"Kite refused the order ({exc.code}): {message}")
    if isinstance(exc, requests.exceptions.Timeout):
        return OutcomeUnknown(f"no answer from Kite within {settings.KITE_TIMEOUT_SECONDS:g} s")
    if isinstance(exc, requests.exceptions.RequestException):
        return OutcomeUnknown(f"connection to Kite failed ({exc.__class__.__name__})")
    return OutcomeUnknown(f"unexpected error while placing ({exc.__class__.__name__}: {message})")


def read_error(exc: Exception, what: str) -> BrokerError:
    """A failed read (or cancel) changes nothing at Kite: the session is gone, or try again later."""
    message = str(exc) or exc.__class__.__name__
    if isinstance(exc, kite_errors.TokenException):
        return SessionExpired(message)
    if is_rate_limited(exc):
        return RateLimited(f"Kite answered 429 to {what}: {message}")
    if isinstance(exc, requests.exceptions.Timeout):
        return BrokerUnavailable(f"{what}: no answer from Kite within {settings.KITE_TIMEOUT_SECONDS:g} s")
    if isinstance(exc, requests.exceptions.RequestException):
        return BrokerUnavailable(f"{what}: connection to Kite failed ({exc.__class__.__name__})")
    if isinstance(exc, kite_errors.KiteException):
        return BrokerUnavailable(f"{what}: Kite answered {getattr(exc, 'code', '?')} ({message})")
    return BrokerUnavailable(f"{what}: {exc.__class__.__name__}: {message}")


class KiteBroker(Broker):
    name = "kite"

    def __init__(self, *, account, client=None, budget=None) -> None:
        from accounts.kite import kite_client

        self.account = account
        self.client = client or kite_client(account)
        self.budget = budget or order_budget()

    # --- orders -----------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> PlaceResult:
        """Send the order once. A 429 is the one case where it may be sent a second time.

        429 means Kite refused the request without registering it. Still, before sending again
        we wait and look for the tag in the order book: if it is there (a 429 from a layer that
        had already forwarded it), it is adopted, not duplicated. Every other failure that may
        have registered the order (timeout, reset, 5xx, a gateway's HTML page) raises
        OutcomeUnknown and is resolved only by finding the tag later; it is never re-sent.
        """
        params = self.order_params(request)
        self._spend_budget()  # over our own budget: RateLimited, nothing was sent
        try:
            return self._send(params)
        except RateLimited:
            pass  # Kite's 429: refused, not registered
        time.sleep(settings.KITE_RATE_LIMIT_BACKOFF_SECONDS)
        try:
            found = self.find_order_by_tag(request.tag)
        except SessionExpired:
            raise
        except BrokerError as exc:
            raise OutcomeUnknown(f"Kite answered 429 and the order book could not be read to check ({exc})")
        if found is not None:
            logger.info("order %s: found in Kite's book after a 429; adopting %s", request.tag, found.order_id)
            return PlaceResult(order_id=found.order_id, status=found.status, status_message=found.status_message)
        self._spend_budget()
        try:
            return self._send(params)
        except RateLimited as exc:
            raise RateLimited(f"Not sent: Kite refused the order twice as over its rate limit ({exc}).")

    def _send(self, params: dict) -> PlaceResult:
        try:
            order_id = self.client.place_order(**params)
        except Exception as exc:  # every failure is classified; nothing is swallowed
            raise placement_error(exc) from exc
        return PlaceResult(order_id=str(order_id), status="SUBMITTED", status_message="Registered at Kite")

    def order_params(self, request: OrderRequest) -> dict:
        """Keyword arguments for ``KiteConnect.place_order`` (keywords only: 5.2.2 moved ``tag``)."""
        params = {
            "variety": VARIETY,
            "exchange": request.exchange,
            "tradingsymbol": request.tradingsymbol,
            "transaction_type": request.side,
            "quantity": int(request.quantity),
            "product": request.product,
            "order_type": request.order_type,
            "validity": "DAY",
            "tag": request.tag,
        }
        if request.order_type in ("LIMIT", "SL"):
            if request.price is None:
                raise BrokerRejected(f"A {request.order_type} order needs a price.")
            params["price"] = float(request.price)
        if request.order_type in ("SL", "SL-M"):
            if request.trigger_price is None:
                raise BrokerRejected(f"A {request.order_type} order needs a trigger price.")
            params["trigger_price"] = float(request.trigger_price)
        if request.order_type in ("MARKET", "SL-M"):
            params["market_protection"] = market_protection()
        if settings.KITE_ALGO_ID:
            params["algo_id"] = settings.KITE_ALGO_ID
        return params

    def cancel_order(self, order_id: str) -> None:
        """Cancel once; a failure raises BrokerRejected (Kite refused) or BrokerUnavailable (try again)."""
        self._spend_budget()
        try:
            self.client.cancel_order(variety=VARIETY, order_id=order_id)
        except (kite_errors.InputException, kite_errors.OrderException) as exc:
            raise BrokerRejected(f"Kite refused to cancel order {order_id}: {exc}") from exc
        except Exception as exc:
            raise read_error(exc, f"cancel order {order_id}") from exc

    def _spend_budget(self) -> None:
        self.budget.acquire(f"{self.account.pk}:{self.account.api_key}")

    # --- reads --------------------------------------------------------------------------------
    def _read(self, what: str, call, *args):
        try:
            return call(*args)
        except Exception as exc:
            raise read_error(exc, what) from exc

    def orders(self) -> list[BrokerOrder]:
        return [self.broker_order(row) for row in self._read("read the order book", self.client.orders)]

    @staticmethod
    def broker_order(row: dict) -> BrokerOrder:
        """One Kite order (order book row or postback) as a BrokerOrder."""
        filled = int(row.get("filled_quantity") or 0)
        return BrokerOrder(
            order_id=str(row["order_id"]),
            tag=row.get("tag") or "",
            status=order_status(row.get("status")),
            quantity=int(row.get("quantity") or 0),
            filled_quantity=filled,
            average_price=_decimal(row.get("average_price")) if filled else None,
            status_message=row.get("status_message") or "",
            exchange=row.get("exchange") or "",
            tradingsymbol=row.get("tradingsymbol") or "",
            side=row.get("transaction_type") or "",
            product=row.get("product") or "",
        )

    def trades(self) -> list[BrokerFill]:
        return [self._fill(row) for row in self._read("read the trade book", self.client.trades)]

    def order_trades(self, order_id: str) -> list[BrokerFill]:
        rows = self._read(f"read the trades of order {order_id}", self.client.order_trades, order_id)
        return [self._fill(row) for row in rows]

    @staticmethod
    def _fill(row: dict) -> BrokerFill:
        return BrokerFill(
            trade_id=str(row["trade_id"]),
            order_id=str(row["order_id"]),
            quantity=int(row["quantity"]),
            price=Decimal(str(row["average_price"])),
            filled_at=kite_time(row.get("fill_timestamp") or row.get("exchange_timestamp")),
        )

    def positions(self) -> list[BrokerPosition]:
        data = self._read("read positions", self.client.positions)
        return [
            BrokerPosition(
                exchange=row["exchange"],
                tradingsymbol=row["tradingsymbol"],
                product=row["product"],
                quantity=int(row["quantity"]),
                average_price=Decimal(str(row.get("average_price") or 0)),
            )
            for row in data.get("net", [])
        ]

    def holdings(self) -> list[BrokerHolding]:
        """``GET /portfolio/holdings``. Kite's ``quantity`` leaves out T1 shares (a T1-only holding
        reads quantity 0, t1_quantity 1, opening_quantity 1) and a sale today shows as
        ``used_quantity`` and as a negative CNC position; ``opening_quantity`` (delivered + T1 at the
        day's start) is the one figure that neither misses T1 shares nor counts today's sale twice."""
        rows = self._read("read holdings", self.client.holdings)
        return [
            BrokerHolding(
                exchange=row["exchange"],
                tradingsymbol=row["tradingsymbol"],
                # Every payload seen carries opening_quantity; without it, delivered + T1 (no sale today).
                opening_quantity=int(row.get("opening_quantity", row["quantity"] + row.get("t1_quantity", 0))),
                t1_quantity=int(row.get("t1_quantity") or 0),
                used_quantity=int(row.get("used_quantity") or 0),
            )
            for row in rows or []
        ]

    def ltp(self, symbols: list[str]) -> dict[str, Decimal]:
        if not symbols:
            return {}
        data = self._read("read last prices", self.client.ltp, *symbols)
        return {key: Decimal(str(value["last_price"])) for key, value in data.items()}

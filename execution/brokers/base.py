"""The broker interface. The pipeline talks only to this; it never asks which broker it has.

Placement returns as soon as the broker has *registered* the order. A broker that knows the
fills at once (paper) returns them in ``PlaceResult.fills``; a real broker returns none and the
fills arrive later through ``trades()``, postbacks and reconciliation. Both feed one code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class BrokerError(Exception):
    """Base of everything a broker adapter raises."""


class BrokerRejected(BrokerError):
    """The broker refused the order; nothing was placed. The message is for the trader."""


class BrokerUnavailable(BrokerError):
    """The broker could not be reached or failed before accepting anything (safe to retry a read)."""


class SessionExpired(BrokerError):
    """The access token is gone (Kite 403 TokenException): the account needs a login."""


class RateLimited(BrokerError):
    """The broker answered 429: over its request limit."""


class OutcomeUnknown(BrokerError):
    """A placement whose fate is unknown (timeout, 5xx, reset): it may exist at the broker.

    Resolved only by finding the order's tag in the order book; never by sending it again.
    """


@dataclass(frozen=True)
class OrderRequest:
    tag: str
    exchange: str
    tradingsymbol: str
    instrument_token: int
    side: str  # BUY / SELL
    quantity: int
    product: str
    order_type: str = "MARKET"
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reference_price: Decimal | None = None  # last price, for paper fills and protection
    tick_size: Decimal = Decimal("0.05")


@dataclass(frozen=True)
class BrokerFill:
    trade_id: str
    order_id: str
    quantity: int
    price: Decimal
    filled_at: datetime
    tag: str = ""


@dataclass(frozen=True)
class BrokerOrder:
    order_id: str
    tag: str
    status: str  # the project's OrderStatus value
    quantity: int
    filled_quantity: int = 0
    average_price: Decimal | None = None
    status_message: str = ""
    exchange: str = ""
    tradingsymbol: str = ""
    side: str = ""
    product: str = ""


@dataclass(frozen=True)
class PlaceResult:
    order_id: str
    status: str  # the project's OrderStatus value (SUBMITTED, OPEN, COMPLETE, ...)
    status_message: str = ""
    fills: tuple[BrokerFill, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BrokerPosition:
    exchange: str
    tradingsymbol: str
    product: str
    quantity: int
    average_price: Decimal


@dataclass(frozen=True)
class BrokerHolding:
    """A delivery holding as the day opened with it: ``opening_quantity`` counts shares delivered to
    the demat account and shares bought on the last trading day not yet delivered (T1). The day's
    CNC buys and sells are in the day's positions, not here."""

    exchange: str
    tradingsymbol: str
    opening_quantity: int
    t1_quantity: int = 0
    used_quantity: int = 0


class Broker:
    """One broker session for one account."""

    name: str = "broker"

    def place_order(self, request: OrderRequest) -> PlaceResult:
        raise NotImplementedError

    def cancel_order(self, order_id: str) -> None:
        raise NotImplementedError

    def orders(self) -> list[BrokerOrder]:
        raise NotImplementedError

    def trades(self) -> list[BrokerFill]:
        raise NotImplementedError

    def order_trades(self, order_id: str) -> list[BrokerFill]:
        """The fills of one order (after a postback says it filled)."""
        return [f for f in self.trades() if f.order_id == order_id]

    def positions(self) -> list[BrokerPosition]:
        raise NotImplementedError

    def holdings(self) -> list[BrokerHolding]:
        """Delivery holdings carried from earlier days; a broker without any answers none."""
        return []

    def ltp(self, symbols: list[str]) -> dict[str, Decimal]:
        """Last prices keyed "EXCHANGE:SYMBOL"."""
        raise NotImplementedError

    def find_order_by_tag(self, tag: str) -> BrokerOrder | None:
        return next((o for o in self.orders() if o.tag == tag), None)

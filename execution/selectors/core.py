"""Reads for orders, positions and P&L."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from ..models import AccountStrategy, Fill, Order, OrderLeg, OrderStatus, Position

ZERO = Decimal("0")
# An order in one of these may still fill: it counts towards the limits until it is final.
IN_FLIGHT_STATUSES = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.UNKNOWN)

__all__ = [
    "AccountBook",
    "account_book",
    "market_today_start",
    "realised_pnl_today",
    "unrealised_pnl",
    "daily_pnl",
    "open_exposure",
    "in_flight_entries",
    "open_positions_count",
    "has_open_position",
    "recent_order_counts",
    "position_for",
    "enabled_mappings_for_strategy",
    "open_positions",
    "account_orders",
    "pnl_by_account",
]


def market_today_start(now: datetime | None = None) -> datetime:
    """Midnight today in market time (IST), as an aware datetime: where 'today' begins for P&L."""
    tz = ZoneInfo(settings.MARKET_TIME_ZONE)
    local = (now or timezone.now()).astimezone(tz)
    return datetime.combine(local.date(), time.min, tzinfo=tz)


def realised_pnl_today(*, account_id: int, now: datetime | None = None) -> Decimal:
    total = Fill.objects.filter(account_id=account_id, filled_at__gte=market_today_start(now)).aggregate(
        total=Sum("realised_pnl")
    )["total"]
    return total or ZERO


def unrealised_pnl(*, account_id: int) -> Decimal:
    total = (
        Position.objects.filter(account_id=account_id)
        .exclude(quantity=0)
        .aggregate(total=Sum("unrealised_pnl"))["total"]
    )
    return total or ZERO


def daily_pnl(*, account_id: int, now: datetime | None = None) -> Decimal:
    """Realised P&L of today's fills plus unrealised P&L of open positions (last mark)."""
    return realised_pnl_today(account_id=account_id, now=now) + unrealised_pnl(account_id=account_id)


def in_flight_entries(*, account_id: int) -> QuerySet[Order]:
    """Entry orders on the account that may still fill (sent or about to be, not yet final)."""
    return Order.objects.filter(account_id=account_id, leg=OrderLeg.ENTRY, status__in=IN_FLIGHT_STATUSES)


@dataclass(frozen=True)
class BookPosition:
    strategy_id: int | None
    instrument_id: int
    product: str
    quantity: int
    average_price: Decimal
    last_price: Decimal | None
    unrealised_pnl: Decimal

    @property
    def value(self) -> Decimal:
        return abs(self.quantity) * (self.last_price or self.average_price)


@dataclass(frozen=True)
class InFlightEntry:
    strategy_id: int | None
    instrument_id: int
    unfilled_quantity: int
    reference_price: Decimal


@dataclass(frozen=True)
class AccountBook:
    """What an account holds, has on the way and has just sent, read in two queries for a risk decision."""

    positions: tuple[BookPosition, ...]
    in_flight: tuple[InFlightEntry, ...]
    orders_last_second: int = 0  # orders sent (placed) in the last second and minute: Kite's rate limits
    orders_last_minute: int = 0
    has_signal_orders: bool = False  # the account already has orders for the signal asked about

    def position(self, *, strategy_id: int | None, instrument_id: int, product: str) -> BookPosition | None:
        return next(
            (
                p
                for p in self.positions
                if (p.strategy_id, p.instrument_id, p.product) == (strategy_id, instrument_id, product)
            ),
            None,
        )

    @property
    def unrealised_pnl(self) -> Decimal:
        return sum((p.unrealised_pnl for p in self.positions), ZERO)

    def exposure(self, *, strategy_id: int | None) -> Decimal:
        """Value of a mapping's open positions at the last known price (average price if unmarked),
        plus the unfilled part of its in-flight entries at the price they were sized at.

        Counting in-flight entries is what makes the account lock enough: a fill arrives after the
        lock is released (seconds later on Kite), so positions alone would let racing signals each
        see the allocation as unused.
        """
        held = sum((p.value for p in self.positions if p.strategy_id == strategy_id), ZERO)
        coming = sum(
            (e.unfilled_quantity * e.reference_price for e in self.in_flight if e.strategy_id == strategy_id), ZERO
        )
        return held + coming

    @property
    def open_instruments(self) -> set[int]:
        """Instruments the account holds, or has an in-flight entry in."""
        return {p.instrument_id for p in self.positions} | {e.instrument_id for e in self.in_flight}

    def holds(self, *, instrument_id: int) -> bool:
        return any(p.instrument_id == instrument_id for p in self.positions)


def account_book(*, account_id: int, signal_id: int | None = None, now: datetime | None = None) -> AccountBook:
    """The account's open positions, and in one read of its orders: in-flight entries, orders sent in
    the last minute, and whether ``signal_id`` already has orders on it (a redelivered task)."""
    positions = tuple(
        BookPosition(**row)
        for row in Position.objects.filter(account_id=account_id)
        .exclude(quantity=0)
        .values("strategy_id", "instrument_id", "product", "quantity", "average_price", "last_price", "unrealised_pnl")
    )
    now = now or timezone.now()
    minute_ago, second_ago = now - timedelta(minutes=1), now - timedelta(seconds=1)
    wanted = Q(leg=OrderLeg.ENTRY, status__in=IN_FLIGHT_STATUSES) | Q(placed_at__gte=minute_ago)
    if signal_id is not None:
        wanted |= Q(signal_id=signal_id)
    in_flight, last_second, last_minute, has_signal_orders = [], 0, 0, False
    for sid, iid, qty, filled, price, leg, status, placed_at, order_signal_id in (
        Order.objects.filter(wanted, account_id=account_id)
        .order_by()
        .values_list(
            "strategy_id",
            "instrument_id",
            "quantity",
            "filled_quantity",
            "reference_price",
            "leg",
            "status",
            "placed_at",
            "signal_id",
        )
    ):
        if leg == OrderLeg.ENTRY and status in IN_FLIGHT_STATUSES:
            in_flight.append(
                InFlightEntry(
                    strategy_id=sid, instrument_id=iid, unfilled_quantity=max(qty - filled, 0), reference_price=price
                )
            )
        if placed_at is not None and placed_at >= minute_ago:
            last_minute += 1
            last_second += placed_at >= second_ago
        has_signal_orders = has_signal_orders or (signal_id is not None and order_signal_id == signal_id)
    return AccountBook(
        positions=positions,
        in_flight=tuple(in_flight),
        orders_last_second=last_second,
        orders_last_minute=last_minute,
        has_signal_orders=has_signal_orders,
    )


def open_exposure(*, account_id: int, strategy_id: int | None) -> Decimal:
    return account_book(account_id=account_id).exposure(strategy_id=strategy_id)


def open_positions_count(*, account_id: int) -> int:
    return len(account_book(account_id=account_id).open_instruments)


def has_open_position(*, account_id: int, instrument_id: int) -> bool:
    return Position.objects.filter(account_id=account_id, instrument_id=instrument_id).exclude(quantity=0).exists()


def recent_order_counts(*, account_id: int, now: datetime | None = None) -> tuple[int, int]:
    """Orders sent on the account in the last second and the last minute (Kite: 10/s, 400/min)."""
    now = now or timezone.now()
    counts = Order.objects.filter(account_id=account_id, placed_at__gte=now - timedelta(minutes=1)).aggregate(
        minute=Count("id"), second=Count("id", filter=Q(placed_at__gte=now - timedelta(seconds=1)))
    )
    return counts["second"], counts["minute"]


def position_for(*, account_id: int, strategy_id: int | None, instrument_id: int, product: str) -> Position | None:
    return Position.objects.filter(
        account_id=account_id, strategy_id=strategy_id, instrument_id=instrument_id, product=product
    ).first()


def enabled_mappings_for_strategy(*, strategy_id: int) -> QuerySet[AccountStrategy]:
    return AccountStrategy.objects.filter(strategy_id=strategy_id, enabled=True).select_related("account")


def open_positions(*, account_id: int | None = None) -> QuerySet[Position]:
    qs = Position.objects.exclude(quantity=0).select_related("account", "strategy", "instrument")
    return qs.filter(account_id=account_id) if account_id else qs


def account_orders(*, account_id: int) -> QuerySet[Order]:
    return Order.objects.filter(account_id=account_id).select_related("instrument", "strategy")


def pnl_by_account(now: datetime | None = None) -> list[dict]:
    """Per account: realised today, unrealised now, total, and open position count."""
    start = market_today_start(now)
    realised = dict(
        Fill.objects.filter(filled_at__gte=start)
        .values("account")
        .annotate(t=Sum("realised_pnl"))
        .values_list("account", "t")
    )
    unrealised = {
        row["account"]: row
        for row in Position.objects.exclude(quantity=0)
        .values("account")
        .annotate(u=Sum("unrealised_pnl"), n=Count("id"), exposure=Sum(Abs(F("quantity")) * F("average_price")))
    }
    from accounts.models import Account

    rows = []
    for account in Account.objects.order_by("name"):
        r = realised.get(account.id) or ZERO
        u_row = unrealised.get(account.id, {})
        u = u_row.get("u") or ZERO
        rows.append(
            {
                "account_id": account.id,
                "account": account.name,
                "realised": r,
                "unrealised": u,
                "total": r + u,
                "open_positions": u_row.get("n", 0),
            }
        )
    return rows

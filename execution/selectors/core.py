"""Reads for orders, positions and P&L."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from strategies.models import Instrument, Signal, Strategy

from ..models import AccountStrategy, Fill, Order, OrderLeg, OrderStatus, Position
from ..sql import ModelColumns, datetime_to_db, decimal_from_db

ZERO = Decimal("0")
# An order in one of these may still fill: it counts towards the limits until it is final.
IN_FLIGHT_STATUSES = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.UNKNOWN)

__all__ = [
    "signal_for_execution",
    "AccountBook",
    "account_book",
    "RiskInputs",
    "risk_inputs",
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


_SIGNAL_COLUMNS = ModelColumns(Signal, "sg")
_STRATEGY_COLUMNS = ModelColumns(Strategy, "st")
_INSTRUMENT_COLUMNS = ModelColumns(Instrument, "ins")


_SIGNAL_SQL = """
SELECT {columns}
FROM strategies_signal sg
JOIN strategies_strategy st ON st.id = sg.strategy_id
JOIN strategies_instrument ins ON ins.id = sg.instrument_id
WHERE sg.id = %s
"""


@cache
def _signal_sql(vendor: str) -> str:  # vendor: the cache key (quoting is the backend's)
    columns = ", ".join(c.select() for c in (_SIGNAL_COLUMNS, _STRATEGY_COLUMNS, _INSTRUMENT_COLUMNS))
    return _SIGNAL_SQL.format(columns=columns)


def signal_for_execution(*, signal_id: int) -> Signal:
    """The signal with its strategy and instrument, in one plain-SQL read (every order task starts here).

    Raises ``Signal.DoesNotExist`` as ``Signal.objects.get`` would.
    """
    with connection.cursor() as cursor:
        cursor.execute(_signal_sql(connection.vendor), [signal_id])
        row = cursor.fetchone()
    if row is None:
        raise Signal.DoesNotExist(f"Signal {signal_id} does not exist.")
    signal = _SIGNAL_COLUMNS.build(row)
    signal.strategy = _STRATEGY_COLUMNS.build(row, len(_SIGNAL_COLUMNS.fields))
    signal.instrument = _INSTRUMENT_COLUMNS.build(row, len(_SIGNAL_COLUMNS.fields) + len(_STRATEGY_COLUMNS.fields))
    return signal


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


# The book is read on every order decision, under the account's lock: plain SQL (see execution/sql.py).
_BOOK_POSITIONS_SQL = """
SELECT strategy_id, instrument_id, product, quantity, average_price, last_price, unrealised_pnl
FROM execution_position WHERE account_id = %s AND quantity <> 0
"""
_BOOK_ORDERS_SQL = """
SELECT strategy_id, instrument_id, quantity, filled_quantity, reference_price, leg, status,
       placed_at >= %s, placed_at >= %s, signal_id = %s
FROM execution_order
WHERE account_id = %s AND ((leg = %s AND status IN ({in_flight})) OR placed_at >= %s OR signal_id = %s)
""".format(in_flight=", ".join(["%s"] * len(IN_FLIGHT_STATUSES)))


def account_book(*, account_id: int, signal_id: int | None = None, now: datetime | None = None) -> AccountBook:
    """The account's open positions, and in one read of its orders: in-flight entries, orders sent in
    the last minute, and whether ``signal_id`` already has orders on it (a redelivered task)."""
    now = now or timezone.now()
    minute_ago, second_ago = datetime_to_db(now - timedelta(minutes=1)), datetime_to_db(now - timedelta(seconds=1))
    with connection.cursor() as cursor:
        cursor.execute(_BOOK_POSITIONS_SQL, [account_id])
        positions = tuple(
            BookPosition(
                strategy_id=sid,
                instrument_id=iid,
                product=product,
                quantity=quantity,
                average_price=decimal_from_db(average, 4),
                last_price=decimal_from_db(last, 4, default=None),
                unrealised_pnl=decimal_from_db(unrealised, 2),
            )
            for sid, iid, product, quantity, average, last, unrealised in cursor.fetchall()
        )
        cursor.execute(
            _BOOK_ORDERS_SQL,
            [minute_ago, second_ago, signal_id, account_id, OrderLeg.ENTRY, *IN_FLIGHT_STATUSES, minute_ago, signal_id],
        )
        orders = cursor.fetchall()
    in_flight, last_second, last_minute, has_signal_orders = [], 0, 0, False
    for sid, iid, qty, filled, price, leg, status, in_last_minute, in_last_second, of_signal in orders:
        if leg == OrderLeg.ENTRY and status in IN_FLIGHT_STATUSES:
            in_flight.append(
                InFlightEntry(
                    strategy_id=sid,
                    instrument_id=iid,
                    unfilled_quantity=max(qty - filled, 0),
                    reference_price=decimal_from_db(price, 4),
                )
            )
        last_minute += bool(in_last_minute)
        last_second += bool(in_last_second)
        has_signal_orders = has_signal_orders or bool(of_signal)
    return AccountBook(
        positions=positions,
        in_flight=tuple(in_flight),
        orders_last_second=last_second,
        orders_last_minute=last_minute,
        has_signal_orders=has_signal_orders,
    )


@dataclass(frozen=True)
class RiskInputs:
    """A risk decision's account-wide inputs other than its book: engine, mapping, realised P&L."""

    engine_running: bool
    global_kill_switch: bool
    mapping_found: bool
    mapping_enabled: bool
    allocation_pct: Decimal
    risk_per_trade_pct: Decimal
    realised_today: Decimal


# One statement on the order path instead of three ORM queries (see execution/sql.py): engine
# flags, the account's mapping to the strategy, and today's realised P&L. The anchor row makes
# every part optional (no engine row yet, no mapping, no fill today).
_RISK_INPUTS_SQL = """
SELECT e.running, e.kill_switch, m.id, m.enabled, m.allocation_pct, m.risk_per_trade_pct,
       (SELECT SUM(f.realised_pnl) FROM execution_fill f WHERE f.account_id = %s AND f.filled_at >= %s)
FROM (SELECT 1 AS one) anchor
LEFT JOIN risk_enginestate e ON e.id = %s
LEFT JOIN execution_accountstrategy m ON m.account_id = %s AND m.strategy_id = %s
"""


def risk_inputs(*, account_id: int, strategy_id: int | None, now: datetime | None = None) -> RiskInputs:
    from risk.models import EngineState

    today_start = datetime_to_db(market_today_start(now))
    with connection.cursor() as cursor:
        cursor.execute(_RISK_INPUTS_SQL, [account_id, today_start, EngineState.SINGLETON_ID, account_id, strategy_id])
        running, kill_switch, mapping_id, enabled, allocation, risk_per_trade, realised = cursor.fetchone()
    return RiskInputs(
        engine_running=bool(running),
        global_kill_switch=bool(kill_switch),
        mapping_found=mapping_id is not None,
        mapping_enabled=bool(enabled),
        allocation_pct=decimal_from_db(allocation, 2),
        risk_per_trade_pct=decimal_from_db(risk_per_trade, 2),
        realised_today=decimal_from_db(realised, 2),
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

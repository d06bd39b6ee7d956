"""The account book: the one read model of what an account holds and has working.

Filled positions per (strategy, instrument, product) and the working orders (any order that may
still fill, entry or exit, with its remaining quantity). Every figure an order decision, the risk
page, the daily-loss check, the dashboard and the API show about an account is defined here once:

- ``held(...)``: one position as the decision function sees it (filled, exits and entries working);
- ``exposure(strategy_id)``: value of the strategy's filled positions at their mark plus the
  remaining quantity of its working entries at the price they were sized at;
- ``unrealised_pnl`` (last mark) and, with ``realised_today``, ``daily_pnl``; per strategy
  ``unrealised(...)``, ``realised(...)``, ``charges(...)`` (the books of ``account_books``).

The P&L pages, the API's P&L, the equity curve and the risk page read these figures from
``account_books``; none computes its own.

Read under the account lock on every decision, with the account's mapping and its delivery of the
signal, in two statements of this app's own tables (``execution/orders/sql.py``, the order path's
one SQL module, says why plain SQL on this path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from risk.decision import HeldPosition

from ..models import OrderLeg, OrderStatus
from . import sql
from .sql import decimal_from_db

ZERO = Decimal("0")
# An order in one of these may still fill: it is working, and counts until it is final.
WORKING_STATUSES = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.UNKNOWN)


def market_today_start(now: datetime | None = None) -> datetime:
    """Midnight today in market time (IST), as an aware datetime: where 'today' begins for P&L."""
    tz = ZoneInfo(settings.MARKET_TIME_ZONE)
    local = (now or timezone.now()).astimezone(tz)
    return datetime.combine(local.date(), time.min, tzinfo=tz)


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
    def mark(self) -> Decimal:
        return self.last_price or self.average_price

    @property
    def value(self) -> Decimal:
        return abs(self.quantity) * self.mark


@dataclass(frozen=True)
class WorkingOrder:
    strategy_id: int | None
    instrument_id: int
    product: str
    leg: str
    side: str
    remaining: int  # quantity not yet filled
    reference_price: Decimal

    @property
    def signed_remaining(self) -> int:
        return self.remaining if self.side == "BUY" else -self.remaining


@dataclass(frozen=True)
class AccountBook:
    positions: tuple[BookPosition, ...]
    working: tuple[WorkingOrder, ...]
    realised_today: Decimal = ZERO
    orders_last_second: int = 0  # orders sent (placed) in the last second and minute: Kite's rate limits
    orders_last_minute: int = 0
    has_signal_orders: bool = False  # the account already has orders for the signal asked about
    # Today's fills per strategy: (realised P&L, charges); filled in by ``account_books`` only.
    today_by_strategy: Mapping[int | None, tuple[Decimal, Decimal]] = field(default_factory=dict, compare=False)

    def position(self, *, strategy_id: int | None, instrument_id: int, product: str) -> BookPosition | None:
        key = (strategy_id, instrument_id, product)
        return next((p for p in self.positions if (p.strategy_id, p.instrument_id, p.product) == key), None)

    def held(self, *, strategy_id: int | None, instrument_id: int, product: str) -> HeldPosition:
        """One position with the working orders on it, as the decision function reads it."""
        key = (strategy_id, instrument_id, product)
        position = self.position(strategy_id=strategy_id, instrument_id=instrument_id, product=product)
        on_key = [o for o in self.working if (o.strategy_id, o.instrument_id, o.product) == key]
        return HeldPosition(
            filled=position.quantity if position else 0,
            exits_working=sum(o.signed_remaining for o in on_key if o.leg == OrderLeg.EXIT),
            entries_working=sum(o.signed_remaining for o in on_key if o.leg == OrderLeg.ENTRY),
            mark=position.mark if position else ZERO,
        )

    @property
    def unrealised_pnl(self) -> Decimal:
        return sum((p.unrealised_pnl for p in self.positions), ZERO)

    def unrealised(self, *, strategy_id: int | None) -> Decimal:
        return sum((p.unrealised_pnl for p in self.positions if p.strategy_id == strategy_id), ZERO)

    def realised(self, *, strategy_id: int | None) -> Decimal:
        """Realised P&L of the strategy's fills today (``account_books`` only)."""
        return self.today_by_strategy.get(strategy_id, (ZERO, ZERO))[0]

    def charges(self, *, strategy_id: int | None) -> Decimal:
        """Charges of the strategy's fills today (``account_books`` only)."""
        return self.today_by_strategy.get(strategy_id, (ZERO, ZERO))[1]

    def open_positions(self, *, strategy_id: int | None) -> int:
        return sum(1 for p in self.positions if p.strategy_id == strategy_id)

    @property
    def strategy_ids(self) -> set[int | None]:
        """Every strategy with a position, a working entry or a fill today on this account."""
        entries = {o.strategy_id for o in self.working if o.leg == OrderLeg.ENTRY}
        return {p.strategy_id for p in self.positions} | entries | set(self.today_by_strategy)

    @property
    def daily_pnl(self) -> Decimal:
        """Realised P&L of today's fills plus unrealised P&L of open positions (last mark)."""
        return self.realised_today + self.unrealised_pnl

    def exposure(self, *, strategy_id: int | None) -> Decimal:
        """A strategy's filled positions at their mark plus its working entries' remaining quantity
        at the price they were sized at.

        Counting working entries is what makes the account lock enough: a fill arrives after the
        lock is released (seconds later on Kite), so positions alone would let racing signals each
        see the allocation as unused. Working exits free nothing until they fill.
        """
        held = sum((p.value for p in self.positions if p.strategy_id == strategy_id), ZERO)
        coming = sum(
            (
                o.remaining * o.reference_price
                for o in self.working
                if o.leg == OrderLeg.ENTRY and o.strategy_id == strategy_id
            ),
            ZERO,
        )
        return held + coming

    @property
    def total_exposure(self) -> Decimal:
        strategies = {p.strategy_id for p in self.positions} | {o.strategy_id for o in self.working}
        return sum((self.exposure(strategy_id=s) for s in strategies), ZERO)

    @property
    def open_instruments(self) -> set[int]:
        """Instruments the account holds, or has a working entry in."""
        entries = {o.instrument_id for o in self.working if o.leg == OrderLeg.ENTRY}
        return {p.instrument_id for p in self.positions} | entries

    def holds(self, *, instrument_id: int) -> bool:
        return any(p.instrument_id == instrument_id for p in self.positions)


@dataclass(frozen=True)
class StrategyMapping:
    """The account's mapping to a strategy, as a decision sizes on it (absent: not mapped)."""

    enabled: bool
    allocation_pct: Decimal
    risk_per_trade_pct: Decimal


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    state: str
    reason: str


@dataclass(frozen=True)
class DecisionRead:
    """What one decision reads about its account, under the account lock, in two statements."""

    book: AccountBook
    mapping: StrategyMapping | None
    delivery: DeliveryRow | None  # the account's delivery of the signal asked about


def decision_read(
    *, account_id: int, signal_id: int | None = None, strategy_id: int | None = None, now: datetime | None = None
) -> DecisionRead:
    """The account's book (open positions, working orders, today's realised P&L, the orders sent in
    the last minute, whether ``signal_id`` already has orders on it), its mapping to ``strategy_id``
    and its delivery of ``signal_id``."""
    now = now or timezone.now()
    rows, orders = sql.book_rows(
        account_id=account_id,
        signal_id=signal_id,
        strategy_id=strategy_id,
        today_start=market_today_start(now),
        minute_ago=now - timedelta(minutes=1),
        second_ago=now - timedelta(seconds=1),
        working=WORKING_STATUSES,
    )
    delivery_id, state, reason, enabled, allocation, risk_per_trade, realised = rows[0][:7]
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
        for *_, sid, iid, product, quantity, average, last, unrealised in rows
        if iid is not None  # the one row of an account with no open position
    )
    working, last_second, last_minute, has_signal_orders = [], 0, 0, False
    for sid, iid, product, leg, side, qty, filled, price, status, in_minute, in_second, of_signal in orders:
        if status in WORKING_STATUSES:
            working.append(WorkingOrder(sid, iid, product, leg, side, max(qty - filled, 0), decimal_from_db(price, 4)))
        last_minute += bool(in_minute)
        last_second += bool(in_second)
        has_signal_orders = has_signal_orders or bool(of_signal)
    book = AccountBook(
        positions=positions,
        working=tuple(working),
        realised_today=decimal_from_db(realised, 2),
        orders_last_second=last_second,
        orders_last_minute=last_minute,
        has_signal_orders=has_signal_orders,
    )
    mapping = (
        StrategyMapping(bool(enabled), decimal_from_db(allocation, 2), decimal_from_db(risk_per_trade, 2))
        if enabled is not None
        else None
    )
    return DecisionRead(book, mapping, DeliveryRow(delivery_id, state, reason) if delivery_id is not None else None)


def account_book(*, account_id: int, signal_id: int | None = None, now: datetime | None = None) -> AccountBook:
    """The account's open positions, its working orders, today's realised P&L, the orders sent in
    the last minute, and whether ``signal_id`` already has orders on it (a redelivered message)."""
    return decision_read(account_id=account_id, signal_id=signal_id, now=now).book


def account_books(*, account_ids: list[int] | None = None, now: datetime | None = None) -> dict[int, AccountBook]:
    """The book of each account asked for (every account with anything in it, if None); an account
    with nothing held, working or realised today gets an empty book. Three statements, whatever
    the number of accounts: for the pages and checks that show or watch every account."""
    if account_ids is not None and not account_ids:
        return {}
    position_rows, order_rows, today_rows = sql.many_books_rows(
        account_ids=account_ids, today_start=market_today_start(now), working=WORKING_STATUSES
    )
    positions: dict[int, list[BookPosition]] = {}
    working: dict[int, list[WorkingOrder]] = {}
    today: dict[int, dict[int | None, tuple[Decimal, Decimal]]] = {}
    for aid, sid, iid, product, quantity, average, last, unrealised in position_rows:
        positions.setdefault(aid, []).append(
            BookPosition(
                sid,
                iid,
                product,
                quantity,
                decimal_from_db(average, 4),
                decimal_from_db(last, 4, default=None),
                decimal_from_db(unrealised, 2),
            )
        )
    for aid, sid, iid, product, leg, side, qty, filled, price in order_rows:
        working.setdefault(aid, []).append(
            WorkingOrder(sid, iid, product, leg, side, max(qty - filled, 0), decimal_from_db(price, 4))
        )
    for aid, sid, realised, charges in today_rows:
        today.setdefault(aid, {})[sid] = (decimal_from_db(realised, 2), decimal_from_db(charges, 2))
    ids = account_ids if account_ids is not None else sorted({*positions, *working, *today})
    return {
        aid: AccountBook(
            positions=tuple(positions.get(aid, ())),
            working=tuple(working.get(aid, ())),
            realised_today=sum((realised for realised, _ in today.get(aid, {}).values()), ZERO),
            today_by_strategy=today.get(aid, {}),
        )
        for aid in ids
    }

"""Aggregates for the dashboard and the API: P&L by strategy and account, the intraday equity
curve, where the open positions are, and per-page rows.

Every figure of P&L, exposure and position value comes from the account book
(``execution.orders.book.account_books``: three grouped statements whatever the number of accounts,
orders or fills); these functions only group its cells by account, strategy or instrument, so the
pages, the API, the risk checks and the order decisions show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, DecimalField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from strategies.models import Instrument, Signal, Strategy

from ..models import AccountStrategy, EquityResolution, EquitySnapshot, Order, OrderStatus
from ..orders.book import WORKING_STATUSES, ZERO, account_books, market_today_start

__all__ = [
    "PnlSnapshot",
    "pnl_snapshot",
    "pnl_totals",
    "pnl_by_strategy",
    "equity_curve",
    "position_distribution",
    "account_rows",
    "strategy_rows",
    "mapping_rows",
    "recent_orders",
    "orders_filtered",
    "orders_page",
    "signals_with_order_counts",
    "signal_orders",
    "signal_deliveries",
    "DeliveryRow",
    "pnl_realtime",
]


@dataclass(frozen=True)
class PnlSnapshot:
    """Today's realised P&L and the open book, per (account, strategy) cell of the account books.

    P&L by account, by strategy and in total are sums of the same cells, so the three always agree.
    A page takes one snapshot and shapes it as many ways as it shows.
    """

    realised: dict[tuple[int, int | None], Decimal]
    open_book: dict[tuple[int, int | None], dict]  # unrealised, positions, exposure
    charges: dict[tuple[int, int | None], Decimal] = field(default_factory=dict)  # today's fills' charges
    books: dict = field(default_factory=dict, repr=False)  # account id -> the AccountBook cut into cells

    def by_account(self) -> dict[int, dict]:
        return self._grouped(lambda key: key[0])

    def by_strategy(self) -> dict[int | None, dict]:
        return self._grouped(lambda key: key[1])

    def totals(self) -> dict:
        return self._grouped(lambda key: None).get(None) or _empty_pnl()

    def _grouped(self, group) -> dict:
        rows: dict = {}
        for key, realised in self.realised.items():
            rows.setdefault(group(key), _empty_pnl())["realised"] += realised
        for key, charges in self.charges.items():
            rows.setdefault(group(key), _empty_pnl())["charges"] += charges
        for key, cell in self.open_book.items():
            row = rows.setdefault(group(key), _empty_pnl())
            row["unrealised"] += cell["unrealised"]
            row["open_positions"] += cell["positions"]
            row["exposure"] += cell["exposure"]
        for row in rows.values():
            row["total"] = row["realised"] + row["unrealised"]
            row["net"] = row["total"] - row["charges"]  # P&L net of charges
        return rows


def _empty_pnl() -> dict:
    return {
        "realised": ZERO,
        "unrealised": ZERO,
        "total": ZERO,
        "charges": ZERO,
        "net": ZERO,
        "open_positions": 0,
        "exposure": ZERO,
    }


def pnl_snapshot(now: datetime | None = None) -> PnlSnapshot:
    """Every account's book, cut into (account, strategy) cells: realised and charges of today's
    fills, unrealised P&L, open positions, and exposure as the risk checks count it (filled
    positions at their mark plus working entries at the price they were sized at)."""
    realised, charges, open_book = {}, {}, {}
    books = account_books(now=now)
    for account_id, book in books.items():
        for strategy_id in book.strategy_ids:
            key = (account_id, strategy_id)
            if strategy_id in book.today_by_strategy:
                realised[key] = book.realised(strategy_id=strategy_id)
                charges[key] = book.charges(strategy_id=strategy_id)
            open_book[key] = {
                "unrealised": book.unrealised(strategy_id=strategy_id),
                "positions": book.open_positions(strategy_id=strategy_id),
                "exposure": book.exposure(strategy_id=strategy_id),
            }
    return PnlSnapshot(realised=realised, open_book=open_book, charges=charges, books=books)


def pnl_totals(now: datetime | None = None, *, snapshot: PnlSnapshot | None = None) -> dict:
    """Across every account: realised today, unrealised now, their total, open positions and exposure."""
    totals = (snapshot or pnl_snapshot(now)).totals()
    return {**totals, "exposure": totals["exposure"].quantize(Decimal("0.01"))}


def pnl_by_strategy(now: datetime | None = None, *, snapshot: PnlSnapshot | None = None) -> list[dict]:
    """Per strategy: realised today (fills of its orders), unrealised now, total, open positions.

    Orders without a strategy (an operator's square-off of a manual position) are one row of their own.
    """
    grouped = (snapshot or pnl_snapshot(now)).by_strategy()
    rows = [
        _strategy_pnl_row(strategy_id, name, grouped.get(strategy_id))
        for strategy_id, name in Strategy.objects.order_by("name").values_list("id", "name")
    ]
    if None in grouped:
        rows.append(_strategy_pnl_row(None, "(no strategy)", grouped[None]))
    return rows


def _strategy_pnl_row(strategy_id, name: str, cell: dict | None) -> dict:
    cell = cell or _empty_pnl()
    return {
        "strategy_id": strategy_id,
        "strategy": name,
        "realised": cell["realised"],
        "unrealised": cell["unrealised"],
        "total": cell["total"],
        "charges": cell["charges"],
        "net": cell["net"],
        "open_positions": cell["open_positions"],
    }


def equity_curve(
    now: datetime | None = None, *, account_id: int | None = None, snapshot: PnlSnapshot | None = None
) -> dict:
    """Today's equity curve on a true time axis: realised + unrealised P&L (and net of charges) at
    each stored mark (one point a minute, ``execution.tracking.equity``), then "now" from the live
    P&L snapshot. Before the first mark of the day there are no points, only "now".
    """
    now = now or timezone.now()
    snapshots = EquitySnapshot.objects.filter(
        resolution=EquityResolution.MINUTE, at__gte=market_today_start(now), at__lte=now
    )
    if account_id:
        snapshots = snapshots.filter(account_id=account_id)
    points = [
        {
            "time": row["at"],
            "realised": row["realised"],
            "unrealised": row["unrealised"],
            "equity": row["realised"] + row["unrealised"],
            "charges": row["charges"],
            "net": row["realised"] + row["unrealised"] - row["charges"],
        }
        for row in snapshots.values("at")
        .annotate(realised=Sum("realised"), unrealised=Sum("unrealised"), charges=Sum("charges"))
        .order_by("at")
    ]
    snapshot = snapshot or pnl_snapshot(now)
    cell = snapshot.by_account().get(account_id) if account_id else snapshot.totals()
    cell = cell or _empty_pnl()
    return {
        "start": market_today_start(now),
        "points": points,
        "realised": cell["realised"],
        "unrealised": cell["unrealised"],
        "charges": cell["charges"],
        "now": {"time": now, "equity": cell["total"], "net": cell["net"]},
    }


def position_distribution(*, snapshot: PnlSnapshot | None = None) -> list[dict]:
    """Open positions by instrument: long and short quantity and value (the book's value at the
    mark), unrealised P&L, and how many accounts hold it."""
    cells: dict[int, dict] = {}
    books = snapshot.books if snapshot is not None else account_books()
    for account_id, book in books.items():
        for position in book.positions:
            cell = cells.setdefault(
                position.instrument_id,
                {
                    "long_quantity": 0,
                    "short_quantity": 0,
                    "long_value": ZERO,
                    "short_value": ZERO,
                    "unrealised": ZERO,
                    "accounts": set(),
                },
            )
            side = "long" if position.quantity > 0 else "short"
            cell[f"{side}_quantity"] += abs(position.quantity)
            cell[f"{side}_value"] += position.value
            cell["unrealised"] += position.unrealised_pnl
            cell["accounts"].add(account_id)
    names = Instrument.objects.filter(pk__in=cells).order_by("exchange", "tradingsymbol")
    cent = Decimal("0.01")
    return [
        {
            "instrument_id": instrument.id,
            "instrument": f"{instrument.exchange}:{instrument.tradingsymbol}",
            "long_quantity": cells[instrument.id]["long_quantity"],
            "short_quantity": cells[instrument.id]["short_quantity"],
            "long_value": cells[instrument.id]["long_value"].quantize(cent),
            "short_value": cells[instrument.id]["short_value"].quantize(cent),
            "gross_value": (cells[instrument.id]["long_value"] + cells[instrument.id]["short_value"]).quantize(cent),
            "unrealised": cells[instrument.id]["unrealised"],
            "accounts": len(cells[instrument.id]["accounts"]),
        }
        for instrument in names.only("id", "exchange", "tradingsymbol")
    ]


def account_rows(now: datetime | None = None, *, snapshot: PnlSnapshot | None = None) -> list[dict]:
    """Each account with its P&L today, open positions and the capital its enabled mappings allocate."""
    pnl = (snapshot or pnl_snapshot(now)).by_account()
    accounts = Account.objects.annotate(
        mapping_count=Count("mappings", filter=Q(mappings__enabled=True)),
        allocated_pct=Coalesce(
            Sum("mappings__allocation_pct", filter=Q(mappings__enabled=True)),
            ZERO,
            output_field=DecimalField(max_digits=7, decimal_places=2),
        ),
    ).order_by("name")
    rows = []
    for account in accounts:
        cell = pnl.get(account.id) or _empty_pnl()
        free_pct = max(100 - account.allocated_pct, ZERO)
        loss_used = max(-cell["total"], ZERO)  # as account_risk_usage counts it: today's loss, 0 in profit
        rows.append(
            {
                "account": account,
                "realised": cell["realised"],
                "unrealised": cell["unrealised"],
                "total": cell["total"],
                "charges": cell["charges"],
                "net": cell["net"],
                "open_positions": cell["open_positions"],
                "loss_used": loss_used,
                "loss_used_pct": (loss_used * 100 / account.daily_loss_limit).quantize(Decimal("0.1")),
                "exposure": cell["exposure"].quantize(Decimal("0.01")),
                "mapping_count": account.mapping_count,
                "allocated_pct": account.allocated_pct,
                "allocated_capital": (account.capital * account.allocated_pct / 100).quantize(Decimal("0.01")),
                "free_pct": free_pct,
                "free_capital": (account.capital * free_pct / 100).quantize(Decimal("0.01")),
            }
        )
    return rows


def strategy_rows(
    *, active_only: bool = False, now: datetime | None = None, snapshot: PnlSnapshot | None = None
) -> list[dict]:
    """Each strategy with its instruments, enabled mappings and P&L today."""
    pnl = (snapshot or pnl_snapshot(now)).by_strategy()
    strategies = Strategy.objects.prefetch_related("instruments").annotate(
        mapping_count=Count("mappings", filter=Q(mappings__enabled=True))
    )
    if active_only:
        strategies = strategies.filter(active=True)
    return [{"strategy": s, "pnl": _strategy_pnl_row(s.id, s.name, pnl.get(s.id))} for s in strategies.order_by("name")]


def mapping_rows() -> QuerySet[AccountStrategy]:
    """Every mapping, with its strategy's instrument count (for ``max_positions`` and ``position_capital``)."""
    return (
        AccountStrategy.objects.select_related("account", "strategy")
        .annotate(instrument_count=Count("strategy__instruments", distinct=True))
        .order_by("account__name", "strategy__name")
    )


def recent_orders(*, limit: int = 10) -> QuerySet[Order]:
    return Order.objects.select_related("account", "strategy", "instrument", "risk_decision").order_by(
        "-created_at", "-id"
    )[:limit]


def orders_filtered(
    *, status: str = "", account_id: int | None = None, strategy_id: int | None = None
) -> QuerySet[Order]:
    """Orders newest first, filtered by status, account and strategy."""
    qs = Order.objects.order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if account_id:
        qs = qs.filter(account_id=account_id)
    if strategy_id:
        qs = qs.filter(strategy_id=strategy_id)
    return qs


def orders_page(*, orders: QuerySet[Order], number, per_page: int = 50) -> Page:
    """One page of ``orders`` with what the orders page shows beside each (broker message, risk reasons).

    The page is found on ids alone and only its rows are loaded with their account, strategy,
    instrument and risk decision: a deep page costs an index walk, not a join over every order.
    """
    page = Paginator(orders.values_list("id", flat=True), per_page).get_page(number)
    ids = list(page.object_list)
    loaded = Order.objects.select_related("account", "strategy", "instrument", "risk_decision").in_bulk(ids)
    page.object_list = [loaded[i] for i in ids if i in loaded]
    return page


def signals_with_order_counts(*, limit: int = 50) -> QuerySet[Signal]:
    """Recent signals, each with how many of its orders are in which state."""
    failed = Q(orders__status__in=[OrderStatus.REJECTED, OrderStatus.BLOCKED])
    working = Q(orders__status__in=WORKING_STATUSES)
    # The newest signals are chosen first (an index scan), so only their orders are counted.
    latest = Signal.objects.order_by("-created_at", "-id").values("pk")[:limit]
    return (
        Signal.objects.filter(pk__in=latest)
        .select_related("strategy", "instrument")
        .annotate(
            order_count=Count("orders"),
            complete_count=Count("orders", filter=Q(orders__status=OrderStatus.COMPLETE)),
            failed_count=Count("orders", filter=failed),
            working_count=Count("orders", filter=working),
        )
        .order_by("-created_at", "-id")
    )


def signal_orders(*, signal_id: int) -> QuerySet[Order]:
    return Order.objects.filter(signal_id=signal_id).select_related(
        "account", "strategy", "instrument", "risk_decision"
    )


def pnl_realtime(now: datetime | None = None) -> dict:
    """The API's live P&L: every account and every strategy from one snapshot, so the per-account,
    per-strategy and total figures always agree. Four queries whatever the data size."""
    now = now or timezone.now()
    snapshot = pnl_snapshot(now)
    by_account = snapshot.by_account()
    accounts = []
    for account_id, name in Account.objects.order_by("name").values_list("id", "name"):
        cell = by_account.get(account_id) or _empty_pnl()
        accounts.append(
            {
                "account_id": account_id,
                "account": name,
                **{key: cell[key] for key in ("realised", "unrealised", "total", "charges", "net", "open_positions")},
            }
        )
    return {
        "as_of": now,
        "day_start": market_today_start(now),
        "accounts": accounts,
        "strategies": pnl_by_strategy(snapshot=snapshot),
        "totals": pnl_totals(snapshot=snapshot),
    }


@dataclass(frozen=True)
class DeliveryRow:
    account_id: int
    account: object  # accounts.Account
    state: str
    reason: str
    orders: list  # the (signal, account)'s orders, oldest first


def signal_deliveries(*, signal_id: int) -> list[DeliveryRow]:
    """Each mapped account's delivery of a signal with its orders, by account name (two queries)."""
    from ..models import Delivery

    orders: dict[int, list[Order]] = {}
    for order in Order.objects.filter(signal_id=signal_id).order_by("id"):
        orders.setdefault(order.account_id, []).append(order)
    deliveries = Delivery.objects.filter(signal_id=signal_id).select_related("account").order_by("account__name")
    return [DeliveryRow(d.account_id, d.account, d.state, d.reason, orders.get(d.account_id, [])) for d in deliveries]

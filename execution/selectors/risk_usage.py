"""Per account: the risk used today against each limit, and why the last orders were refused.

What the dashboard's risk panel shows. Figures are the ones the pre-trade checks use (daily P&L
is realised today plus unrealised now; exposure and open positions include in-flight entries),
so what a trader sees is what the next order is checked against. A fixed number of queries,
whatever the number of accounts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts.models import Account, AccountStatus
from risk.models import EngineState, RiskDecisionRecord
from risk.selectors import HALT_OPERATOR, halt_kinds

from ..models import AccountStrategy, Order, OrderStatus
from ..orders.book import ZERO, account_books, market_today_start

__all__ = ["AccountRiskUsage", "RejectedDecision", "account_risk_usage"]

_MONEY = DecimalField(max_digits=20, decimal_places=4)
_CENT = Decimal("0.01")
# How many of an account's latest refused decisions are shown with their reasons.
REJECTIONS_SHOWN = 5


@dataclass(frozen=True)
class RejectedDecision:
    id: int
    at: datetime
    strategy: str
    instrument: str
    side: str
    quantity: int
    is_exit: bool
    summary: str
    reasons: list[str]  # "check: reason" for each failed check


@dataclass
class AccountRiskUsage:
    account_id: int
    account: str
    broker: str
    status: str  # AccountStatus value
    status_reason: str
    halted: bool
    halt_kind: str  # "daily_loss", "operator" or "" when not halted
    trading_enabled: bool  # the account's kill switch
    logged_in: bool
    engine_running: bool
    global_kill_switch: bool
    # daily loss: realised today + unrealised now, against the limit
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    daily_pnl: Decimal
    daily_loss_limit: Decimal
    loss_used: Decimal  # rupees lost today (0 when in profit)
    loss_used_pct: Decimal  # of the daily loss limit
    loss_remaining: Decimal
    # capital allocation
    capital: Decimal
    allocated_pct: Decimal  # sum of the enabled mappings' allocation %
    allocated_capital: Decimal
    # exposure and positions
    open_exposure: Decimal
    exposure_pct: Decimal | None  # of allocated capital; None when nothing is allocated
    open_positions: int
    max_open_positions: int
    # orders
    orders_today: int  # orders created today that went (or go) to the broker
    refused_today: int  # decisions refused today (blocked orders)
    last_rejections: list[RejectedDecision] = field(default_factory=list)
    # the enabled mappings, each with its capital per position (allocated ÷ the strategy's maximum positions)
    mappings: list[AccountStrategy] = field(default_factory=list)

    @property
    def daily_loss_breached(self) -> bool:
        return self.loss_used >= self.daily_loss_limit

    @property
    def can_open_entries(self) -> bool:
        """Whether a new entry could pass the account-wide checks right now."""
        return (
            self.engine_running
            and not self.global_kill_switch
            and self.trading_enabled
            and not self.halted
            and self.logged_in
            and not self.daily_loss_breached
        )


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return (part * 100 / whole).quantize(_CENT) if whole else ZERO


def account_risk_usage(*, account_id: int | None = None, now: datetime | None = None) -> list[AccountRiskUsage]:
    """One row per account (or the one asked for), ordered by name."""
    now = now or timezone.now()
    today = market_today_start(now)
    accounts = Account.objects.annotate(
        allocated_pct=Coalesce(
            Sum("mappings__allocation_pct", filter=Q(mappings__enabled=True)),
            ZERO,
            output_field=DecimalField(max_digits=7, decimal_places=2),
        )
    ).order_by("name")
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    accounts = list(accounts)
    if not accounts:
        return []
    ids = [a.id for a in accounts]
    engine = EngineState.objects.filter(pk=EngineState.SINGLETON_ID).first()
    books = account_books(account_ids=ids, now=now)  # P&L, exposure and positions as orders see them
    orders = {
        row["account_id"]: row
        for row in Order.objects.filter(account_id__in=ids, created_at__gte=today)
        .values("account_id")
        .annotate(sent=Count("id", filter=~Q(status=OrderStatus.BLOCKED)))
    }
    refused = {
        row["account_id"]: row["n"]
        for row in RiskDecisionRecord.objects.filter(account_id__in=ids, created_at__gte=today, approved=False)
        .values("account_id")
        .annotate(n=Count("id"))
    }
    rejections = _last_rejections(ids, since=today)
    mappings = defaultdict(list)
    for mapping in (
        AccountStrategy.objects.filter(account_id__in=ids, enabled=True)
        .select_related("account", "strategy")
        .annotate(instrument_count=Count("strategy__instruments", distinct=True))
        .order_by("strategy__name")
    ):
        mappings[mapping.account_id].append(mapping)
    kinds = halt_kinds(account_ids=ids)

    rows = []
    for account in accounts:
        book = books[account.id]
        loss_used = max(-book.daily_pnl, ZERO)
        allocated = (account.capital * account.allocated_pct / 100).quantize(_CENT)
        account_exposure = book.total_exposure.quantize(_CENT)
        halted = account.status == AccountStatus.HALTED
        rows.append(
            AccountRiskUsage(
                account_id=account.id,
                account=account.name,
                broker=account.broker,
                status=account.status,
                status_reason=account.status_reason,
                halted=halted,
                halt_kind=kinds.get(account.id, HALT_OPERATOR) if halted else "",
                trading_enabled=account.trading_enabled,
                logged_in=account.is_logged_in and account.status != AccountStatus.NEEDS_LOGIN,
                engine_running=bool(engine and engine.running),
                global_kill_switch=bool(engine and engine.kill_switch),
                realised_pnl=book.realised_today,
                unrealised_pnl=book.unrealised_pnl,
                daily_pnl=book.daily_pnl,
                daily_loss_limit=account.daily_loss_limit,
                loss_used=loss_used,
                loss_used_pct=_pct(loss_used, account.daily_loss_limit),
                loss_remaining=max(account.daily_loss_limit - loss_used, ZERO),
                capital=account.capital,
                allocated_pct=account.allocated_pct,
                allocated_capital=allocated,
                open_exposure=account_exposure,
                exposure_pct=_pct(account_exposure, allocated) if allocated else None,
                open_positions=len(book.open_instruments),
                max_open_positions=account.max_open_positions,
                orders_today=orders.get(account.id, {}).get("sent", 0),
                refused_today=refused.get(account.id, 0),
                last_rejections=rejections.get(account.id, []),
                mappings=mappings.get(account.id, []),
            )
        )
    return rows


def _last_rejections(ids: list[int], *, since: datetime) -> dict[int, list[RejectedDecision]]:
    """Today's latest refusals per account: ranking all history would slow down as it grows."""
    latest = (
        RiskDecisionRecord.objects.filter(account_id__in=ids, approved=False, created_at__gte=since)
        .select_related("strategy", "instrument")
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("account_id")], order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rank__lte=REJECTIONS_SHOWN)
        .order_by("account_id", "rank")
    )
    out: dict[int, list[RejectedDecision]] = defaultdict(list)
    for record in latest:
        out[record.account_id].append(
            RejectedDecision(
                id=record.id,
                at=record.created_at,
                strategy=record.strategy.name if record.strategy else "",
                instrument=str(record.instrument),
                side=record.side,
                quantity=record.quantity,
                is_exit=record.is_exit,
                summary=record.summary,
                reasons=[f"{c.get('name')}: {c.get('reason')}" for c in record.checks if not c.get("passed")],
            )
        )
    return out

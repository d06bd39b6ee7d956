"""Daily loss: mark open positions to market, then halt (and optionally flatten) any account whose
P&L today (realised + unrealised) has reached minus its daily loss limit. The halt takes effect at
once; the flatten runs as an operation (``runs.daily_loss_flatten_start``), so beat's 15-second tick
never waits on a broker."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import Account, AccountStatus
from risk import services as risk_services
from risk.models import RiskEventKind
from risk.sizing import format_inr

from ..models import Operation
from ..orders.book import account_books
from ..orders.fills import mark_open_positions
from ..tracking.equity import equity_snapshots_record
from .runs import daily_loss_flatten_start

logger = logging.getLogger(__name__)


@dataclass
class DailyLossBreach:
    account: Account
    daily_pnl: Decimal
    flatten: Operation | None = None  # the flatten's operation, when the account asks for one


@dataclass
class MarkToMarketRun:
    skipped: str = ""
    marked: int = 0
    breaches: list[DailyLossBreach] = field(default_factory=list)


def mark_to_market_tick(*, now: datetime | None = None) -> MarkToMarketRun:
    """The 15-second beat tick: mark, store each account's equity, then enforce the daily loss limits.

    Only while the market is open: exchange data has no new prices outside the session (the
    around-the-clock simulated market is always open).
    """
    from strategies.selectors import market_data_source

    now = now or timezone.now()
    if not market_data_source().calendar.is_open(now):
        return MarkToMarketRun(skipped="market closed")
    marked = mark_open_positions()
    equity_snapshots_record(now=now)  # the equity curve's point for this minute, from this mark
    return MarkToMarketRun(marked=marked, breaches=daily_loss_enforce(now=now))


def daily_loss_enforce(*, now: datetime | None = None) -> list[DailyLossBreach]:
    """Halt every active account at or beyond its daily loss limit; flatten those that ask for it.

    A halted account takes no new entries until an operator resumes it or the next trading day
    begins (``risk.services.daily_loss_halts_lift``); exits stay possible throughout.
    """
    accounts = list(Account.objects.filter(status=AccountStatus.ACTIVE))
    books = account_books(account_ids=[a.id for a in accounts], now=now)  # today's P&L, as orders see it
    breaches = []
    for account in accounts:
        today = books[account.id].daily_pnl
        if today > -account.daily_loss_limit:
            continue
        reason = (
            f"Daily loss limit breached: today's P&L {format_inr(today)} reached the limit of "
            f"{format_inr(account.daily_loss_limit)}."
        )
        account = risk_services.account_halt(account=account, reason=reason, kind=RiskEventKind.DAILY_LOSS_BREACH)
        breach = DailyLossBreach(account=account, daily_pnl=today)
        if account.auto_flatten_on_daily_loss:
            breach.flatten = daily_loss_flatten_start(account=account, reason=reason)
        logger.warning("%s: %s", account, reason)
        breaches.append(breach)
    return breaches

"""Equity snapshots: each account's P&L today, stored at every mark so the equity curve has a past.

The figures are the P&L snapshot's (``selectors.pnl_snapshot``), cut from the account books
(``execution.orders.book``): the one definition of realised today, unrealised at the last mark and
charges. Nothing here computes P&L of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .. import selectors
from ..models import EquityResolution, EquitySnapshot

_UPDATED = ["marked_at", "realised", "unrealised", "charges"]


def equity_snapshots_record(*, now: datetime | None = None) -> int:
    """Store every account's P&L today as of ``now`` (after a mark); returns the rows written.

    One row per account and minute: a later mark in the same minute replaces the earlier one, so
    the 15-second marks leave one point a minute. Accounts with no fill today and nothing open
    have nothing to draw and get no row.
    """
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    by_account = selectors.pnl_snapshot(now).by_account()
    rows = [
        EquitySnapshot(
            account_id=account_id,
            resolution=EquityResolution.MINUTE,
            at=minute,
            marked_at=now,
            realised=cell["realised"],
            unrealised=cell["unrealised"],
            charges=cell["charges"],
        )
        for account_id, cell in by_account.items()
    ]
    EquitySnapshot.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["account", "resolution", "at"], update_fields=_UPDATED
    )
    return len(rows)


def equity_snapshots_compact(*, now: datetime | None = None) -> int:
    """Keep minute snapshots for EQUITY_MINUTE_RETENTION_DAYS market days (IST), then one a day.

    Each earlier day's last minute row per account becomes that day's DAY row; the day's minute
    rows are then deleted. Safe to re-run and to run late: it handles every day past the cut-off.
    Returns the minute rows removed.
    """
    now = now or timezone.now()
    tz = ZoneInfo(settings.MARKET_TIME_ZONE)
    cutoff = selectors.market_today_start(now) - timedelta(days=settings.EQUITY_MINUTE_RETENTION_DAYS - 1)
    removed = 0
    while True:
        oldest = (
            EquitySnapshot.objects.filter(resolution=EquityResolution.MINUTE, at__lt=cutoff)
            .order_by("at")
            .values_list("at", flat=True)
            .first()
        )
        if oldest is None:
            return removed
        day_start = selectors.market_today_start(oldest.astimezone(tz))
        day = EquitySnapshot.objects.filter(
            resolution=EquityResolution.MINUTE, at__gte=day_start, at__lt=min(day_start + timedelta(days=1), cutoff)
        )
        with transaction.atomic():
            last = {row["account_id"]: row["last"] for row in day.values("account_id").annotate(last=Max("at"))}
            keep = [
                EquitySnapshot(
                    account_id=s.account_id,
                    resolution=EquityResolution.DAY,
                    at=s.at,
                    marked_at=s.marked_at,
                    realised=s.realised,
                    unrealised=s.unrealised,
                    charges=s.charges,
                )
                for s in day.filter(at__in=set(last.values()))
                if last[s.account_id] == s.at
            ]
            EquitySnapshot.objects.bulk_create(
                keep, update_conflicts=True, unique_fields=["account", "resolution", "at"], update_fields=_UPDATED
            )
            removed += day.delete()[0]

"""Beat schedules: one periodic task per timeframe, plus housekeeping, in Asia/Kolkata.

``ensure_beat_schedules`` is safe to re-run: it creates what is missing and never touches a
schedule that exists, so what an operator changed in the admin stays changed.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

# Crontab minute fields. Each fires at least at every bar close of its timeframe, in both the
# NSE calendar (anchored 09:15) and the around-the-clock demo (anchored 00:00); the task asks the
# market calendar which bar just closed and skips ticks that are not a close or are too late.
TIMEFRAME_CRONTABS = {"1m": "*", "5m": "*/5", "15m": "*/15", "1h": "*/15", "1d": "*/15"}
BAR_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
SCHEDULE_PREFIX = "trading:"


def _crontab(minute: str, *, hour: str = "*", day_of_week: str = "*") -> CrontabSchedule:
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week=day_of_week,
        day_of_month="*",
        month_of_year="*",
        timezone=settings.MARKET_TIME_ZONE,
    )
    return schedule


@transaction.atomic
def ensure_beat_schedules() -> list[str]:
    """Create the missing periodic tasks; returns the names created."""
    created = []
    for timeframe, minute in TIMEFRAME_CRONTABS.items():
        name = f"{SCHEDULE_PREFIX}evaluate {timeframe}"
        _, was_created = PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": "execution.tasks.run_timeframe",
                "crontab": _crontab(minute),
                "args": json.dumps([timeframe]),
                # A tick still queued after one bar is stale: it never trades.
                "expire_seconds": min(BAR_SECONDS[timeframe], 300),
                "description": f"Evaluate every active {timeframe} strategy on each bar close.",
            },
        )
        if was_created:
            created.append(name)
    every_15s, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.SECONDS)
    housekeeping = [
        (
            f"{SCHEDULE_PREFIX}mark to market",
            {
                "task": "execution.tasks.mark_to_market",
                "interval": every_15s,
                "expire_seconds": 15,
                "description": "Mark open positions to the last price in market hours; halt accounts past their "
                "daily loss limit.",
            },
        ),
        (
            f"{SCHEDULE_PREFIX}square off MIS",
            {
                "task": "execution.tasks.intraday_square_off",
                "crontab": _crontab("*"),
                "expire_seconds": 60,
                "description": "From MIS_SQUARE_OFF_TIME (default 15:15 IST) on trading days, close every MIS "
                "position before the broker's own square-off; acts only in that window.",
            },
        ),
        (
            f"{SCHEDULE_PREFIX}compact equity snapshots",
            {
                "task": "execution.tasks.compact_equity_snapshots",
                "crontab": _crontab("30", hour="2"),
                "expire_seconds": 3600,
                "description": "02:30 IST: equity snapshots older than EQUITY_MINUTE_RETENTION_DAYS days are kept "
                "one a day (the day's last mark) instead of one a minute.",
            },
        ),
        (
            f"{SCHEDULE_PREFIX}lift daily-loss halts",
            {
                "task": "risk.tasks.lift_daily_loss_halts",
                "crontab": _crontab("*/15"),
                "expire_seconds": 900,
                "description": "At a trading day's session start, resume accounts halted for daily loss on an "
                "earlier day (operator halts stay).",
            },
        ),
        (
            f"{SCHEDULE_PREFIX}kite pre-open login check",
            {
                "task": "risk.tasks.kite_preopen_login_check",
                "crontab": _crontab("45", hour="8", day_of_week="1-5"),
                "expire_seconds": 1800,
                "description": "08:45 IST on trading days: warn (a NEEDS_LOGIN risk event) about every Kite "
                "account not logged in for the day.",
            },
        ),
    ]
    for name, defaults in housekeeping:
        _, was_created = PeriodicTask.objects.get_or_create(name=name, defaults=defaults)
        if was_created:
            created.append(name)
    # Orders, trades and positions of every logged-in Kite account against Kite's books. It only
    # reads and records, so an emergency stop leaves it running.
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    name = f"{SCHEDULE_PREFIX}reconcile Kite accounts"
    _, was_created = PeriodicTask.objects.get_or_create(
        name=name,
        defaults={
            "task": "execution.tasks.reconcile_kite_accounts",
            "interval": every_30s,
            "expire_seconds": 30,
            "description": "Bring orders, fills and positions in line with Kite's order book, trades and net "
            "positions; flag ledger/broker position differences.",
        },
    )
    if was_created:
        created.append(name)
    # Deliveries a lost message left pending are sent again, and expired past their TTL. It decides
    # nothing an entry limit would not refuse, so an emergency stop leaves it running too.
    sweep_every, _ = IntervalSchedule.objects.get_or_create(
        every=settings.DELIVERY_SWEEP_SECONDS, period=IntervalSchedule.SECONDS
    )
    name = f"{SCHEDULE_PREFIX}sweep deliveries"
    _, was_created = PeriodicTask.objects.get_or_create(
        name=name,
        defaults={
            "task": "execution.tasks.sweep_deliveries",
            "interval": sweep_every,
            "expire_seconds": settings.DELIVERY_SWEEP_SECONDS,
            "description": "Send again every signal delivery still pending after DELIVERY_GRACE_SECONDS; expire "
            "those past the signal's TTL with their reason.",
        },
    )
    if was_created:
        created.append(name)
    return created


# The schedules that make strategies trade. Housekeeping (mark to market, the MIS square-off,
# lifting daily-loss halts) only watches or reduces risk, so an emergency stop leaves it running.
TRADING_TASKS = ("execution.tasks.run_timeframe",)


def set_trading_schedules_enabled(*, enabled: bool) -> int:
    """Enable or disable every schedule that evaluates strategies (emergency stop disables them)."""
    changed = PeriodicTask.objects.filter(task__in=TRADING_TASKS).exclude(enabled=enabled).update(enabled=enabled)
    PeriodicTasks.update_changed()  # a bulk update sends no signal: tell beat to reload
    return changed

"""Beat schedules: one periodic task per timeframe, plus housekeeping, in Asia/Kolkata.

``ensure_beat_schedules`` is safe to re-run: it creates what is missing and never touches a
schedule that exists, so what an operator changed in the admin stays changed.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

# Crontabs (minute, hour, day of week) that fire at each bar close of a timeframe, and only then,
# for the market calendar in use: the NSE session (09:15-15:30, bars anchored 09:15, the last bar
# of the day closing at 15:30) or the around-the-clock demo (anchored 00:00). The task asks the
# calendar which bar just closed. A timeframe whose closes one crontab cannot say (NSE 1h: xx:15
# and 15:30) gets a second schedule, "... (session close)".
NSE_CRONTABS = {
    "1m": [("*", "9-15", "1-5")],
    "5m": [("*/5", "9-15", "1-5")],
    "15m": [("0,15,30,45", "9-15", "1-5")],
    "1h": [("15", "10-15", "1-5"), ("30", "15", "1-5")],
    "1d": [("30", "15", "1-5")],
}
AROUND_THE_CLOCK_CRONTABS = {
    "1m": [("*", "*", "*")],
    "5m": [("*/5", "*", "*")],
    "15m": [("*/15", "*", "*")],
    "1h": [("0", "*", "*")],
    "1d": [("0", "0", "*")],
}
# Defaults of earlier releases (1h and 1d fired every 15 minutes and logged "too late to trade"):
# a schedule still on one of these, or on the other calendar's default, is brought in line.
_EARLIER_DEFAULTS = {("*/15", "*", "*"), ("*", "*", "*"), ("*/5", "*", "*")}
BAR_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
SCHEDULE_PREFIX = "trading:"


def timeframe_crontabs() -> dict[str, list[tuple[str, str, str]]]:
    """The bar-close crontabs for the calendar the market-data source follows."""
    around_the_clock = settings.MARKET_DATA_SOURCE == "simulated" and settings.SIMULATED_MARKET_24X7
    return AROUND_THE_CLOCK_CRONTABS if around_the_clock else NSE_CRONTABS


def _is_a_default(schedule: CrontabSchedule | None, timeframe: str) -> bool:
    if schedule is None:
        return False
    fields = (schedule.minute, schedule.hour, schedule.day_of_week)
    known = set(_EARLIER_DEFAULTS)
    for table in (NSE_CRONTABS, AROUND_THE_CLOCK_CRONTABS):
        known.update(table[timeframe])
    return fields in known and schedule.day_of_month == "*" and schedule.month_of_year == "*"


def _every(seconds: int) -> IntervalSchedule:
    schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    return schedule


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
    """Create the missing periodic tasks; returns the names created (or brought to bar closes)."""
    created = []
    for timeframe, crontabs in timeframe_crontabs().items():
        for number, (minute, hour, day_of_week) in enumerate(crontabs):
            name = f"{SCHEDULE_PREFIX}evaluate {timeframe}" + (" (session close)" if number else "")
            crontab = _crontab(minute, hour=hour, day_of_week=day_of_week)
            task, was_created = PeriodicTask.objects.get_or_create(
                name=name,
                defaults={
                    "task": "execution.tasks.run_timeframe",
                    "crontab": crontab,
                    "args": json.dumps([timeframe]),
                    # A tick still queued after one bar is stale: it never trades.
                    "expire_seconds": min(BAR_SECONDS[timeframe], 300),
                    "description": f"Evaluate every active {timeframe} strategy on each bar close.",
                },
            )
            if was_created:
                created.append(name)
            elif task.crontab_id != crontab.pk and _is_a_default(task.crontab, timeframe):
                task.crontab = crontab  # an earlier release's default, not an operator's choice
                task.save(update_fields=["crontab"])
                created.append(name)
        if len(crontabs) == 1:  # the other calendar's extra schedule would fire at non-closes
            extra = PeriodicTask.objects.filter(name=f"{SCHEDULE_PREFIX}evaluate {timeframe} (session close)")
            extra.filter(crontab__minute="30", crontab__hour="15").delete()
    housekeeping = [
        (
            f"{SCHEDULE_PREFIX}mark to market",
            {
                "task": "execution.tasks.mark_to_market",
                "interval": _every(15),
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
            f"{SCHEDULE_PREFIX}evaluation ledger cleanup",
            {
                "task": "strategies.tasks.evaluation_ledger_cleanup",
                "crontab": _crontab("7"),
                "expire_seconds": 3600,
                "description": "Hourly: trim the per-instrument detail of evaluation ledger rows older than "
                "EVALUATION_DETAIL_DAYS, delete rows older than EVALUATION_LEDGER_DAYS.",
            },
        ),
        (
            f"{SCHEDULE_PREFIX}webhook requests cleanup",
            {
                "task": "strategies.tasks.webhook_requests_cleanup",
                "crontab": _crontab("40", hour="2"),
                "expire_seconds": 3600,
                "description": "02:40 IST: delete webhook requests older than WEBHOOK_REQUEST_RETENTION_DAYS.",
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
        # Orders, trades and positions of every logged-in Kite account against Kite's books. It only
        # reads and records, so an emergency stop leaves it running.
        (
            f"{SCHEDULE_PREFIX}reconcile Kite accounts",
            {
                "task": "execution.tasks.reconcile_kite_accounts",
                "interval": _every(30),
                "expire_seconds": 30,
                "description": "Bring orders, fills and positions in line with Kite's order book, trades and net "
                "positions; flag ledger/broker position differences.",
            },
        ),
        # Deliveries a lost message left pending are sent again, and expired past their TTL. It decides
        # nothing an entry limit would not refuse, so an emergency stop leaves it running too.
        (
            f"{SCHEDULE_PREFIX}sweep deliveries",
            {
                "task": "execution.tasks.sweep_deliveries",
                "interval": _every(settings.DELIVERY_SWEEP_SECONDS),
                "expire_seconds": settings.DELIVERY_SWEEP_SECONDS,
                "description": "Send again every signal delivery still pending after DELIVERY_GRACE_SECONDS; "
                "expire those past the signal's TTL with their reason.",
            },
        ),
        # Operations (emergency stops, flattens) whose message was lost are sent again; those whose
        # worker died are failed and replaced. Reduces risk only, so an emergency stop leaves it running.
        (
            f"{SCHEDULE_PREFIX}sweep operations",
            {
                "task": "execution.tasks.sweep_operations",
                "interval": _every(5),
                "expire_seconds": 5,
                "description": "Send again every operation still queued after OPERATION_REQUEUE_SECONDS; mark "
                "failed and replace every running one whose worker has not reported for OPERATION_STALL_SECONDS.",
            },
        ),
    ]
    for name, defaults in housekeeping:
        _, was_created = PeriodicTask.objects.get_or_create(name=name, defaults=defaults)
        if was_created:
            created.append(name)
    return created


# The schedules that make strategies trade. Housekeeping (mark to market, the MIS square-off,
# lifting daily-loss halts) only watches or reduces risk, so an emergency stop leaves it running.
TRADING_TASKS = ("execution.tasks.run_timeframe",)


def set_trading_schedules_enabled(*, enabled: bool) -> int:
    """Enable or disable every schedule that evaluates strategies (emergency stop disables them).

    Saved one by one, not with a queryset update: each change reaches the audit log (who, from
    where, enabled before and after) and django-celery-beat's signal that tells beat to reload.
    """
    changed = 0
    for task in PeriodicTask.objects.filter(task__in=TRADING_TASKS).exclude(enabled=enabled):
        task.enabled = enabled
        task.save(update_fields=["enabled"])
        changed += 1
    return changed


def timeframes_switched_off() -> set[str]:
    """Timeframes that have trading schedules and none of them enabled (an operator turned them off
    in the admin, or an emergency stop did): Start does not evaluate them either (execution/engine/bar.py)."""
    enabled, disabled = set(), set()
    schedules = PeriodicTask.objects.filter(task__in=TRADING_TASKS).values_list("args", "kwargs", "enabled")
    for args, kwargs, on in schedules:
        try:
            timeframe = (json.loads(args or "[]") or [None])[0] or json.loads(kwargs or "{}").get("timeframe")
        except (ValueError, TypeError, AttributeError, KeyError):
            continue  # a schedule whose arguments the task could not read either
        (enabled if on else disabled).add(timeframe)
    return disabled - enabled

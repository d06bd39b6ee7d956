"""Celery tasks for risk housekeeping: each calls one service and returns something small to log."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def lift_daily_loss_halts() -> list[int]:
    """From beat every 15 minutes; lifts yesterday's daily-loss halts at the session start only."""
    return [account.id for account in services.daily_loss_halts_lift()]


@shared_task(ignore_result=True)
def kite_preopen_login_check() -> list[int]:
    """08:45 IST on weekdays: warn about every Kite account that is not logged in for the day."""
    return [account.id for account in services.kite_logins_check()]

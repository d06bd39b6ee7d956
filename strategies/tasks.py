"""Celery tasks for strategies' housekeeping: each calls one service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def evaluation_ledger_cleanup() -> int:
    """From beat, hourly: trim the per-instrument detail of rows older than EVALUATION_DETAIL_DAYS,
    delete rows older than EVALUATION_LEDGER_DAYS; returns how many rows were deleted."""
    from django.conf import settings

    services.evaluations_trim_detail(days=settings.EVALUATION_DETAIL_DAYS)
    return services.evaluations_delete_older(days=settings.EVALUATION_LEDGER_DAYS)


@shared_task(ignore_result=True)
def webhook_requests_cleanup() -> int:
    """From beat, nightly: delete webhook requests older than WEBHOOK_REQUEST_RETENTION_DAYS."""
    from django.conf import settings

    return services.webhook_requests_delete_older(days=settings.WEBHOOK_REQUEST_RETENTION_DAYS)

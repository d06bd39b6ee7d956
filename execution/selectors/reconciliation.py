"""Reads for reconciliation: where the ledger and the broker disagree, and what is still unresolved."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import Order, OrderStatus, PositionMismatch

__all__ = ["open_position_mismatches", "unknown_orders"]


def open_position_mismatches(*, account_id: int | None = None, confirmed_only: bool = False) -> QuerySet:
    """Ledger/broker position differences not yet resolved, newest first.

    ``confirmed_only``: seen by at least two reconciliations, so a fill that landed between reading
    trades and positions (a difference of one pass) is not shown as an alarm.
    """
    mismatches = PositionMismatch.objects.filter(resolved_at__isnull=True).select_related("account", "instrument")
    if account_id is not None:
        mismatches = mismatches.filter(account_id=account_id)
    if confirmed_only:
        mismatches = mismatches.filter(times_seen__gte=2)
    return mismatches


def unknown_orders(*, account_id: int | None = None) -> QuerySet:
    """Orders whose placement outcome is still being looked for in the broker's order book."""
    orders = Order.objects.filter(status=OrderStatus.UNKNOWN).select_related("account", "instrument")
    return orders.filter(account_id=account_id) if account_id is not None else orders

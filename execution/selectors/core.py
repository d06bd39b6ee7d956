"""Reads the order path needs: the signal an order task starts from, and the open positions."""

from __future__ import annotations

from django.db.models import QuerySet

from strategies.models import Signal

from ..models import Position

# The account book defines "today" and every figure of an account.
from ..orders.book import market_today_start

__all__ = [
    "signal_for_execution",
    "market_today_start",
    "open_positions",
]


def signal_for_execution(*, signal_id: int) -> Signal:
    """The signal with its strategy and instrument: read once per order message, for all its accounts.

    Raises ``Signal.DoesNotExist``.
    """
    return Signal.objects.select_related("strategy", "instrument").get(pk=signal_id)


def open_positions(*, account_id: int | None = None) -> QuerySet[Position]:
    qs = Position.objects.exclude(quantity=0).select_related("account", "strategy", "instrument")
    return qs.filter(account_id=account_id) if account_id else qs

"""Reads for orders, positions and P&L."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.db import connection
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Abs

from strategies.models import Instrument, Signal, Strategy

from ..models import AccountStrategy, Fill, Order, Position

# The account book defines "today" and every figure of an account.
from ..orders.book import ZERO, market_today_start
from ..sql import ModelColumns

__all__ = [
    "signal_for_execution",
    "market_today_start",
    "enabled_mappings_for_strategy",
    "open_positions",
    "account_orders",
    "pnl_by_account",
]


_SIGNAL_COLUMNS = ModelColumns(Signal, "sg")
_STRATEGY_COLUMNS = ModelColumns(Strategy, "st")
_INSTRUMENT_COLUMNS = ModelColumns(Instrument, "ins")


_SIGNAL_SQL = """
SELECT {columns}
FROM strategies_signal sg
JOIN strategies_strategy st ON st.id = sg.strategy_id
JOIN strategies_instrument ins ON ins.id = sg.instrument_id
WHERE sg.id = %s
"""


@cache
def _signal_sql(vendor: str) -> str:  # vendor: the cache key (quoting is the backend's)
    columns = ", ".join(c.select() for c in (_SIGNAL_COLUMNS, _STRATEGY_COLUMNS, _INSTRUMENT_COLUMNS))
    return _SIGNAL_SQL.format(columns=columns)


def signal_for_execution(*, signal_id: int) -> Signal:
    """The signal with its strategy and instrument, in one plain-SQL read (every order task starts here).

    Raises ``Signal.DoesNotExist`` as ``Signal.objects.get`` would.
    """
    with connection.cursor() as cursor:
        cursor.execute(_signal_sql(connection.vendor), [signal_id])
        row = cursor.fetchone()
    if row is None:
        raise Signal.DoesNotExist(f"Signal {signal_id} does not exist.")
    signal = _SIGNAL_COLUMNS.build(row)
    signal.strategy = _STRATEGY_COLUMNS.build(row, len(_SIGNAL_COLUMNS.fields))
    signal.instrument = _INSTRUMENT_COLUMNS.build(row, len(_SIGNAL_COLUMNS.fields) + len(_STRATEGY_COLUMNS.fields))
    return signal


def enabled_mappings_for_strategy(*, strategy_id: int) -> QuerySet[AccountStrategy]:
    return AccountStrategy.objects.filter(strategy_id=strategy_id, enabled=True).select_related("account")


def open_positions(*, account_id: int | None = None) -> QuerySet[Position]:
    qs = Position.objects.exclude(quantity=0).select_related("account", "strategy", "instrument")
    return qs.filter(account_id=account_id) if account_id else qs


def account_orders(*, account_id: int) -> QuerySet[Order]:
    return Order.objects.filter(account_id=account_id).select_related("instrument", "strategy")


def pnl_by_account(now: datetime | None = None) -> list[dict]:
    """Per account: realised today, unrealised now, total, and open position count."""
    start = market_today_start(now)
    realised = dict(
        Fill.objects.filter(filled_at__gte=start)
        .values("account")
        .annotate(t=Sum("realised_pnl"))
        .values_list("account", "t")
    )
    unrealised = {
        row["account"]: row
        for row in Position.objects.exclude(quantity=0)
        .values("account")
        .annotate(u=Sum("unrealised_pnl"), n=Count("id"), exposure=Sum(Abs(F("quantity")) * F("average_price")))
    }
    from accounts.models import Account

    rows = []
    for account in Account.objects.order_by("name"):
        r = realised.get(account.id) or ZERO
        u_row = unrealised.get(account.id, {})
        u = u_row.get("u") or ZERO
        rows.append(
            {
                "account_id": account.id,
                "account": account.name,
                "realised": r,
                "unrealised": u,
                "total": r + u,
                "open_positions": u_row.get("n", 0),
            }
        )
    return rows

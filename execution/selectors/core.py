"""Reads the order path needs: the signal an order task starts from, and the open positions."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import QuerySet

from strategies.models import Instrument, Signal, Strategy

from ..models import Position

# The account book defines "today" and every figure of an account.
from ..orders.book import market_today_start
from ..sql import ModelColumns

__all__ = [
    "signal_for_execution",
    "market_today_start",
    "open_positions",
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


def open_positions(*, account_id: int | None = None) -> QuerySet[Position]:
    qs = Position.objects.exclude(quantity=0).select_related("account", "strategy", "instrument")
    return qs.filter(account_id=account_id) if account_id else qs

"""Evaluation ledger size: bytes a ledger row takes in the database, per row, per day and for the
days the ledger keeps, and what writing and reading it costs.

N instruments under the five built-in strategies (as ``benchmark_evaluation`` builds them) are
evaluated on the simulated market for a few 1m bars and each bar's ledger rows written the way the
engine writes them. Only run it on a database made for it (the command makes a throwaway one).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from .evaluation import TIMEFRAME, build_universe

NSE_BARS_PER_DAY = 375  # 1m bars in an NSE session, 09:15 to 15:30


@dataclass
class LedgerSize:
    instruments: int
    strategies: int
    rows: int
    disk_bytes_per_row: float  # table, TOAST and indexes, over the rows
    column_bytes_per_row: float  # the per-instrument detail as stored (compressed where the database does)
    api_bytes_per_row: float  # the row as /api/evaluations answers it (JSON)
    write_ms_per_bar: float  # every strategy's row for one bar
    state_read_ms: float  # strategy_instrument_states of one strategy (last 5 bars)

    def per_day(self) -> float:
        return self.disk_bytes_per_row * self.strategies * NSE_BARS_PER_DAY


def measure_ledger(*, instruments: int, bars: int, first_close: datetime) -> LedgerSize:
    from django.db import connection

    from strategies import services
    from strategies.calendar import MarketCalendar
    from strategies.marketdata import SimulatedMarketData
    from strategies.models import Evaluation, Strategy
    from strategies.selectors import strategy_instrument_states
    from strategies.serializers import EvaluationSerializer

    Evaluation.objects.all().delete()  # the ledger holds this count's rows only
    strategies = build_universe(instruments=instruments, prefix="LDG")
    ids = [s.pk for s in strategies]
    source = SimulatedMarketData(calendar=MarketCalendar(around_the_clock=True))
    writes = []
    for bar in range(bars):
        bar_close = first_close + timedelta(minutes=bar)
        report = services.evaluate_timeframe(
            strategies=list(Strategy.objects.filter(pk__in=ids)),
            timeframe=TIMEFRAME,
            bar_close=bar_close,
            source=source,
        )
        started = time.perf_counter()
        services.evaluations_record(report=report, timeframe=TIMEFRAME, bar_close=bar_close, signals_made={})
        writes.append(time.perf_counter() - started)

    rows = Evaluation.objects.filter(strategy_id__in=ids)
    count = rows.count()
    table = Evaluation._meta.db_table
    column = Evaluation._meta.get_field("instruments").column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM FULL ANALYZE " + connection.ops.quote_name(table))  # this count's rows, packed
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            disk = cursor.fetchone()[0]
            cursor.execute(f"SELECT avg(pg_column_size({connection.ops.quote_name(column)})) FROM {table}")  # noqa: S608
            stored = float(cursor.fetchone()[0])
        else:  # SQLite: the row's text, uncompressed
            cursor.execute(f"SELECT avg(length({column})), sum(length({column})) FROM {table}")  # noqa: S608
            stored, disk = cursor.fetchone()
    api = statistics.mean(len(_json(EvaluationSerializer(row).data)) for row in rows.select_related("strategy"))
    reads = []
    for _ in range(5):
        started = time.perf_counter()
        strategy_instrument_states(strategy=strategies[0])
        reads.append(time.perf_counter() - started)
    return LedgerSize(
        instruments=instruments,
        strategies=len(strategies),
        rows=count,
        disk_bytes_per_row=disk / count,
        column_bytes_per_row=float(stored),
        api_bytes_per_row=api,
        write_ms_per_bar=statistics.median(writes[1:] or writes) * 1000,
        state_read_ms=statistics.median(reads) * 1000,
    )


def _json(data) -> bytes:
    from rest_framework.renderers import JSONRenderer

    return JSONRenderer().render(data)

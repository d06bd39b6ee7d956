"""Evaluation ledger size: bytes a ledger row takes in the database, per row, per day and for the
days the ledger keeps, and what writing and reading it costs.

N instruments under the five built-in strategies (as ``benchmark_evaluation`` builds them) are
evaluated on the simulated market for a few 1m bars and each bar's ledger rows written the way the
engine writes them. Bytes per row are the growth of the table (with its TOAST and indexes) from
those rows to ten times as many copies of them, so a table's fixed pages do not count. Rows past
EVALUATION_DETAIL_DAYS (their detail trimmed by the hourly ledger task) are measured the same way.
Only run it on a database made for it (the command makes a throwaway one).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from .evaluation import TIMEFRAME, build_universe

NSE_BARS_PER_DAY = 375  # 1m bars in an NSE session, 09:15 to 15:30
COPIES = 10


@dataclass
class LedgerSize:
    instruments: int
    strategies: int
    rows: int
    row_bytes: float  # on disk: table, TOAST and indexes, per row
    column_bytes: float  # the per-instrument detail as stored (compressed where the database does)
    trimmed_row_bytes: float | None  # on disk, a row past EVALUATION_DETAIL_DAYS (None: not trimmed)
    api_bytes: float  # the row as /api/evaluations answers it (JSON)
    write_ms_per_bar: float  # every strategy's row for one bar
    state_read_ms: float  # strategy_instrument_states of one strategy (last 5 bars)

    def per_day(self, row_bytes: float) -> float:
        return row_bytes * self.strategies * NSE_BARS_PER_DAY

    def kept(self, *, ledger_days: int, detail_days: int) -> float:
        """Bytes for the whole ledger: ``detail_days`` of whole rows, the rest trimmed."""
        if self.trimmed_row_bytes is None:
            return self.per_day(self.row_bytes) * ledger_days
        whole = min(detail_days, ledger_days)
        return self.per_day(self.row_bytes) * whole + self.per_day(self.trimmed_row_bytes) * (ledger_days - whole)


def measure_ledger(*, instruments: int, bars: int, first_close: datetime) -> LedgerSize:
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
    api = statistics.mean(len(_json(EvaluationSerializer(row).data)) for row in rows.select_related("strategy"))
    reads = []
    for _ in range(5):
        started = time.perf_counter()
        strategy_instrument_states(strategy=strategies[0])
        reads.append(time.perf_counter() - started)
    row_bytes, column_bytes = _bytes_per_row()

    trimmed = None
    if hasattr(services, "evaluations_trim_detail"):
        services.evaluations_trim_detail(days=0, now=first_close + timedelta(days=1))
        Evaluation.objects.filter(detail_trimmed=False).delete()  # each strategy's last bar stays whole
        trimmed, _ = _bytes_per_row(copies=4 * COPIES)  # small rows: more of them for a steady figure
    return LedgerSize(
        instruments=instruments,
        strategies=len(strategies),
        rows=count,
        row_bytes=row_bytes,
        column_bytes=column_bytes,
        trimmed_row_bytes=trimmed,
        api_bytes=api,
        write_ms_per_bar=statistics.median(writes[1:] or writes) * 1000,
        state_read_ms=statistics.median(reads) * 1000,
    )


def _bytes_per_row(copies: int = COPIES) -> tuple[float, float]:
    """(on disk, detail column) bytes per row: the growth from the rows there to ``copies`` times
    them (the copies are deleted again)."""
    from django.db import connection

    from strategies.models import Evaluation

    table = connection.ops.quote_name(Evaluation._meta.db_table)
    column = connection.ops.quote_name(Evaluation._meta.get_field("instruments").column)
    fields = [f.column for f in Evaluation._meta.concrete_fields if not f.primary_key]
    names = ", ".join(connection.ops.quote_name(f) for f in fields)
    with connection.cursor() as cursor:

        def size() -> tuple[int, int, float]:
            if connection.vendor == "postgresql":
                cursor.execute(f"VACUUM FULL ANALYZE {table}")
                cursor.execute(f"SELECT pg_total_relation_size('{Evaluation._meta.db_table}')")
                disk = cursor.fetchone()[0]
                cursor.execute(f"SELECT count(*), avg(pg_column_size({column})) FROM {table}")  # noqa: S608
            else:  # SQLite: the rows' text, uncompressed
                cursor.execute(f"SELECT sum(length({column})) + 200 * count(*) FROM {table}")  # noqa: S608
                disk = cursor.fetchone()[0]
                cursor.execute(f"SELECT count(*), avg(length({column})) FROM {table}")  # noqa: S608
            rows, stored = cursor.fetchone()
            return disk, rows, float(stored)

        disk_before, rows_before, stored = size()
        cursor.execute(f"SELECT max(id) FROM {table}")  # noqa: S608
        last_id = cursor.fetchone()[0]
        shifted = names.replace(
            connection.ops.quote_name("bar_close"),
            "bar_close + make_interval(days => g)"
            if connection.vendor == "postgresql"
            else "datetime(bar_close, '+' || g || ' days')",
        )
        series = (
            f"generate_series(1, {copies - 1}) AS g"
            if connection.vendor == "postgresql"
            else f"(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {copies - 1}) "  # noqa: S608
            "SELECT g FROM s)"
        )
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {shifted} FROM {table} CROSS JOIN {series}")  # noqa: S608
        disk_after, rows_after, _ = size()
        cursor.execute(f"DELETE FROM {table} WHERE id > %s", [last_id])  # noqa: S608
    return (disk_after - disk_before) / (rows_after - rows_before), stored


def _json(data) -> bytes:
    from rest_framework.renderers import JSONRenderer

    return JSONRenderer().render(data)

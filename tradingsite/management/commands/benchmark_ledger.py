from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tradingsite.benchmarks.ledger import NSE_BARS_PER_DAY, LedgerSize, measure_ledger

FIRST_CLOSE = datetime(2026, 11, 20, 11, 0, tzinfo=ZoneInfo("Asia/Kolkata"))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


class Command(BaseCommand):
    help = (
        "Measure the evaluation ledger's size: N instruments under the five built-in strategies "
        "evaluated for a few 1m bars in a throwaway database; prints bytes per row (on disk and as "
        "stored), per NSE trading day and for EVALUATION_LEDGER_DAYS, and the time to write a bar's "
        "rows and to read a strategy's state. Your own database is never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--instruments", default="50,500", help="comma-separated instrument counts")
        parser.add_argument("--bars", type=int, default=6, help="1m bars evaluated and written per count")

    def handle(self, *args, instruments, bars, **options):
        try:
            counts = [int(n) for n in instruments.split(",")]
        except ValueError:
            raise CommandError("--instruments takes comma-separated whole numbers, e.g. 50,500") from None
        if not counts or min(counts) < 1 or bars < 2:
            raise CommandError("--instruments must be at least 1 and --bars at least 2")
        original_name = connection.settings_dict["NAME"]
        if connection.vendor == "sqlite":
            throwaway = str(settings.VAR_DIR / "benchmark-ledger.sqlite3")
        else:
            throwaway = f"test_{original_name}_ledger_benchmark"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = throwaway
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        self.stdout.write(f"Throwaway database: {name} ({connection.vendor})")
        sizes = []
        try:
            for count in counts:
                sizes.append(measure_ledger(instruments=count, bars=bars, first_close=FIRST_CLOSE))
        finally:
            connection.creation.destroy_test_db(original_name, verbosity=0)
        self._print(sizes)

    def _print(self, sizes: list[LedgerSize]):
        days, detail_days = settings.EVALUATION_LEDGER_DAYS, getattr(settings, "EVALUATION_DETAIL_DAYS", None)
        self.stdout.write("")
        self.stdout.write(
            "| instruments x strategies | row on disk | detail column | trimmed row on disk | API JSON per row "
            f"| a trading day, whole rows | the ledger: {days} days | write per bar | strategy state read |"
        )
        self.stdout.write("|---|---|---|---|---|---|---|---|---|")
        for s in sizes:
            trimmed = "-" if s.trimmed_row_bytes is None else _size(s.trimmed_row_bytes)
            kept = s.kept(ledger_days=days, detail_days=detail_days or days)
            self.stdout.write(
                f"| {s.instruments} x {s.strategies} | {_size(s.row_bytes)} | {_size(s.column_bytes)} | {trimmed} "
                f"| {_size(s.api_bytes)} | {_size(s.per_day(s.row_bytes))} | {_size(kept)} "
                f"| {s.write_ms_per_bar:.0f} ms | {s.state_read_ms:.0f} ms |"
            )
        whole = f"{detail_days} days whole, the rest trimmed" if detail_days else "every row whole"
        self.stdout.write(
            f"A trading day: {NSE_BARS_PER_DAY} 1m bars x the strategies. The ledger: EVALUATION_LEDGER_DAYS "
            f"({days}) trading days, {whole} (EVALUATION_DETAIL_DAYS). Rows on disk: table, TOAST and indexes."
        )

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tradingsite.benchmarks.evaluation import LOOKBACK_BARS, build_universe, measure, store_candles

TARGET_SECONDS = 1.0
# A bar of the around-the-clock calendar the benchmark's data follows (any bar would do).
FIRST_CLOSE = datetime(2026, 11, 20, 11, 0, tzinfo=ZoneInfo("Asia/Kolkata"))


class Command(BaseCommand):
    help = (
        "Time the evaluation of one 1m bar (5 strategies with a 200-bar look-back on N instruments, "
        "ledger written) on the simulated market and on stored candles, cold and warm, in a throwaway "
        "database, and print wall and CPU seconds per bar. Your own database is never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--instruments", default="50,500,1000", help="comma-separated instrument counts")
        parser.add_argument("--sources", default="simulated,database", help="simulated and/or database")
        parser.add_argument("--warm-bars", type=int, default=3, help="bars timed after the cold one")

    def handle(self, *args, instruments, sources, warm_bars, **options):
        try:
            counts = [int(n) for n in instruments.split(",")]
        except ValueError:
            raise CommandError("--instruments takes comma-separated whole numbers, e.g. 50,500") from None
        kinds = [s.strip() for s in sources.split(",") if s.strip()]
        if not counts or min(counts) < 1 or warm_bars < 1 or set(kinds) - {"simulated", "database"} or not kinds:
            raise CommandError("--instruments >= 1, --warm-bars >= 1, --sources from simulated,database")
        original_name = connection.settings_dict["NAME"]
        if connection.vendor == "sqlite":
            throwaway = str(settings.VAR_DIR / "benchmark-evaluation.sqlite3")
        else:
            throwaway = f"test_{original_name}_evaluation_benchmark"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = throwaway
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        self.stdout.write(
            f"Throwaway database: {name} ({connection.vendor}); evaluation processes: {settings.EVALUATION_PROCESSES}"
        )
        timings = []
        try:
            timings = self._run(counts, kinds, warm_bars)
        finally:
            connection.creation.destroy_test_db(original_name, verbosity=0)
        self._print(timings)

    def _run(self, counts, kinds, warm_bars):
        from strategies.calendar import MarketCalendar
        from strategies.marketdata import DatabaseMarketData, SimulatedMarketData

        calendar = MarketCalendar(around_the_clock=True)
        sources = {
            "simulated": lambda: SimulatedMarketData(calendar=calendar),
            "database": lambda: DatabaseMarketData(calendar=calendar),
        }
        timings = []
        for count in counts:
            strategies = build_universe(instruments=count)
            if "database" in kinds:
                last = FIRST_CLOSE.replace(minute=warm_bars)
                stored = store_candles(
                    strategies=strategies, last_close=last, count=LOOKBACK_BARS + warm_bars + 1, calendar=calendar
                )
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("ANALYZE")
                self.stdout.write(f"  {count} instruments: {stored:,} stored candles")
            for kind in kinds:
                timing = measure(
                    label=kind,
                    strategies=strategies,
                    make_source=sources[kind],
                    first_close=FIRST_CLOSE,
                    warm_bars=warm_bars,
                )
                self.stdout.write(
                    f"  {kind:<9} {count:>5}: cold {timing.cold_wall:.2f} s, warm {timing.warm_wall:.2f} s"
                )
                timings.append(timing)
        return timings

    def _print(self, timings):
        self.stdout.write("")
        self.stdout.write("| source | instruments x strategies | cold wall | cold CPU | warm wall | warm CPU |")
        self.stdout.write("|---|---|---|---|---|---|")
        for t in timings:
            self.stdout.write(
                f"| {t.source} | {t.instruments} x {t.strategies} | {t.cold_wall:.2f} s | {t.cold_cpu:.2f} s "
                f"| {t.warm_wall:.2f} s | {t.warm_cpu:.2f} s |"
            )
        self.stdout.write(f"Target: 500 x 5 at most {TARGET_SECONDS:.1f} s per bar (wall), warm.")

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from tradingsite.benchmarks.dashboard import BookSize, Timing, build_trading_book, time_requests

TARGET_P95_MS = 150.0


class Command(BaseCommand):
    help = (
        "Build a large trading book (by default 100 accounts, 20 strategies, 50,000 orders) in a throwaway "
        "database and print p50/p95 latency of every dashboard page, its live-refresh fragment and "
        "/api/pnl/realtime. Your own database is never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=100)
        parser.add_argument("--strategies", type=int, default=20)
        parser.add_argument("--orders", type=int, default=50_000)
        parser.add_argument("--requests", type=int, default=30, help="timed requests per page (after 2 warm-ups)")
        parser.add_argument("--keep", action="store_true", help="keep the throwaway database afterwards")

    def handle(self, *args, accounts, strategies, orders, requests, keep, **options):
        if accounts < 1 or strategies < 1 or orders < 0 or requests < 5:
            raise CommandError("--accounts and --strategies must be at least 1, --orders at least 0, --requests 5")
        original_name = connection.settings_dict["NAME"]
        # A database of its own, named for this benchmark (another benchmark or a test run may be
        # using the default test name); for SQLite a file beside the real one, not an in-memory one.
        if connection.vendor == "sqlite":
            throwaway = str(settings.VAR_DIR / "benchmark-dashboard.sqlite3")
        else:
            throwaway = f"test_{original_name}_dashboard_benchmark"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = throwaway
        test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        self.stdout.write(f"Throwaway database: {test_name} ({connection.vendor})")
        try:
            counts = build_trading_book(size=BookSize(accounts=accounts, strategies=strategies, orders=orders))
            self.stdout.write("Built: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
            if connection.vendor == "postgresql":
                # What autovacuum would do after a day of inserts: without statistics the planner
                # guesses a few hundred rows where there are tens of thousands.
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            timings = self._measure(requests)
        finally:
            if keep:
                self.stdout.write(f"Kept {test_name}.")
            else:
                connection.creation.destroy_test_db(original_name, verbosity=0)
        self._print(timings, requests)

    def _measure(self, requests: int) -> list[Timing]:
        from strategies.models import Signal

        user = get_user_model().objects.create_user("benchmark", is_staff=True)
        client = Client()
        client.force_login(user)
        signal = Signal.objects.order_by("-id").first()
        htmx = {"HX-Request": "true"}
        pages = [
            ("overview", reverse("dashboard:overview"), {}),
            ("overview (live fragment)", reverse("dashboard:overview"), htmx),
            ("P&L", reverse("dashboard:pnl"), {}),
            ("P&L (live fragment)", reverse("dashboard:pnl"), htmx),
            ("P&L charts JSON", reverse("dashboard:pnl-charts"), {}),
            ("risk", reverse("dashboard:risk"), {}),
            ("risk (live fragment)", reverse("dashboard:risk"), htmx),
            ("accounts", reverse("dashboard:accounts"), {}),
            ("strategies", reverse("dashboard:strategies"), {}),
            ("mappings", reverse("dashboard:mappings"), {}),
            ("positions", reverse("dashboard:positions"), {}),
            ("orders", reverse("dashboard:orders"), {}),
            ("orders (live fragment)", reverse("dashboard:orders"), htmx),
            ("orders, blocked only", reverse("dashboard:orders") + "?status=BLOCKED", {}),
            ("orders, page 900", reverse("dashboard:orders") + "?page=900", {}),
            ("signals", reverse("dashboard:signals"), {}),
            ("signal detail", reverse("dashboard:signal", args=[signal.id]) if signal else "", {}),
        ]
        try:  # the price chart's data: 150 bars of simulated candles, the strategy's lines, signals, fills
            chart = reverse("dashboard:chart-data", args=[signal.instrument_id]) + f"?strategy={signal.strategy_id}"
            pages.append(("price chart JSON", chart if signal else "", {}))
        except NoReverseMatch:
            self.stdout.write("No price chart in this deployment: not measured.")
        try:
            pages.append(("/api/pnl/realtime", reverse("api:pnl-realtime"), {}))
        except NoReverseMatch:
            self.stdout.write("No /api/pnl/realtime in this deployment: not measured.")
        timings = []
        for name, url, headers in pages:
            if not url:
                continue
            client.get(url, headers=headers)  # the first request of a session also saves it
            with CaptureQueriesContext(connection) as queries:
                client.get(url, headers=headers)
            query_count = len(queries)  # now: the next request clears the connection's query log
            timing = time_requests(client, name, url, requests=requests, headers=headers)
            timings.append(Timing(**{**timing.__dict__, "queries": query_count}))
        return timings

    def _print(self, timings: list[Timing], requests: int) -> None:
        self.stdout.write(
            f"\n{requests} requests each with the Django test client (whole request: middleware, "
            f"session, queries, templates); target p95 < {TARGET_P95_MS:.0f} ms.\n"
        )
        width = max(len(t.name) for t in timings)
        header = f"{'page':<{width}} | status | queries | {'p50':>8} | {'p95':>8} | {'max':>8} |"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        slow = 0
        for t in timings:
            verdict = "ok" if t.p95_ms < TARGET_P95_MS and t.status == 200 else "OVER"
            slow += verdict != "ok"
            self.stdout.write(
                f"{t.name:<{width}} | {t.status:>6} | {t.queries:>7} | {t.p50_ms:>6.1f}ms | {t.p95_ms:>6.1f}ms | "
                f"{t.max_ms:>6.1f}ms | {verdict}"
            )
        if slow:
            self.stdout.write(self.style.WARNING(f"\n{slow} page(s) over the target."))
        else:
            self.stdout.write(self.style.SUCCESS(f"\nEvery page p95 under {TARGET_P95_MS:.0f} ms."))

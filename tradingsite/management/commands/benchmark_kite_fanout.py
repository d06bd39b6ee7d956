import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tradingsite.benchmarks import kite_fanout as kite_benchmark


class Command(BaseCommand):
    help = (
        "Fan one signal out to N Kite accounts on the local Kite emulator (started here, with a fixed "
        "latency per call) through the real Celery path, and print p50/p95 from signal to last order "
        "acknowledged beside one call's latency. Target: p95 under 2 x one call + 200 ms. Runs in a "
        "throwaway database and on Redis keys of its own; needs DATABASE_URL (PostgreSQL) and REDIS_URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=50)
        parser.add_argument("--repeats", type=int, default=20, help="signals to time, after a first one")
        parser.add_argument("--latency-ms", type=float, default=50, help="emulator latency per call")
        parser.add_argument("--pool", default="threads", choices=["prefork", "threads", "solo"])
        parser.add_argument(
            "--concurrency", type=int, default=4, help="order messages a worker runs at once (its Celery pool)"
        )
        parser.add_argument("--workers", type=int, default=2, help="worker processes (one per core)")
        parser.add_argument("--batch", type=int, default=settings.ORDER_FANOUT_BATCH, help="accounts per order message")
        parser.add_argument(
            "--order-threads",
            type=int,
            default=settings.ORDER_THREADS,
            help="threads per worker process running a message's accounts side by side",
        )

    def handle(self, *args, accounts, repeats, latency_ms, pool, concurrency, workers, batch, order_threads, **options):
        from tradingsite.benchmarks.workers import throwaway_workers

        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError("The benchmark needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).")
        if min(accounts, concurrency, workers, batch, order_threads) < 1 or repeats < 2 or latency_ms < 0:
            raise CommandError(
                "--accounts, --concurrency, --workers, --batch and --order-threads must be at least 1, "
                "--repeats at least 2, --latency-ms >= 0"
            )
        emulator = kite_benchmark.start_emulator(latency=latency_ms / 1000)
        settings.KITE_API_ROOT = emulator.root  # this process reconciles between signals
        try:
            with throwaway_workers(
                name="benchmark_kite",
                workers=workers,
                concurrency=concurrency,
                pool=pool,
                env={
                    "KITE_API_ROOT": emulator.root,
                    "MARKET_DATA_SOURCE": "simulated",
                    "SIMULATED_MARKET_24X7": "true",
                    "ORDER_FANOUT_BATCH": str(batch),
                    "ORDER_THREADS": str(order_threads),
                },
            ):
                report = kite_benchmark.run(emulator=emulator, accounts=accounts, repeats=repeats)
                refused = emulator.count_requests(status=429)
        finally:
            emulator.stop()
        fanout = report.fanout
        self.stdout.write(
            f"Kite fan-out: one signal to {accounts} Kite accounts on the emulator ({latency_ms:g} ms per call); "
            f"{workers} worker(s): {pool} x{concurrency}, {order_threads} order threads each; messages of {batch} "
            f"accounts; {os.cpu_count()} CPUs; PostgreSQL + Redis; "
            f"{repeats} signals after a first one."
        )
        self.stdout.write(f"  one place_order call      p50 {report.call_p50 * 1000:7.1f} ms")
        self.stdout.write(
            f"  signal -> last order ack  p50 {fanout.p50 * 1000:7.1f} ms   p95 {fanout.p95 * 1000:7.1f} ms"
        )
        self.stdout.write(f"  first signal (cold workers)    {report.first * 1000:7.1f} ms")
        verdict = "met" if report.met else "NOT met"
        self.stdout.write(f"  target (2 x call + 200 ms)    {report.target * 1000:7.1f} ms   {verdict}")
        self.stdout.write(f"  HTTP 429 from the emulator: {refused}")

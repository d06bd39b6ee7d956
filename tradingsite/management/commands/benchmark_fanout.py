import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tradingsite.benchmarks import fanout as benchmarks


class Command(BaseCommand):
    help = (
        "Fan one signal out to N paper accounts through the real Celery path (a worker on Redis) and "
        "print p50/p95 from signal to last order placed, beside a sequential per-account loop. "
        "Runs in a throwaway database; needs DATABASE_URL (PostgreSQL) and REDIS_URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", default="1,10,100", help="comma-separated account counts")
        parser.add_argument("--repeats", type=int, default=7, help="signals per account count")
        parser.add_argument("--concurrency", type=int, default=4, help="processes (or threads) per worker")
        parser.add_argument("--workers", type=int, default=1, help="worker processes, each with its own pool")
        parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
        parser.add_argument("--worker-log", help="write the worker's log to this file")

    def handle(self, *args, accounts, repeats, concurrency, pool, workers, worker_log, **options):
        from tradingsite.benchmarks.workers import throwaway_workers

        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError("The benchmark needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).")
        try:
            counts = [int(n) for n in accounts.split(",")]
        except ValueError:
            raise CommandError(f"--accounts must be comma-separated whole numbers, not {accounts!r}")
        if repeats < 2 or any(n < 1 for n in counts) or min(concurrency, workers) < 1:
            raise CommandError(
                "--repeats must be at least 2, and every account count, --concurrency and --workers at least 1"
            )
        with throwaway_workers(
            name="benchmark_fanout", workers=workers, concurrency=concurrency, pool=pool, log=worker_log
        ):
            rows = []
            for n in counts:
                parallel = benchmarks.run_celery(n, repeats)
                sequential = benchmarks.run_sequential(n, repeats)
                rows.append((n, parallel, sequential))
        self._print(rows, concurrency, pool, workers)

    def _print(self, rows, concurrency, pool, workers):
        self.stdout.write(
            f"Fan-out of one signal to N paper accounts; {workers} worker(s): {pool} x{concurrency}; "
            f"{os.cpu_count()} CPUs; PostgreSQL + Redis. Latency = signal recorded -> last order placed."
        )
        header = (
            f"{'accounts':>8} | {'celery p50':>10} | {'celery p95':>10} | {'orders/s':>9} | "
            f"{'seq p50':>9} | {'seq p95':>9} | {'speed-up':>8}"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for n, par, seq in rows:
            self.stdout.write(
                f"{n:>8} | {par.p50 * 1000:>8.0f}ms | {par.p95 * 1000:>8.0f}ms | {par.orders_per_second:>9.0f} | "
                f"{seq.p50 * 1000:>7.0f}ms | {seq.p95 * 1000:>7.0f}ms | {seq.p50 / par.p50:>7.2f}x"
            )

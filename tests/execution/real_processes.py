"""The real processes for the durability tests: a worker and beat on a Redis of the test's own, on the
test's PostgreSQL database (tests/execution/test_delivery_durability.py, test_operation_durability.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests.own_redis import OwnRedis, celery_app_on
from tradingsite.benchmarks.workers import ROOT, database_url, start_worker


@contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis]:
    """A Redis of the test's own (the test may stop and restart it), this process's Celery app on it."""
    redis = OwnRedis(folder)
    redis.start()
    with celery_app_on(redis.url):
        yield redis
    redis.stop()


def process_env(redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of the worker and beat: this test's database, the test's Redis, and ``settings``."""
    return {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "CELERY_KEY_PREFIX": "",
        "ORDER_THREADS": "2",
        **settings,
    }


def start_test_worker(env: dict[str, str], log_dir: Path, name: str = "worker") -> subprocess.Popen:
    return start_worker(env=env, concurrency=2, log=open(log_dir / f"{name}.log", "w"))  # noqa: SIM115


@contextmanager
def running_beat(
    env: dict[str, str], log_dir: Path, *, sweep: str, task: str, every: int
) -> Iterator[subprocess.Popen]:
    """Beat with one sweep schedule (``sweep`` runs ``task`` every ``every`` seconds), returned once it
    has sent its first sweep. The tests' promises are about a running sweeper: each deadline is
    counted from its fault, and beat's own start (Django's imports, ~5 s idle, 10-25 s and more on a
    loaded machine) is no part of it. Started beside the test, beat could still be importing when the
    fault came, and the whole budget went on its start (the flake with every killed batch's
    deliveries still pending and no sweep in the worker's log)."""
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=sweep, task=task, interval=interval)
    log = log_dir / "beat.log"
    process = subprocess.Popen(  # noqa: S603 (fixed argv: this interpreter running celery beat)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tradingsite",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile",
            str(log_dir / "beat.pid"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while f"Sending due task {sweep}" not in log.read_text():
            if process.poll() is not None:
                raise RuntimeError(f"beat exited at start with code {process.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("beat sent no sweep within 180 s of its start")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a prefork worker's pool)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found

"""Start a real Celery worker as a subprocess (tests and benchmarks), and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    *, env: dict[str, str], concurrency: int = 4, pool: str = "prefork", queues: str = "default,orders", log=None
) -> subprocess.Popen:
    from tradingsite.celery import app

    hostname = f"worker-{os.getpid()}-{time.time_ns()}@{socket.gethostname()}"
    worker = subprocess.Popen(  # noqa: S603 (fixed argv: this interpreter running celery)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tradingsite",
            "worker",
            "--queues",
            queues,
            "--concurrency",
            str(concurrency),
            "--pool",
            pool,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--hostname",
            hostname,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited at start with code {worker.returncode}")
        replies = app.control.ping(timeout=0.5)
        if any(hostname in reply for reply in replies):  # this worker, not another one on the same broker
            return worker
    stop_worker(worker)
    raise RuntimeError("the Celery worker did not answer a ping within 60 s")


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database a Django connection is using (PostgreSQL)."""
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


@contextmanager
def throwaway_workers(
    *, name: str, workers: int, concurrency: int, pool: str, env: dict[str, str] | None = None, log: str | None = None
) -> Iterator[None]:
    """A database and Redis keys of their own, with ``workers`` real workers on them (the benchmarks).

    Another worker on the same Redis never takes their tasks, and nothing an operator keeps in the
    configured database is touched: the database is created here and dropped on the way out.
    ``log``: a file for the worker's output (``log.N`` for each of several workers).
    """
    from django.conf import settings
    from django.db import connection

    from tradingsite.celery import app

    key_prefix = f"{name}{os.getpid()}:"
    app.conf.broker_transport_options = {**app.conf.broker_transport_options, "global_keyprefix": key_prefix}
    original_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{name}_{os.getpid()}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    worker_env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_KEY_PREFIX": key_prefix,
        **(env or {}),
    }
    started = []
    try:
        for number in range(workers):
            output = open(f"{log}.{number}" if workers > 1 else log, "w") if log else None  # noqa: SIM115 (closed with the worker)
            started.append(start_worker(env=worker_env, concurrency=concurrency, pool=pool, log=output))
        yield
    finally:
        for worker in started:
            stop_worker(worker)
        connection.creation.destroy_test_db(original_name, verbosity=0)

"""Start a real Celery worker as a subprocess (tests and benchmarks), and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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

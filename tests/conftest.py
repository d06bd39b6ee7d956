import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def engine_running(db):
    from risk import services

    services.engine_start(reason="test")


@pytest.fixture(autouse=True)
def _stop_order_threads():
    """Order threads keep database connections; stopped after each test, they close them."""
    yield
    from execution import order_threads

    order_threads.shutdown()


@pytest.fixture(scope="session")
def kite_emulator_session():
    """One local Kite emulator for the whole run; the Celery worker subprocess is pointed at it."""
    from tests.kite_emulator import KiteEmulator

    with KiteEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, kite_emulator_session):
    """A real Celery worker process on Redis, reading the test database.

    Tests that use it need committed data: mark them ``django_db(transaction=True)``.
    """
    from django.conf import settings
    from django.db import connection

    from tradingsite.benchmarks.workers import database_url, start_worker, stop_worker
    from tradingsite.celery import app

    if not settings.REDIS_URL:
        pytest.skip("the Celery worker tests need REDIS_URL")
    app.control.purge()
    log = open(ROOT / "var" / "test-worker.log", "w") if (ROOT / "var").is_dir() else None
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "KITE_API_ROOT": kite_emulator_session.root,
        "KITE_TIMEOUT_SECONDS": "2",
    }
    worker = start_worker(env=env, concurrency=4, log=log)
    try:
        yield worker
    finally:
        stop_worker(worker)


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; returns its value or fails the test with a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")

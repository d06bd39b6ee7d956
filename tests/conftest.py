import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests import run_isolation

ROOT = Path(__file__).resolve().parent.parent

# The properties are about values, not time: an example that takes longer than Hypothesis's 200 ms
# deadline on a loaded machine (other runs on both cores, a garbage collection) is not a failure, nor
# is slow data generation. A test whose point is speed says so itself.
hypothesis_settings.register_profile(
    "project", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
hypothesis_settings.load_profile("project")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """This run's own temporary folder and database (tests/run_isolation.py says why); what runs that
    were killed left behind is removed."""
    if config.option.basetemp is None:
        run_isolation.stale_folders_remove()
        config.option.basetemp = str(run_isolation.run_folder())
        config._own_basetemp = True
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        try:
            run_isolation.stale_databases_drop(database)
        except Exception as exc:  # PostgreSQL down: the tests that need it say so themselves
            config.issue_config_time_warning(pytest.PytestWarning(f"stale test databases not checked: {exc}"), 2)


def pytest_sessionfinish(session, exitstatus):
    session.config._exit_status = exitstatus


def pytest_unconfigure(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql") and not config.getoption("reuse_db", False):
        try:
            run_isolation.own_database_drop(database)
        except Exception:  # the server is gone: nothing to drop
            pass
    if getattr(config, "_own_basetemp", False) and getattr(config, "_exit_status", 1) == 0:
        shutil.rmtree(config.option.basetemp, ignore_errors=True)  # kept after a failure, for its logs


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

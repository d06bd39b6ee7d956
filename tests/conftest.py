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


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process, so what a service enqueues (after commit) happens within the test."""
    from tradingsite.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (this process's own, tests/settings.py): throttle counts
    and lockouts are per address, and every test's client is 127.0.0.1, so tests run earlier in the same
    minute used up the anonymous token endpoint's 30 a minute for a later one (test_readme's curl got a
    429 and no token, depending on the order the tests ran in)."""
    from django.core.cache import cache

    cache.clear()


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
def celery_worker(django_db_setup, django_db_blocker, kite_emulator_session, tmp_path_factory):
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
    # In this run's own folder (kept when the run fails): two runs in one checkout no longer write one file.
    log = open(tmp_path_factory.getbasetemp() / "celery-worker.log", "w")  # noqa: SIM115 (closed with the worker)
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "KITE_API_ROOT": kite_emulator_session.root,
        "KITE_TIMEOUT_SECONDS": "2",
        # Each order thread keeps a PostgreSQL connection for the worker's life: 4 processes x 25
        # threads could take most of the shared server's 100 while other runs (and benchmarks) use it,
        # and a run beside them failed on "too many clients". 4 still runs a message's accounts side by side.
        "ORDER_THREADS": "4",
    }
    worker = start_worker(env=env, concurrency=4, log=log)
    try:
        yield worker
    finally:
        stop_worker(worker)


def celery_worker_idle() -> bool:
    """True only when the worker has answered that it runs and holds nothing and no message waits in
    its queues. A worker that does not answer in time (a loaded machine) is not idle: counting a missed
    answer as idle let a test end, and its database be flushed, under a task still writing to it.

    Tasks are acknowledged when they start, so an empty queue alone says nothing about what the worker
    took. The queues are read before and after asking it, so a message it fetches meanwhile is seen
    either in the queue or among what it holds. Tasks waiting for a retry (countdown) are revoked, not
    awaited: they belong to a test that is over.
    """
    from tradingsite.celery import app

    if _queued_messages():
        return False
    inspect = app.control.inspect(timeout=2)
    active, reserved, scheduled = inspect.active(), inspect.reserved(), inspect.scheduled()
    if active is None or reserved is None or scheduled is None:
        return False
    waiting = [task["request"]["id"] for tasks in scheduled.values() for task in tasks]
    if waiting:
        app.control.revoke(waiting)
    return not any(active.values()) and not any(reserved.values()) and not _queued_messages()


def _queued_messages() -> int:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    try:
        return sum(client.llen(prefix + queue) for queue in ("default", "orders"))
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _celery_worker_idle_before_the_flush(request):
    """A test that used the real worker ends only when the worker is idle: its database is flushed
    (TRUNCATE) right after, and a task still running would deadlock with the flush or write into the
    next test. Set up after the database fixture, so torn down before it."""
    if "celery_worker" not in request.fixturenames:
        yield
        return
    yield
    wait_for(celery_worker_idle, timeout=60, interval=0.2)


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; returns its value or fails the test with a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")

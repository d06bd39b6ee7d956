"""Durable delivery with the real processes: a worker and beat on a Redis of the test's own, on
PostgreSQL, paper accounts. Redis is stopped and started again in the middle of a burst of signals,
a worker's child is killed in the middle of a fan-out, the whole worker is killed and replaced: every
(signal, account) ends decided (ordered, refused, nothing to do) or expired with its reason within
the signal's TTL plus a sweep, the API never answers 500 for a signal it committed, and the worker
and beat are still running afterwards.
"""

from __future__ import annotations

import os
import signal as signals
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from execution.models import Delivery, DeliveryState, Order
from tests.execution.book import last_price
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory
from tests.own_redis import OwnRedis, celery_app_on
from tradingsite.benchmarks.workers import ROOT, database_url, start_worker, stop_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TTL, GRACE, SWEEP = 20, 2, 2


@pytest.fixture
def own_redis(tmp_path):
    redis = OwnRedis(tmp_path)
    redis.start()
    with celery_app_on(redis.url):
        yield redis
    redis.stop()


@pytest.fixture
def process_env(own_redis):
    return {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": own_redis.url,
        "CELERY_KEY_PREFIX": "",
        "SIGNAL_ORDER_TTL_SECONDS": str(TTL),
        "DELIVERY_GRACE_SECONDS": str(GRACE),
        "DELIVERY_SWEEP_SECONDS": str(SWEEP),
        "ORDER_THREADS": "2",
    }


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path


def _start_worker(env, log_dir, name="worker"):
    return start_worker(env=env, concurrency=2, log=open(log_dir / f"{name}.log", "w"))  # noqa: SIM115


@pytest.fixture
def worker(process_env, log_dir):
    started = [_start_worker(process_env, log_dir)]
    yield started
    for process in started:
        if process.poll() is None:
            stop_worker(process)


@pytest.fixture
def beat(process_env, log_dir, settings):
    every, _ = IntervalSchedule.objects.get_or_create(every=SWEEP, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="sweep deliveries", task="execution.tasks.sweep_deliveries", interval=every)
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
        env={**os.environ, **process_env},
        stdout=open(log_dir / "beat.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    _wait_until_sweeping(process, log_dir / "beat.log")
    yield process
    process.terminate()
    process.wait(timeout=20)


def _wait_until_sweeping(beat: subprocess.Popen, log: Path, *, timeout: float = 180) -> None:
    """Return once beat has sent its first sweep. The promise is about a running sweeper: each test's
    deadline is counted from its fault, and beat's own start (Django's imports, ~5 s idle, 10-25 s
    and more on a loaded machine) is no part of it. Started beside the test, beat could still be
    importing when the fault came and the whole budget went on its start: the flake with every
    killed batch's deliveries still pending and no sweep in the worker's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if beat.poll() is not None:
            raise RuntimeError(f"beat exited at start with code {beat.returncode}: {log.read_text()[-2000:]}")
        if "Sending due task sweep deliveries" in log.read_text():
            return
        time.sleep(0.2)
    beat.terminate()
    beat.wait(timeout=20)
    raise RuntimeError(f"beat sent no sweep within {timeout:.0f} s of its start")


@pytest.fixture
def book(engine_running):
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    strategy = StrategyFactory(instruments=[instrument])

    def accounts(n: int):
        made = [AccountFactory(capital=Decimal("1000000")) for _ in range(n)]
        for account in made:
            MappingFactory(
                account=account, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1")
            )
        return made

    return strategy, instrument, accounts


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(user=admin_user)
    return client


def post_signal(api, strategy, instrument, target: int):
    payload = {"strategy": strategy.id, "instrument": instrument.kite_symbol, "target": target}
    if target:
        payload["stop_price"] = str((last_price(instrument) * Decimal("0.98")).quantize(Decimal("0.05")))
    return api.post("/api/signals/manual", payload, format="json")


def wait_until_decided(signal_ids, *, timeout: float) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Delivery.objects.filter(signal_id__in=signal_ids, state=DeliveryState.PENDING).exists():
            break
        time.sleep(0.25)
    return list(Delivery.objects.filter(signal_id__in=signal_ids))


def assert_each_pair_ended_once_with_a_reason(signal_ids, accounts, deliveries):
    pairs = [(d.signal_id, d.account_id) for d in deliveries]
    assert sorted(pairs) == sorted((s, a.id) for s in signal_ids for a in accounts), "one delivery per pair"
    pending = [p for d, p in zip(deliveries, pairs, strict=True) if d.state == DeliveryState.PENDING]
    assert not pending, f"{len(pending)} (signal, account) pairs still pending past TTL + sweep"
    for d in deliveries:
        assert d.reason, f"{d}: no reason"
        orders = Order.objects.filter(signal_id=d.signal_id, account_id=d.account_id)
        if d.state in (DeliveryState.NOTHING_TO_DO, DeliveryState.EXPIRED):
            assert not orders.exists(), f"{d}: {d.state} but has orders"
        else:
            assert orders.exists(), f"{d}: {d.state} without orders"


def test_redis_stopped_and_restarted_mid_burst_loses_no_pair_and_no_process(api, book, own_redis, worker, beat):
    strategy, instrument, make_accounts = book
    accounts = make_accounts(6)
    answers = []
    for n, target in enumerate([1, 0, 1, 0, 1, 0, 1, 0]):
        if n == 3:
            own_redis.stop()
        if n == 6:
            own_redis.start()
        answers.append(post_signal(api, strategy, instrument, target))
    assert [a.status_code for a in answers] == [201] * 8, [a.content[:200] for a in answers]
    signal_ids = [a.json()["id"] for a in answers]
    assert all(len(a.json()["deliveries"]) == len(accounts) for a in answers)

    deliveries = wait_until_decided(signal_ids, timeout=TTL + SWEEP + GRACE + 15)

    assert_each_pair_ended_once_with_a_reason(signal_ids, accounts, deliveries)
    assert worker[0].poll() is None, "the worker exited when Redis restarted"
    assert beat.poll() is None, "beat exited when Redis restarted"


def _children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def test_a_worker_child_killed_during_a_fan_out_loses_no_pair(api, book, worker, beat):
    strategy, instrument, make_accounts = book
    accounts = make_accounts(40)
    response = post_signal(api, strategy, instrument, 1)
    assert response.status_code == 201
    signal_id = response.json()["id"]
    decided = Delivery.objects.filter(signal_id=signal_id).exclude(state=DeliveryState.PENDING)
    deadline = time.monotonic() + 30
    while not decided.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    for child in _children(worker[0].pid):
        os.kill(child, signals.SIGKILL)
    pending_at_kill = Delivery.objects.filter(signal_id=signal_id, state=DeliveryState.PENDING).count()

    deliveries = wait_until_decided([signal_id], timeout=TTL + SWEEP + GRACE + 15)

    assert pending_at_kill > 0, "the fan-out had finished before the kill: nothing was tested"
    assert_each_pair_ended_once_with_a_reason([signal_id], accounts, deliveries)
    assert worker[0].poll() is None


def test_the_whole_worker_killed_and_restarted_loses_no_pair(api, book, worker, beat, process_env, log_dir):
    strategy, instrument, make_accounts = book
    accounts = make_accounts(20)
    first = post_signal(api, strategy, instrument, 1)
    assert first.status_code == 201
    # Killed as a crash would: no warm shutdown, the messages it held are left to Redis.
    for child in _children(worker[0].pid):
        os.kill(child, signals.SIGKILL)
    worker[0].kill()
    worker[0].wait()
    second = post_signal(api, strategy, instrument, 0)
    assert second.status_code == 201
    worker.append(_start_worker(process_env, log_dir, name="worker2"))
    signal_ids = [first.json()["id"], second.json()["id"]]

    deliveries = wait_until_decided(signal_ids, timeout=TTL + SWEEP + GRACE + 15)

    assert_each_pair_ended_once_with_a_reason(signal_ids, accounts, deliveries)

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
import time
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from execution.models import Delivery, DeliveryState, Order
from tests.execution import real_processes
from tests.execution.book import last_price
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory
from tradingsite.benchmarks.workers import stop_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TTL, GRACE, SWEEP = 20, 2, 2


@pytest.fixture
def own_redis(tmp_path):
    with real_processes.own_redis(tmp_path) as redis:
        yield redis


@pytest.fixture
def process_env(own_redis):
    return real_processes.process_env(
        own_redis.url,
        SIGNAL_ORDER_TTL_SECONDS=str(TTL),
        DELIVERY_GRACE_SECONDS=str(GRACE),
        DELIVERY_SWEEP_SECONDS=str(SWEEP),
    )


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path


_start_worker = real_processes.start_test_worker


@pytest.fixture
def worker(process_env, log_dir):
    started = [_start_worker(process_env, log_dir)]
    yield started
    for process in started:
        if process.poll() is None:
            stop_worker(process)


@pytest.fixture
def beat(process_env, log_dir):
    with real_processes.running_beat(
        process_env, log_dir, sweep="sweep deliveries", task="execution.tasks.sweep_deliveries", every=SWEEP
    ) as process:
        yield process


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


_children = real_processes.children


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

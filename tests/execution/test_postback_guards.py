"""Captured postbacks cannot be replayed into work: stale and repeated ones are acknowledged and
ignored, the Kite calls postbacks start are rate-limited per account, and hostile numbers are a 400."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from execution.engine.fanout import execute_signal_for_account
from execution.models import OrderStatus
from execution.tracking.postbacks import postback_checksum
from tests.execution.conftest import new_signal

pytestmark = pytest.mark.django_db

DEAD_URL = "http://127.0.0.1:9/kite/postback/"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def post_now(client, django_capture_on_commit_callbacks, eager_tasks):
    """Post a postback; the tasks it enqueues after commit run in-process before this returns."""

    def send(payload):
        with django_capture_on_commit_callbacks(execute=True):
            return post(client, payload)

    return send


@pytest.fixture
def open_order(kite_book, kite_emulator, infy):
    """A Kite order OPEN at the emulator, and the genuine postback that said so."""
    kite_emulator.postback_url = DEAD_URL
    kite_emulator.set_fill_mode("open")
    strategy, [account] = kite_book(1)
    [order] = execute_signal_for_account(signal_id=new_signal(strategy, infy).id, account_id=account.id)
    [delivery] = kite_emulator.wait_for_postbacks(1, timeout=5)
    return order, delivery["payload"]


def post(client, payload):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(reverse("execution:kite-postback"), body, content_type="application/json")


def resigned(payload: dict, **changes) -> dict:
    """A postback with changed fields and a checksum that verifies (as Kite would sign it)."""
    changed = {**payload, **changes}
    changed["checksum"] = postback_checksum(
        order_id=changed["order_id"], order_timestamp=changed["order_timestamp"], api_secret="secret1"
    )
    return changed


def trades_fetches(kite_emulator, order) -> int:
    return kite_emulator.count_requests("GET", f"/orders/{order.broker_order_id}/trades")


def test_a_repeated_postback_is_acknowledged_without_work(post_now, open_order, kite_emulator):
    order, payload = open_order
    kite_emulator.fill_order(order.broker_order_id)
    complete = kite_emulator.wait_for_postbacks(2, timeout=5)[-1]["payload"]

    first = post_now(complete)
    assert first.status_code == 200 and "ignored" not in first.json()
    assert trades_fetches(kite_emulator, order) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE

    for _ in range(20):
        again = post_now(complete)
        assert again.status_code == 200
        assert again.json()["ignored"] == "repeat"
    assert trades_fetches(kite_emulator, order) == 1


def test_a_postback_older_than_the_window_is_acknowledged_without_work(client, open_order, settings):
    order, payload = open_order
    settings.KITE_POSTBACK_MAX_AGE_SECONDS = 3600
    old = timezone.localtime(timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    stale = resigned(payload, order_timestamp=old, status="CANCELLED")
    response = post(client, stale)
    assert response.status_code == 200
    assert response.json() == {"status": "success", "order": None, "ignored": "stale"}
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED  # as placed: the stale postback changed nothing

    recent = timezone.localtime(timezone.now() - timedelta(minutes=59)).strftime("%Y-%m-%d %H:%M:%S")
    assert "ignored" not in post(client, resigned(payload, order_timestamp=recent)).json()


def test_postback_work_is_rate_limited_per_account(post_now, open_order, kite_emulator, settings):
    """Replays with a new filled quantity each time are not repeats: the per-account budget holds them."""
    order, payload = open_order
    settings.KITE_POSTBACK_WORK_RATE = "5/minute"
    codes = [post_now({**payload, "filled_quantity": n, "status": "OPEN"}).status_code for n in range(1, 13)]
    assert codes == [200] * 12
    assert trades_fetches(kite_emulator, order) == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filled_quantity", "NaN"),
        ("filled_quantity", "Infinity"),
        ("quantity", "1e999"),
        ("average_price", "-Infinity"),
        ("filled_quantity", "2.5"),
        ("filled_quantity", -1),
        ("price", [1]),
        ("order_timestamp", "yesterday"),
    ],
)
def test_a_postback_with_a_hostile_value_is_400_json(client, open_order, field, value):
    order, payload = open_order
    response = post(client, resigned(payload, **{field: value}))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["message"]
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_postback_with_a_bare_non_finite_number_is_400(client, open_order, constant):
    order, payload = open_order
    body = json.dumps(resigned(payload)).replace('"filled_quantity": 0', f'"filled_quantity": {constant}')
    assert constant in body
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_a_deeply_nested_postback_is_400(client, db):
    response = post(client, "[" * 5000 + "]" * 5000)
    assert response.status_code == 400
    assert "nested" in response.json()["message"]

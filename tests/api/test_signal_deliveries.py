"""A signal's deliveries in the API: written with the signal, listed with their state, orders and reason,
and recorded even when the queue (Redis) is down: the API answers 201, never 500."""

from decimal import Decimal

import pytest

from execution.models import Delivery, DeliveryState, Position
from tests.api.test_manual_signals import last_price, send
from tests.own_redis import celery_app_on, free_port

pytestmark = pytest.mark.django_db


def test_a_manual_signal_is_answered_with_a_pending_delivery_per_mapped_account_when_redis_is_down(
    staff, book, engine_running, django_capture_on_commit_callbacks
):
    infy = book["infy"]
    stop = (last_price(infy) * Decimal("0.98")).quantize(Decimal("0.05"))
    with celery_app_on(f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        response = send(
            staff,
            django_capture_on_commit_callbacks,
            {"strategy": book["strategy"].id, "instrument": "NSE:INFY", "side": "BUY", "stop_price": str(stop)},
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted((d["account_name"], d["state"], d["orders"]) for d in body["deliveries"]) == [
        ("Asha", "pending", []),
        ("Bharat", "pending", []),
    ]
    assert Delivery.objects.filter(signal_id=body["id"], state=DeliveryState.PENDING).count() == 2


def test_a_signal_lists_each_accounts_delivery_with_its_orders_and_reason(
    staff, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    strategy, infy = book["strategy"], book["infy"]
    Position.objects.create(
        account=book["asha"], strategy=strategy, instrument=infy, product="MIS", quantity=7, average_price="100"
    )
    response = send(
        staff, django_capture_on_commit_callbacks, {"strategy": strategy.id, "instrument": "NSE:INFY", "target": 0}
    )
    assert response.status_code == 201, response.content

    detail = staff.get(f"/api/signals/{response.json()['id']}").json()

    by_account = {d["account_name"]: d for d in detail["deliveries"]}
    asha, bharat = by_account["Asha"], by_account["Bharat"]
    assert asha["state"] == "ordered"
    assert [(o["leg"], o["side"], o["quantity"]) for o in asha["orders"]] == [("exit", "SELL", 7)]
    assert bharat["state"] == "nothing_to_do"
    assert bharat["orders"] == [] and bharat["reason"] == "Already flat: nothing to exit."

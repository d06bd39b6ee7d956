"""Manual signals: validated input, then the same pipeline as a strategy's signal, through to orders."""

from decimal import Decimal

import pytest

from execution.models import Order, OrderLeg, OrderStatus, Position
from strategies.models import Signal, SignalSource
from strategies.selectors import market_data_source
from tests.api.conftest import error_of
from tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db


def last_price(instrument) -> Decimal:
    return Decimal(market_data_source().ltp([instrument])[instrument.instrument_token])


def send(client, django_capture_on_commit_callbacks, payload):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/api/signals/manual", payload, format="json")


def test_a_manual_long_reaches_every_mapped_account(
    staff, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    infy = book["infy"]
    stop = (last_price(infy) * Decimal("0.98")).quantize(Decimal("0.05"))
    response = send(
        staff,
        django_capture_on_commit_callbacks,
        {"strategy": book["strategy"].id, "instrument": "NSE:INFY", "side": "BUY", "stop_price": str(stop)},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["target"], body["source"], body["instrument_symbol"]) == (1, "manual", "NSE:INFY")
    assert Decimal(body["stop_price"]) == stop

    orders = Order.objects.filter(signal_id=body["id"])
    assert {o.account.name for o in orders} == {"Asha", "Bharat"}
    assert all((o.leg, o.side, o.status) == (OrderLeg.ENTRY, "BUY", OrderStatus.COMPLETE) for o in orders), [
        (o.account.name, o.status, o.status_message) for o in orders
    ]
    for order in orders:
        position = Position.objects.get(account=order.account, instrument=infy)
        assert position.quantity == order.quantity > 0

    listed = staff.get(f"/api/orders?signal={body['id']}").json()
    assert listed["count"] == 2


def test_exit_by_target_zero_needs_no_stop(
    staff, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    strategy, infy = book["strategy"], book["infy"]
    Position.objects.create(
        account=book["asha"], strategy=strategy, instrument=infy, product="MIS", quantity=7, average_price="100"
    )
    response = send(
        staff, django_capture_on_commit_callbacks, {"strategy": strategy.id, "instrument": str(infy.id), "target": 0}
    )
    assert response.status_code == 201, response.json()
    exit_order = Order.objects.get(signal_id=response.json()["id"], account=book["asha"])
    assert (exit_order.leg, exit_order.side, exit_order.quantity) == (OrderLeg.EXIT, "SELL", 7)
    assert not Order.objects.filter(signal_id=response.json()["id"], account=book["bharat"]).exists()


def test_an_entry_without_a_stop_is_refused(staff, book):
    response = staff.post(
        "/api/signals/manual", {"strategy": book["strategy"].id, "instrument": "INFY", "target": -1}, format="json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert "stop" in error["fields"]["stop_price"][0]
    assert error["message"].startswith("stop_price:")
    assert not Signal.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"instrument": "NSE:NOSUCH", "target": 0}, "instrument", "No instrument"),
        ({"instrument": "INFY"}, "target", "side"),
        ({"instrument": "INFY", "side": "HOLD"}, "side", "HOLD"),
        ({"instrument": "INFY", "target": 2}, "target", "2"),
        ({"instrument": "INFY", "target": 1, "side": "SELL", "stop_price": "1"}, "side", "contradicts"),
        ({"instrument": "INFY", "side": "BUY", "stop_price": "-5"}, "stop_price", "0"),
    ],
)
def test_bad_input_names_the_field_and_the_reason(staff, book, payload, field, words):
    response = staff.post("/api/signals/manual", {"strategy": book["strategy"].id, **payload}, format="json")
    assert response.status_code == 400
    reasons = error_of(response)["fields"][field]
    assert any(words in reason for reason in reasons), reasons


def test_an_instrument_the_strategy_does_not_trade_is_refused(staff, book):
    InstrumentFactory(tradingsymbol="SBIN", instrument_token=779521)
    response = staff.post(
        "/api/signals/manual",
        {"strategy": book["strategy"].id, "instrument": "SBIN", "side": "BUY", "stop_price": "700"},
        format="json",
    )
    assert response.status_code == 400
    assert "not one of the instruments" in error_of(response)["fields"]["instrument"][0]


def test_unknown_strategy_is_named(staff, book):
    response = staff.post("/api/signals/manual", {"strategy": 999999, "instrument": "INFY", "target": 0}, format="json")
    assert response.status_code == 400
    assert "strategy" in error_of(response)["fields"]
    assert Signal.objects.filter(source=SignalSource.MANUAL).count() == 0


@pytest.mark.parametrize(("side", "factor", "where"), [("BUY", "1.02", "below"), ("SELL", "0.98", "above")])
def test_a_stop_on_the_wrong_side_of_the_price_is_refused_by_name(staff, book, side, factor, where):
    infy = book["infy"]
    wrong = (last_price(infy) * Decimal(factor)).quantize(Decimal("0.05"))
    response = staff.post(
        "/api/signals/manual",
        {"strategy": book["strategy"].id, "instrument": "NSE:INFY", "side": side, "stop_price": str(wrong)},
        format="json",
    )
    assert response.status_code == 400
    [reason] = error_of(response)["fields"]["stop_price"]
    assert f"must be {where} the last price" in reason
    assert not Signal.objects.exists()

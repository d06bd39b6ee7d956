"""Flattening one account, and stopping one strategy, through the API."""

from decimal import Decimal

import pytest

from execution.models import Order, Position
from risk.models import RiskEvent, RiskEventKind
from strategies.selectors import market_data_source
from tests.api.conftest import error_of
from tests.factories import MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def open_long(staff, strategy, instrument, capture):
    price = Decimal(market_data_source().ltp([instrument])[instrument.instrument_token])
    with capture(execute=True):
        response = staff.post(
            "/api/signals/manual",
            {
                "strategy": strategy.id,
                "instrument": instrument.kite_symbol,
                "side": "BUY",
                "stop_price": str((price * Decimal("0.98")).quantize(Decimal("0.05"))),
            },
            format="json",
        )
    assert response.status_code == 201, response.json()


def open_quantities() -> dict:
    return {
        (p.account.name, p.strategy.name): p.quantity
        for p in Position.objects.exclude(quantity=0).select_related("account", "strategy")
    }


def test_flatten_one_account_leaves_the_others(
    staff, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    open_long(staff, book["strategy"], book["infy"], django_capture_on_commit_callbacks)
    assert set(open_quantities()) == {("Asha", "SMA 5/20 1m"), ("Bharat", "SMA 5/20 1m")}

    with django_capture_on_commit_callbacks(execute=True):  # the task runs in-process (eager_tasks)
        response = staff.post(f"/api/accounts/{book['asha'].id}/flatten", {"reason": "client request"}, format="json")

    assert response.status_code == 202, response.json()
    operation = staff.get(response.json()["status_url"]).json()
    assert operation["state"] == "done", operation
    exits = Order.objects.filter(pk__in=operation["report"]["exit_orders"]).select_related("account")
    assert [(o.account.name, o.side, o.status) for o in exits] == [("Asha", "SELL", "COMPLETE")]
    assert operation["report"]["failed_exits"] == []
    assert set(open_quantities()) == {("Bharat", "SMA 5/20 1m")}
    assert "client request" in operation["summary"]


def test_stop_one_strategy_closes_only_its_positions(
    staff, staff_user, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    sma, infy = book["strategy"], book["infy"]
    other = StrategyFactory(name="Breakout", instruments=[infy])
    MappingFactory(account=book["asha"], strategy=other, allocation_pct=Decimal("20"))
    open_long(staff, sma, infy, django_capture_on_commit_callbacks)
    open_long(staff, other, infy, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/api/strategies/{sma.id}/stop", {"reason": "misbehaving"}, format="json")

    assert response.status_code == 202, response.json()
    assert len(staff.get(response.json()["status_url"]).json()["report"]["exit_orders"]) == 2
    assert set(open_quantities()) == {("Asha", "Breakout")}, "the other strategy's INFY stays"
    sma.refresh_from_db()
    assert sma.trading_enabled is False
    assert RiskEvent.objects.filter(kind=RiskEventKind.STRATEGY_STOPPED, strategy=sma, actor=staff_user).exists()


def test_flatten_and_stop_need_a_reason_and_staff(staff, viewer, book):
    response = staff.post(f"/api/accounts/{book['asha'].id}/flatten", {}, format="json")
    assert "reason" in error_of(response)["fields"]
    assert viewer.post(f"/api/strategies/{book['strategy'].id}/stop", {"reason": "x"}, format="json").status_code == 403
    assert staff.post("/api/strategies/999999/stop", {"reason": "x"}, format="json").status_code == 404

"""Strategies and account-strategy mappings through the API; the 100% allocation rule."""

from decimal import Decimal

import pytest

from execution.models import AccountStrategy
from strategies.models import Strategy
from tests.api.conftest import error_of
from tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db


def test_create_a_strategy_with_its_type_defaults(staff, book):
    response = staff.post(
        "/api/strategies",
        {"name": "EMA 1m", "library_key": "ema_crossover", "timeframe": "1m", "instruments": [book["infy"].id]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["instrument_symbols"] == ["NSE:INFY"]
    assert body["parameters"], "the type's defaults are filled in"
    assert Strategy.objects.get(pk=body["id"]).parameters == body["parameters"]


def test_unknown_parameters_are_refused_naming_the_field(staff, book):
    response = staff.post(
        "/api/strategies",
        {
            "name": "Bad",
            "library_key": "sma_crossover",
            "timeframe": "1m",
            "instruments": [book["infy"].id],
            "parameters": {"fast_period": 5, "slow_period": 20, "colour": "red"},
        },
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert "colour" in error["fields"]["parameters"][0]
    assert not Strategy.objects.filter(name="Bad").exists()


def test_unknown_type_timeframe_and_instrument_are_each_named(staff):
    response = staff.post(
        "/api/strategies",
        {"name": "X", "library_key": "astrology", "timeframe": "7m", "instruments": [999999]},
        format="json",
    )
    assert response.status_code == 400
    assert {"library_key", "timeframe", "instruments"} <= set(error_of(response)["fields"])


def test_update_a_strategy(staff, book):
    strategy = book["strategy"]
    response = staff.patch(
        f"/api/strategies/{strategy.id}",
        {"active": False, "parameters": {"fast_period": 3, "slow_period": 10}, "instruments": [book["tcs"].id]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    strategy.refresh_from_db()
    assert strategy.active is False
    assert strategy.parameters["fast_period"] == 3
    assert list(strategy.instruments.values_list("tradingsymbol", flat=True)) == ["TCS"]


def test_create_and_list_mappings(staff, book):
    other = StrategyFactory(name="RSI 15m", instruments=[book["infy"]])
    response = staff.post(
        "/api/mappings",
        {"account": book["asha"].id, "strategy": other.id, "allocation_pct": "30", "risk_per_trade_pct": "1"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["allocated_capital"] == "30000.00"  # 30% of ₹1,00,000
    assert body["risk_budget"] == "300.00"  # 1% of that

    listed = staff.get(f"/api/mappings?account={book['asha'].id}").json()
    assert sorted(row["strategy_name"] for row in listed["results"]) == ["RSI 15m", "SMA 5/20 1m"]


def test_a_mapping_beyond_100_percent_is_refused_naming_the_others(staff, book):
    other = StrategyFactory(name="RSI 15m", instruments=[book["infy"]])
    response = staff.post(
        "/api/mappings",
        {"account": book["asha"].id, "strategy": other.id, "allocation_pct": "60", "risk_per_trade_pct": "1"},
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    reason = error["fields"]["allocation_pct"][0]
    assert "SMA 5/20 1m 50.00%" in reason  # the mapping already there, by name
    assert "110" in reason
    assert "allocation_pct" in error["message"]
    assert not AccountStrategy.objects.filter(strategy=other).exists()


def test_raising_an_allocation_beyond_100_percent_is_refused(staff, book):
    mapping = book["mappings"][0]
    StrategyFactory(name="RSI 15m", instruments=[book["infy"]])
    staff.post(
        "/api/mappings",
        {
            "account": book["asha"].id,
            "strategy": Strategy.objects.get(name="RSI 15m").id,
            "allocation_pct": "40",
            "risk_per_trade_pct": "1",
        },
        format="json",
    )
    response = staff.patch(f"/api/mappings/{mapping.id}", {"allocation_pct": "70"}, format="json")
    assert response.status_code == 400
    assert "RSI 15m 40.00%" in error_of(response)["fields"]["allocation_pct"][0]
    mapping.refresh_from_db()
    assert mapping.allocation_pct == Decimal("50")

    disabled = staff.patch(f"/api/mappings/{mapping.id}", {"enabled": False, "allocation_pct": "70"}, format="json")
    assert disabled.status_code == 200, "a disabled mapping does not count towards the 100%"


def test_a_second_mapping_of_the_same_pair_is_refused(staff, book):
    response = staff.post(
        "/api/mappings",
        {
            "account": book["asha"].id,
            "strategy": book["strategy"].id,
            "allocation_pct": "10",
            "risk_per_trade_pct": "1",
        },
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["fields"]


def test_percentages_out_of_range_are_refused(staff, book):
    other = StrategyFactory(name="RSI 15m", instruments=[book["infy"]])
    response = staff.post(
        "/api/mappings",
        {"account": book["asha"].id, "strategy": other.id, "allocation_pct": "0", "risk_per_trade_pct": "101"},
        format="json",
    )
    assert response.status_code == 400
    assert {"allocation_pct", "risk_per_trade_pct"} <= set(error_of(response)["fields"])

"""Configuration through the admin: a trader's mistake gets a message, and nothing is saved."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Account
from execution.models import AccountStrategy
from strategies.models import Strategy
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("boss", "", "pw-for-tests-only")
    client.force_login(user)
    return client


# The account and strategy forms carry a mappings inline: its management form, with no rows.
NO_MAPPING_ROWS = {
    "mappings-TOTAL_FORMS": "0",
    "mappings-INITIAL_FORMS": "0",
    "mappings-MIN_NUM_FORMS": "0",
    "mappings-MAX_NUM_FORMS": "1000",
}


def account_form(**overrides):
    data = {
        "name": "Meera",
        "broker": "paper",
        "zerodha_user_id": "",
        "capital": "100000",
        "daily_loss_limit": "5000",
        "max_order_quantity": "100",
        "max_order_value": "50000",
        "max_open_positions": "5",
        "trading_enabled": "on",
        "status": "active",
        "api_key": "",
        "api_secret": "",
        **NO_MAPPING_ROWS,
    }
    data.update(overrides)
    return data


def test_an_account_is_created_from_the_admin(admin_client):
    response = admin_client.post("/admin/accounts/account/add/", account_form())
    assert response.status_code == 302
    assert Account.objects.get(name="Meera").capital == Decimal("100000")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("daily_loss_limit", "200000", "cannot be larger than the account"),
        ("capital", "0", "greater than or equal to 1"),
        ("zerodha_user_id", "ab-12", "looks like AB1234"),
        ("max_order_quantity", "0", "greater than or equal to 1"),
    ],
)
def test_bad_account_settings_are_refused_with_a_message(admin_client, field, value, message):
    response = admin_client.post("/admin/accounts/account/add/", account_form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Account.objects.exists()


def test_a_kite_account_needs_its_user_id_and_api_key(admin_client):
    response = admin_client.post("/admin/accounts/account/add/", account_form(broker="kite"))
    page = response.content.decode()
    assert "needs its Zerodha user id" in page and "needs the api_key" in page
    assert not Account.objects.exists()


def test_strategy_parameters_are_checked_against_the_strategy_type(admin_client):
    """The admin edits parameters as fields generated from the type's model (no raw JSON)."""
    instrument = InstrumentFactory()
    data = {
        "name": "Fast SMA",
        "library_key": "sma_crossover",
        "timeframe": "5m",
        "instruments": [instrument.pk],
        "product": "MIS",
        "active": "on",
        "trading_enabled": "on",
        **NO_MAPPING_ROWS,
    }
    # a new strategy gets its type's defaults, so what runs is what the admin shows
    assert admin_client.post("/admin/strategies/strategy/add/", data).status_code == 302
    strategy = Strategy.objects.get()
    assert strategy.parameters["slow_period"] == 20
    url = f"/admin/strategies/strategy/{strategy.pk}/change/"
    response = admin_client.post(url, {**data, "param_fast_period": "30", "param_slow_period": "10"})
    assert response.status_code == 200
    assert "fast_period (30) must be smaller than slow_period (10)" in response.content.decode()
    response = admin_client.post(url, {**data, "param_fast_period": "5", "param_window": "3"})
    assert response.status_code == 302  # a field the type does not have is not a field of the form
    strategy.refresh_from_db()
    assert "window" not in strategy.parameters and strategy.parameters["fast_period"] == 5


def test_a_mapping_over_100_percent_names_the_other_mappings(admin_client):
    account = AccountFactory()
    MappingFactory(account=account, strategy=StrategyFactory(name="Trend"), allocation_pct=Decimal("70"))
    other = StrategyFactory(name="Mean reversion")
    response = admin_client.post(
        "/admin/execution/accountstrategy/add/",
        {
            "account": account.pk,
            "strategy": other.pk,
            "allocation_pct": "40",
            "risk_per_trade_pct": "1",
            "enabled": "on",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "110.00%" in page and "Trend 70.00%" in page and "At most 30.00% is left" in page
    assert AccountStrategy.objects.count() == 1

"""Fixtures for the API tests: users with tokens, clients, and a small book of accounts and strategies."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory


@pytest.fixture(autouse=True)
def api_rates(settings):
    # Generous rates so the tests meet throttling only where they ask for it; a clean count per test.
    settings.API_THROTTLE_RATES = {"user": "10000/minute", "anon": "10000/minute"}
    cache.clear()
    yield
    cache.clear()


def _user(username: str, *, staff: bool):
    user = get_user_model().objects.create_user(username, password="pw-" + username, is_staff=staff)
    _, user.api_token = AuthToken.objects.create(user=user)  # the value, known only here
    return user


@pytest.fixture
def staff_user(db):
    return _user("operator", staff=True)


@pytest.fixture
def viewer_user(db):
    return _user("viewer", staff=False)


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.api_token}")
    return client


@pytest.fixture
def staff(staff_user) -> APIClient:
    return token_client(staff_user)


@pytest.fixture
def viewer(viewer_user) -> APIClient:
    return token_client(viewer_user)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def book(db):
    """Two paper accounts on one SMA strategy trading INFY and TCS."""
    infy = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    tcs = InstrumentFactory(tradingsymbol="TCS", instrument_token=2953217)
    strategy = StrategyFactory(name="SMA 5/20 1m", instruments=[infy, tcs])
    asha = AccountFactory(name="Asha", capital=Decimal("100000"))
    bharat = AccountFactory(name="Bharat", capital=Decimal("500000"))
    mappings = [
        MappingFactory(account=asha, strategy=strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("2")),
        MappingFactory(
            account=bharat, strategy=strategy, allocation_pct=Decimal("40"), risk_per_trade_pct=Decimal("1")
        ),
    ]
    return {"infy": infy, "tcs": tcs, "strategy": strategy, "asha": asha, "bharat": bharat, "mappings": mappings}


def error_of(response) -> dict:
    """The one error body every API error has; fails the test if the shape is different."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"], body
    return body["error"]

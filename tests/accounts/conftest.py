from decimal import Decimal

import pytest

from accounts.models import Account, Broker
from tests.factories import AccountFactory
from tests.kite_emulator import KiteEmulator

API_KEY, API_SECRET, USER_ID = "k1", "s1", "AB1234"
CALLBACK = "http://testserver/accounts/kite/callback/"


@pytest.fixture
def emulator():
    with KiteEmulator(rate_limits_enabled=False) as emu:
        yield emu


@pytest.fixture
def kite_settings(settings, emulator):
    """The system pointed at the emulator by configuration alone, as in the demo."""
    settings.KITE_API_ROOT = emulator.root
    settings.KITE_LOGIN_URL = f"{emulator.root}/connect/login"
    settings.KITE_TIMEOUT_SECONDS = 5
    return settings


def kite_account(*, name="Kite AB1234", api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID, **fields) -> Account:
    account = AccountFactory.build(
        name=name, broker=Broker.KITE, api_key=api_key, zerodha_user_id=user_id, capital=Decimal("500000"), **fields
    )
    account.set_api_secret(api_secret)
    account.save()
    return account


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("desk", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client

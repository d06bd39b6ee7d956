"""Fixtures for the Kite tests: a local Kite emulator and Kite accounts logged in at it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, AccountStatus, Broker
from tests.factories import InstrumentFactory
from tests.kite_emulator import KiteEmulator


@pytest.fixture
def kite_emulator():
    with KiteEmulator(rate_limits_enabled=False) as emu:
        yield emu


@pytest.fixture
def kite_settings(settings, kite_emulator):
    """The project pointed at the emulator, with short timeouts so hang faults take half a second."""
    settings.KITE_API_ROOT = kite_emulator.root
    settings.KITE_TIMEOUT_SECONDS = 0.5
    settings.KITE_RATE_LIMIT_BACKOFF_SECONDS = 0.05
    settings.KITE_ALGO_ID = "ALGO123"
    return settings


@pytest.fixture
def make_kite_account(db, kite_emulator):
    """``make_kite_account(n)``: a Kite account in the database and at the emulator, logged in."""
    created = []

    def make(n: int = 1, **fields) -> Account:
        user_id = f"KT{1000 + n}"
        api_key, api_secret = f"key{n}", f"secret{n}"
        kite_emulator.add_account(api_key=api_key, api_secret=api_secret, user_id=user_id)
        account = Account(
            name=f"Kite {user_id}",
            broker=Broker.KITE,
            zerodha_user_id=user_id,
            api_key=api_key,
            capital=Decimal("1000000"),
            daily_loss_limit=Decimal("50000"),
            max_order_quantity=10_000,
            max_order_value=Decimal("5000000"),
            status=AccountStatus.ACTIVE,
            **fields,
        )
        account.set_api_secret(api_secret)
        account.set_access_token(kite_emulator.login(api_key), expires_at=timezone.now() + timedelta(hours=8))
        account.save()
        created.append(account)
        return account

    return make


@pytest.fixture
def infy(db):
    """INFY as the emulator knows it (token, lot 1, tick 0.05; last price 1500)."""
    return InstrumentFactory(tradingsymbol="INFY", instrument_token=408065, exchange="NSE")

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


@pytest.fixture
def kite_book(engine_running, kite_settings, make_kite_account, infy):
    """``kite_book(n)``: n logged-in Kite accounts mapped to one INFY strategy; returns (strategy, accounts)."""
    from tests.factories import MappingFactory, StrategyFactory

    def make(n: int = 1, **strategy_fields):
        strategy = StrategyFactory(instruments=[infy], **strategy_fields)
        accounts = [make_kite_account(i + 1) for i in range(n)]
        for account in accounts:
            MappingFactory(
                account=account, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1")
            )
        return strategy, accounts

    return make


def new_signal(strategy, instrument, *, target: int = 1, minute: int = 0):
    """A signal priced at the emulator's INFY last price, stop 1% away."""
    from strategies.services import signal_record

    price = Decimal("1500")
    stop = price * (Decimal("0.99") if target > 0 else Decimal("1.01"))
    signal, _ = signal_record(
        strategy=strategy,
        instrument=instrument,
        bar_time=timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=minute),
        target=target,
        price=price,
        stop_price=stop,
    )
    return signal


def order_posts(emu, tag: str, *, accepted_only: bool = False) -> int:
    """POST /orders requests carrying ``tag`` that reached the emulator (not refused with 429, if asked)."""
    return sum(
        1
        for r in emu.requests
        if r.method == "POST"
        and r.path.startswith("/orders/")
        and r.params.get("tag") == tag
        and not (accepted_only and r.status == 429)
    )


def assert_signal_invariants(emu, signal) -> None:
    """At most one order per (signal, account) at Kite, and every order final or visibly flagged."""
    from execution.models import FINAL_STATUSES, Order, OrderStatus

    orders = list(Order.objects.filter(signal=signal).select_related("account"))
    assert orders, "the signal made no orders"
    for order in orders:
        assert len(emu.orders(tag=order.tag)) <= 1, f"{order.tag}: more than one order at Kite"
        assert order_posts(emu, order.tag, accepted_only=True) <= 1, f"{order.tag}: sent twice"
        if order.status == OrderStatus.UNKNOWN:
            assert order.status_message, f"{order.tag}: UNKNOWN without a message"
        else:
            assert order.status in FINAL_STATUSES, f"{order.tag}: still {order.status}"
        if order.status in (OrderStatus.REJECTED, OrderStatus.BLOCKED):
            assert order.status_message, f"{order.tag}: refused without a reason"

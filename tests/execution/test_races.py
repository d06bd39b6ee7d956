"""Races on PostgreSQL: many signals for one account at once, in real threads, each on its own
database connection, through the real pipeline (paper broker).

With the account lock (``accounts.locks.lock_account``) the limits hold however the
threads interleave. ``test_DEMONSTRATION_without_the_lock_the_same_race_breaches_the_limit``
takes the lock out to show what it prevents: that breach is the expected outcome there.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Account
from execution.engine.fanout import execute_signal_for_account
from execution.models import Order, OrderLeg, OrderStatus, Position
from execution.operations.emergency import emergency_stop
from execution.orders import decision as orders_module
from strategies.services import signal_record
from tests.execution.book import IST, last_price
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db(transaction=True)

SIGNALS = 8


def run_in_threads(calls) -> list[BaseException]:
    """Start every call at once, each in its own thread and database connection; return the errors."""
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            start.wait(timeout=10)
            call()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return errors


def long_signals(strategy, instruments):
    """One +1 signal per instrument, recorded without fan-out (the test sends them itself)."""
    bar = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    signals = []
    for instrument in instruments:
        price = last_price(instrument)
        signal, _ = signal_record(
            strategy=strategy,
            instrument=instrument,
            bar_time=bar,
            target=1,
            price=price,
            stop_price=(price * Decimal("0.98")).quantize(Decimal("0.05")),
        )
        signals.append(signal)
    return signals


def race(signals, account) -> None:
    errors = run_in_threads(
        [
            lambda signal=signal: execute_signal_for_account(signal_id=signal.id, account_id=account.id)
            for signal in signals
        ]
    )
    assert errors == []


@pytest.fixture
def slow_decisions(monkeypatch):
    """Widen the window between reading the risk snapshot and writing the order."""
    build = orders_module.build_risk_context

    def slow(**kwargs):
        context = build(**kwargs)
        time.sleep(0.05)
        return context

    monkeypatch.setattr(orders_module, "build_risk_context", slow)


@pytest.fixture
def many_instruments(engine_running):
    instruments = [InstrumentFactory(tradingsymbol=f"RACE{i}") for i in range(SIGNALS)]
    return StrategyFactory(instruments=instruments), instruments


def positions_account(strategy) -> Account:
    # Small orders (value cap 5% of capital) so that only the open-positions limit can bind.
    account = AccountFactory(capital=Decimal("1000000"), max_order_value=Decimal("50000"), max_open_positions=3)
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("100"), risk_per_trade_pct=Decimal("2"))
    return account


def test_racing_signals_never_open_more_positions_than_the_maximum(many_instruments, slow_decisions):
    strategy, instruments = many_instruments
    account = positions_account(strategy)

    race(long_signals(strategy, instruments), account)

    approved = Order.objects.filter(account=account, leg=OrderLeg.ENTRY).exclude(status=OrderStatus.BLOCKED)
    assert approved.count() == account.max_open_positions
    assert Position.objects.filter(account=account).exclude(quantity=0).count() == account.max_open_positions
    blocked = Order.objects.filter(account=account, status=OrderStatus.BLOCKED)
    assert blocked.count() == SIGNALS - account.max_open_positions
    assert all("max_open_positions" in order.status_message for order in blocked)


def test_racing_signals_never_use_more_than_the_allocated_capital(many_instruments, slow_decisions):
    strategy, instruments = many_instruments
    # ₹1,00,000 × 30% = ₹30,000 allocated; one position at a time (not one per instrument), and 2%
    # risk with stops 2% away, size each entry to about all of it.
    strategy.max_positions = 1
    strategy.save()
    account = AccountFactory(capital=Decimal("100000"), max_open_positions=SIGNALS)
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("30"), risk_per_trade_pct=Decimal("2"))

    race(long_signals(strategy, instruments), account)

    approved = list(Order.objects.filter(account=account, leg=OrderLeg.ENTRY).exclude(status=OrderStatus.BLOCKED))
    assert len(approved) >= 1
    assert sum(o.quantity * o.reference_price for o in approved) <= Decimal("30000")
    refused = Order.objects.filter(account=account, status=OrderStatus.BLOCKED)
    # Each later entry saw the allocation the earlier ones took (sized to what is left, or refused).
    assert refused.exists() and all("allocat" in o.status_message for o in refused)


def test_DEMONSTRATION_without_the_lock_the_same_race_breaches_the_limit(many_instruments, monkeypatch):
    """DEMONSTRATION, not a property of the system: the account lock is swapped out, and every
    thread is held after reading the risk snapshot until all have read it (the interleaving a
    busy worker pool produces by chance). Each then sees no open position and approves its
    entry: the limit of 3 is broken. The two tests above run the same race with the lock."""
    strategy, instruments = many_instruments
    account = positions_account(strategy)
    monkeypatch.setattr(
        "accounts.locks.lock_account", lambda *, account_id: Account.objects.get(pk=account_id)
    )
    all_read = threading.Barrier(SIGNALS)
    build = orders_module.build_risk_context

    def wait_for_everyone(**kwargs):
        context = build(**kwargs)
        all_read.wait(timeout=10)
        return context

    monkeypatch.setattr(orders_module, "build_risk_context", wait_for_everyone)

    race(long_signals(strategy, instruments), account)

    opened = Position.objects.filter(account=account).exclude(quantity=0).count()
    assert opened == SIGNALS > account.max_open_positions


def test_two_emergency_stops_at_once_send_one_exit_per_position(many_instruments):
    strategy, instruments = many_instruments
    account = positions_account(strategy)
    race(long_signals(strategy, instruments[:3]), account)
    assert Position.objects.filter(account=account).exclude(quantity=0).count() == 3

    errors = run_in_threads([lambda: emergency_stop(reason="first"), lambda: emergency_stop(reason="second")])

    assert errors == []
    assert not Position.objects.filter(account=account).exclude(quantity=0).exists()
    # What reaches the broker is one exit per position. The second stop may cancel the first stop's
    # exit before it was sent (it claims it, so no worker sends it) and decide its own instead:
    # harmless churn in our book, never a second order at the broker.
    exits = Order.objects.filter(account=account, leg=OrderLeg.EXIT)
    sent = exits.exclude(broker_order_id="")
    assert sent.count() == 3 and all(o.status == OrderStatus.COMPLETE for o in sent)
    assert sorted(o.instrument_id for o in sent) == sorted(i.id for i in instruments[:3])
    assert all(o.status == OrderStatus.CANCELLED for o in exits.filter(broker_order_id=""))

"""The path of one bar through a real Celery worker on Redis and PostgreSQL, on paper accounts."""

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

import pytest

from execution.models import DeliveryState, Fill, Order, OrderStatus, Position
from execution.tasks import (
    execute_signal_for_account,
    execute_signal_for_accounts,
    fan_out_signal,
    run_timeframe,
    sweep_deliveries,
)
from risk.models import RiskEvent, RiskEventKind
from strategies.models import Signal
from tests.conftest import celery_worker_idle, wait_for
from tests.execution.helpers import first_bar_with_new_target
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def expected_quantity(account, mapping, price: Decimal, stop: Decimal, lot: int) -> int:
    allocated = account.capital * mapping.allocation_pct / 100
    budget = allocated * mapping.risk_per_trade_pct / 100
    by_risk = budget / abs(price - stop)
    limit = min(by_risk, allocated / price, Decimal(account.max_order_quantity), account.max_order_value / price)
    return int((limit / lot).to_integral_value(rounding=ROUND_FLOOR)) * lot


@pytest.fixture
def demo_book(engine_running):
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    strategy = StrategyFactory(
        name="SMA 5/20 1m",
        instruments=[instrument],
        parameters={
            "fast_period": 5,
            "slow_period": 20,
            "allow_short": True,
        },
    )
    accounts = [
        AccountFactory(name="Asha", capital=Decimal("100000")),
        AccountFactory(name="Bharat", capital=Decimal("500000")),
        AccountFactory(name="Chitra", capital=Decimal("250000"), max_order_quantity=7),
    ]
    mappings = [
        MappingFactory(
            account=accounts[0], strategy=strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("2")
        ),
        MappingFactory(
            account=accounts[1], strategy=strategy, allocation_pct=Decimal("40"), risk_per_trade_pct=Decimal("1")
        ),
        MappingFactory(
            account=accounts[2], strategy=strategy, allocation_pct=Decimal("60"), risk_per_trade_pct=Decimal("2")
        ),
    ]
    return strategy, instrument, accounts, mappings


def test_a_tick_trades_every_mapped_account_through_the_worker(celery_worker, demo_book):
    strategy, instrument, accounts, mappings = demo_book
    bar_close, target = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))

    run_timeframe.delay("1m", at=bar_close.isoformat())

    signal = wait_for(lambda: Signal.objects.filter(strategy=strategy).first())
    assert signal.instrument == instrument
    assert signal.bar_time == bar_close
    assert signal.target == target
    assert signal.data_source == "simulated"
    orders = wait_for(
        lambda: (o := list(Order.objects.filter(signal=signal, status=OrderStatus.COMPLETE))) and len(o) == 3 and o
    )
    side = "BUY" if target > 0 else "SELL"
    for account, mapping in zip(accounts, mappings, strict=True):
        order = next(o for o in orders if o.account_id == account.id)
        assert order.side == side
        assert order.quantity == expected_quantity(account, mapping, signal.price, signal.stop_price, 1)
        fill = Fill.objects.get(order=order)
        assert fill.quantity == order.quantity
        position = Position.objects.get(account=account, strategy=strategy, instrument=instrument)
        assert position.quantity == order.quantity * target
        assert position.average_price == fill.price
        assert position.unrealised_pnl == ((position.last_price - fill.price) * position.quantity).quantize(
            Decimal("0.01")
        )
    # Chitra's cap of 7 shares binds; the others are sized by risk or allocation.
    assert next(o for o in orders if o.account_id == accounts[2].id).quantity == 7
    # The seed's example: ₹1,00,000 × 50% × 2% = ₹1,000 at most lost if the stop is hit.
    asha = next(o for o in orders if o.account_id == accounts[0].id)
    assert asha.quantity * abs(signal.price - signal.stop_price) <= Decimal("1000")


def test_the_same_tick_twice_makes_one_signal_and_one_order_per_account(celery_worker, demo_book):
    strategy, instrument, accounts, _ = demo_book
    bar_close, _ = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 13, 0, tzinfo=IST))

    run_timeframe.delay("1m", at=bar_close.isoformat())
    run_timeframe.delay("1m", at=bar_close.isoformat())
    signal = wait_for(lambda: Signal.objects.filter(strategy=strategy).first())
    # Redeliver the fan-out and every order message as a broker would after a worker crash: the
    # accounts once in one message, and once each in messages of their own.
    fan_out_signal.delay(signal.id)
    execute_signal_for_accounts.delay(signal.id, [a.id for a in accounts])
    for account in accounts:
        execute_signal_for_accounts.delay(signal.id, [account.id])
        execute_signal_for_account.delay(signal.id, account.id)  # an earlier release's message
    wait_for(lambda: Order.objects.filter(signal=signal, status=OrderStatus.COMPLETE).count() == 3)
    # Give the redelivered tasks time to run; they must find their orders and add none.
    wait_for(celery_worker_idle, timeout=60)
    assert Signal.objects.filter(strategy=strategy).count() == 1
    assert Order.objects.filter(signal=signal).count() == 3
    assert Fill.objects.filter(order__signal=signal).count() == 3


def test_one_failing_account_does_not_stop_the_others(celery_worker, demo_book):
    strategy, instrument, accounts, _ = demo_book
    disabled, too_small = accounts[0], accounts[1]
    disabled.trading_enabled = False
    disabled.save()
    too_small.max_order_value = Decimal("10")  # not even one share fits
    too_small.save()
    bar_close, _ = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 14, 0, tzinfo=IST))

    run_timeframe.delay("1m", at=bar_close.isoformat())

    signal = wait_for(lambda: Signal.objects.filter(strategy=strategy).first())
    wait_for(lambda: Order.objects.filter(signal=signal).exclude(status=OrderStatus.PENDING).count() == 3)
    by_account = {o.account_id: o for o in Order.objects.filter(signal=signal)}
    assert by_account[disabled.id].status == OrderStatus.BLOCKED
    assert "disabled" in by_account[disabled.id].status_message.lower()
    assert by_account[too_small.id].status == OrderStatus.BLOCKED
    assert by_account[too_small.id].status_message
    assert by_account[accounts[2].id].status == OrderStatus.COMPLETE


def test_a_signal_older_than_its_order_ttl_sends_nothing(celery_worker, demo_book, settings):
    """A fan-out delivered late (a worker died holding it) must not trade on the stale signal."""
    from datetime import timedelta

    from django.utils import timezone

    from strategies.models import SignalSource

    strategy, instrument, accounts, _ = demo_book

    def long_signal(minute: int, *, age: timedelta) -> Signal:
        signal = Signal.objects.create(
            strategy=strategy,
            instrument=instrument,
            bar_time=datetime(2026, 11, 20, 10, minute, tzinfo=IST),
            target=1,
            price=Decimal("1500"),
            stop_price=Decimal("1485"),
            source=SignalSource.STRATEGY,
        )
        Signal.objects.filter(pk=signal.pk).update(created_at=timezone.now() - age)
        return signal

    stale = long_signal(1, age=timedelta(seconds=settings.SIGNAL_ORDER_TTL_SECONDS + 5))
    fresh = long_signal(2, age=timedelta(0))

    fan_out_signal.delay(stale.id)
    fan_out_signal.delay(fresh.id)

    # The fresh signal behind it trades, so the worker has had the stale one's messages too.
    wait_for(lambda: Order.objects.filter(signal=fresh, status=OrderStatus.COMPLETE).count() == 3)
    wait_for(celery_worker_idle, timeout=60)
    assert not Order.objects.filter(signal=stale).exists()
    # The stale signal's messages expired unsent; the sweeper expires its deliveries with the reason.
    sweep_deliveries.delay()
    wait_for(lambda: stale.deliveries.filter(state=DeliveryState.EXPIRED).count() == len(accounts))
    assert all("Expired unsent" in d.reason for d in stale.deliveries.all())
    assert fresh.deliveries.filter(state=DeliveryState.ORDERED).count() == len(accounts)
    # Each account's missing order is explained in the risk events too.
    expired = RiskEvent.objects.filter(kind=RiskEventKind.ORDER_EXPIRED)
    wait_for(lambda: expired.count() == len(accounts))
    assert {e.account_id for e in expired} == {a.id for a in accounts}
    assert all("Expired unsent" in e.message and e.strategy_id == strategy.id for e in expired)

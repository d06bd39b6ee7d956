"""One signal to ten Kite accounts through the real pipeline: a Celery worker on Redis and PostgreSQL,
the real kiteconnect client, the local Kite emulator. One account's token has expired."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, AccountStatus, Broker
from execution.engine.signals import signal_submit
from execution.models import FINAL_STATUSES, Order, OrderStatus, Position
from execution.tasks import reconcile_kite_accounts
from tests.conftest import wait_for
from tests.execution.conftest import assert_signal_invariants, order_posts
from tests.factories import InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def kite_accounts(emu, count: int) -> list[Account]:
    run = uuid.uuid4().hex[:6]
    accounts = []
    for n in range(count):
        api_key, secret, user_id = f"cel{run}{n}", f"sec{run}{n}", f"CL{1000 + n}"
        emu.add_account(api_key=api_key, api_secret=secret, user_id=user_id)
        account = Account(
            name=f"Kite {run} {n}",
            broker=Broker.KITE,
            zerodha_user_id=user_id,
            api_key=api_key,
            capital=Decimal("1000000"),
            daily_loss_limit=Decimal("50000"),
            max_order_quantity=10_000,
            max_order_value=Decimal("5000000"),
        )
        account.set_api_secret(secret)
        account.set_access_token(emu.login(api_key), expires_at=timezone.now() + timedelta(hours=8))
        account.save()
        accounts.append(account)
    return accounts


def test_one_expired_token_while_nine_accounts_trade(celery_worker, kite_emulator_session, engine_running, settings):
    emu = kite_emulator_session
    settings.KITE_API_ROOT = emu.root
    infy = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    strategy = StrategyFactory(instruments=[infy])
    accounts = kite_accounts(emu, 10)
    for account in accounts:
        MappingFactory(
            account=account, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1")
        )
    expired = accounts[6]
    emu.expire_token(expired.api_key)

    signal, _ = signal_submit(
        strategy=strategy,
        instrument=infy,
        bar_time=timezone.now(),
        target=1,
        price=Decimal("1500"),
        stop_price=Decimal("1485"),
    )

    wait_for(lambda: Order.objects.filter(signal=signal).exclude(status=OrderStatus.PENDING).count() == 10)
    reconcile_kite_accounts.delay()
    others = Order.objects.filter(signal=signal).exclude(account=expired)
    wait_for(lambda: all(o.status in FINAL_STATUSES for o in others.all()))

    assert all(o.status == OrderStatus.COMPLETE and o.filled_quantity == o.quantity for o in others.all())
    assert Position.objects.filter(strategy=strategy, quantity__gt=0).count() == 9
    lost = Order.objects.get(signal=signal, account=expired)
    assert lost.status == OrderStatus.REJECTED and "needs a login" in lost.status_message
    expired.refresh_from_db()
    assert expired.status == AccountStatus.NEEDS_LOGIN
    for order in Order.objects.filter(signal=signal):
        assert order_posts(emu, order.tag) == 1
    assert_signal_invariants(emu, signal)
    # The reconciliations still running are awaited before the flush (tests/conftest.py).

"""One order message, several accounts: each runs on its own order thread, independent of the others."""

import pytest
from django.utils import timezone

from accounts.models import Account
from execution.engine.bar import FanOut
from execution.engine.fanout import execute_signal_for_accounts
from execution.models import Order, OrderStatus
from execution.tracking.reconcile import reconcile_account
from tests.execution.conftest import assert_signal_invariants, new_signal

# Committed rows: the order threads read the database on connections of their own.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_slow_kite_account_delays_none_of_the_others_in_its_message(kite_book, kite_emulator, kite_settings, infy):
    kite_settings.KITE_TIMEOUT_SECONDS = 5
    strategy, [slow, *others] = kite_book(3)
    kite_emulator.inject_fault(slow.api_key, "latency", route="place_order", seconds=0.6)
    signal = new_signal(strategy, infy)

    outcomes = execute_signal_for_accounts(signal_id=signal.id, account_ids=[slow.id, *(a.id for a in others)])

    orders = {o.account_id: o for o in Order.objects.filter(signal=signal)}
    assert {o.status for o in orders.values()} == {OrderStatus.SUBMITTED}
    assert {a: [o.id for o in placed] for a, placed in outcomes.items()} == {a: [o.id] for a, o in orders.items()}
    # Run in turn, the slow account first, the others would have waited for it.
    for account in others:
        assert (orders[slow.id].updated_at - orders[account.id].updated_at).total_seconds() > 0.3
    _settle_and_check(kite_emulator, signal)


def test_an_account_that_fails_leaves_the_others_in_its_message_trading(kite_book, kite_emulator, infy):
    strategy, [deleted, *others] = kite_book(3)
    signal = new_signal(strategy, infy)
    deleted_id = deleted.id
    deleted.delete()  # after the fan-out sent its message

    outcomes = execute_signal_for_accounts(signal_id=signal.id, account_ids=[deleted_id, *(a.id for a in others)])

    assert isinstance(outcomes[deleted_id], Account.DoesNotExist)
    orders = Order.objects.filter(signal=signal)
    assert {o.account_id for o in orders} == {a.id for a in others}
    assert {o.status for o in orders} == {OrderStatus.SUBMITTED}
    _settle_and_check(kite_emulator, signal)


def test_an_account_still_waiting_when_its_signal_expires_is_not_traded_and_says_why(
    kite_book, kite_emulator, infy, settings
):
    from datetime import timedelta

    from risk.models import RiskEvent, RiskEventKind
    from strategies.models import Signal

    strategy, accounts = kite_book(2)
    signal = new_signal(strategy, infy)
    # Celery checked the message's expiry when it started; the accounts reach their threads later.
    Signal.objects.filter(pk=signal.pk).update(
        created_at=signal.created_at - timedelta(seconds=settings.SIGNAL_ORDER_TTL_SECONDS + 1)
    )

    outcomes = execute_signal_for_accounts(signal_id=signal.id, account_ids=[a.id for a in accounts])

    assert outcomes == {a.id: [] for a in accounts}
    assert not Order.objects.filter(signal=signal).exists()
    assert kite_emulator.count_requests(method="POST", path="/orders") == 0
    events = RiskEvent.objects.filter(kind=RiskEventKind.ORDER_EXPIRED)
    assert {e.account_id for e in events} == {a.id for a in accounts}
    assert all("Expired unsent" in e.message for e in events)
    assert set(signal.deliveries.values_list("state", flat=True)) == {"expired"}


def test_a_signal_fans_out_in_messages_of_order_fanout_batch_accounts():
    fan_out = FanOut(account_ids=[4, 8, 15, 16, 23], expires_at=timezone.now())

    assert fan_out.batches(2) == [[4, 8], [15, 16], [23]]
    assert fan_out.batches(10) == [[4, 8, 15, 16, 23]]


def _settle_and_check(kite_emulator, signal):
    for account_id in Order.objects.filter(signal=signal).values_list("account_id", flat=True):
        reconcile_account(account_id=account_id)
    assert_signal_invariants(kite_emulator, signal)

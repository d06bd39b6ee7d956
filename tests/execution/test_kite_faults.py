"""Every Kite fault on the path of a signal, through the real services and the emulator.

Each test checks the invariants: at most one order per (signal, account) at Kite, and every order
of the signal final or visibly flagged.
"""

from decimal import Decimal

import pytest

from accounts.models import AccountStatus
from execution.engine.fanout import execute_signal_for_account
from execution.models import Fill, Order, OrderStatus, Position
from execution.tracking.reconcile import (
    NOT_FOUND,
    RESOLVED,
    RETRY,
    WAITING_FOR_LOGIN,
    order_resolve_unknown,
    reconcile_account,
    reconcile_targets,
)
from tests.execution.conftest import assert_signal_invariants, new_signal, order_posts

pytestmark = pytest.mark.django_db


@pytest.fixture
def quick_resolution(kite_settings):
    """Declare an order not placed after two lookups over a fifth of a second (production: 4 over 90 s)."""
    kite_settings.KITE_UNKNOWN_MIN_CHECKS = 2
    kite_settings.KITE_UNKNOWN_GRACE_SECONDS = 0.2
    return kite_settings


def settle(*accounts):
    for account in accounts:
        reconcile_account(account_id=account.id)


def test_a_signal_trades_every_kite_account(kite_book, kite_emulator, infy):
    strategy, accounts = kite_book(3)
    signal = new_signal(strategy, infy)

    for account in accounts:
        [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
        assert order.status == OrderStatus.SUBMITTED and order.broker_order_id
    settle(*accounts)

    for order in Order.objects.filter(signal=signal):
        assert order.status == OrderStatus.COMPLETE
        assert order.filled_quantity == order.quantity > 0
        position = Position.objects.get(account=order.account, strategy=strategy, instrument=infy)
        assert position.quantity == order.quantity
        assert position.average_price == Decimal("1500")
    assert_signal_invariants(kite_emulator, signal)


def test_redelivery_never_sends_twice(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1)
    signal = new_signal(strategy, infy)

    for _ in range(3):
        execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    [order] = Order.objects.filter(signal=signal)
    assert order_posts(kite_emulator, order.tag) == 1


@pytest.mark.parametrize(
    ("kind", "reached_kite"),
    [
        ("accept_then_hang", True),
        ("accept_then_reset", True),
        ("accept_then_500", True),
        ("accept_then_502", True),
        ("accept_then_503", True),
        ("http_500", False),
        ("http_502", False),
        ("http_503", False),
        ("html_502", False),
        ("connection_reset", False),
    ],
)
def test_an_unknown_outcome_is_resolved_only_from_the_order_book(
    kite_book, kite_emulator, infy, quick_resolution, kind, reached_kite
):
    strategy, [account] = kite_book(1)
    kite_emulator.inject_fault(account.api_key, kind, route="place_order", count=1, seconds=1.0)
    signal = new_signal(strategy, infy)

    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    assert order.status == OrderStatus.UNKNOWN
    assert order.tag in order.status_message
    assert_signal_invariants(kite_emulator, signal)  # UNKNOWN, with a message, is a visible flag
    if reached_kite:
        assert order_resolve_unknown(order_id=order.id) == RESOLVED
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETE
        assert order.broker_order_id == kite_emulator.orders(tag=order.tag)[0]["order_id"]
        assert Fill.objects.get(order=order).quantity == order.quantity
    else:
        import time

        assert order_resolve_unknown(order_id=order.id) == RETRY  # one look is not enough: Kite may lag
        time.sleep(0.25)
        assert order_resolve_unknown(order_id=order.id) == NOT_FOUND
        order.refresh_from_db()
        assert order.status == OrderStatus.REJECTED
        assert "Not found at broker" in order.status_message
    assert order_posts(kite_emulator, order.tag) == 1  # never a second POST
    assert_signal_invariants(kite_emulator, signal)


def test_kite_lag_does_not_declare_an_order_missing_early(kite_book, kite_emulator, infy, kite_settings):
    kite_settings.KITE_UNKNOWN_MIN_CHECKS = 2
    kite_settings.KITE_UNKNOWN_GRACE_SECONDS = 60
    strategy, [account] = kite_book(1)
    kite_emulator.inject_fault(account.api_key, "http_503", route="place_order", count=1)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    for _ in range(5):
        assert order_resolve_unknown(order_id=order.id) == RETRY
    order.refresh_from_db()
    assert order.status == OrderStatus.UNKNOWN and order.unknown_checks == 5


def test_reconciliation_also_resolves_unknown_orders(kite_book, kite_emulator, infy, quick_resolution):
    strategy, [account] = kite_book(1)
    kite_emulator.inject_fault(account.api_key, "accept_then_reset", count=1)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    assert order.status == OrderStatus.UNKNOWN

    settle(account)

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE and order.filled_quantity == order.quantity
    assert_signal_invariants(kite_emulator, signal)


def test_an_unknown_order_waits_for_login_when_the_session_is_gone(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1)
    kite_emulator.inject_fault(account.api_key, "accept_then_hang", count=1, seconds=1.0)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    kite_emulator.expire_token(account.api_key)

    assert order_resolve_unknown(order_id=order.id) == WAITING_FOR_LOGIN

    account.refresh_from_db()
    order.refresh_from_db()
    assert account.status == AccountStatus.NEEDS_LOGIN
    assert order.status == OrderStatus.UNKNOWN  # still flagged, never guessed
    assert order_resolve_unknown(order_id=order.id) == WAITING_FOR_LOGIN


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("input_exception", "Invalid input"),
        ("order_exception", "Order rejected"),
        ("ip_not_whitelisted", "IP address is not whitelisted"),
    ],
)
def test_refusals_are_rejected_with_kites_reason(kite_book, kite_emulator, infy, kind, words):
    strategy, [account] = kite_book(1)
    kite_emulator.inject_fault(account.api_key, kind, route="place_order")
    signal = new_signal(strategy, infy)

    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    assert order.status == OrderStatus.REJECTED
    assert words in order.status_message
    assert kite_emulator.orders(tag=order.tag) == []
    assert_signal_invariants(kite_emulator, signal)


def test_an_exchange_rejection_arrives_by_reconciliation(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("reject", api_key=account.api_key, message="RMS: margin exceeds")
    signal = new_signal(strategy, infy)

    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    settle(account)

    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED and "margin exceeds" in order.status_message
    assert_signal_invariants(kite_emulator, signal)


def test_rate_limited_then_sent_once_more(kite_book, kite_emulator, infy, kite_settings):
    kite_settings.KITE_RATE_LIMIT_BACKOFF_SECONDS = 0.4
    strategy, [account] = kite_book(1)
    kite_emulator.rate_limits_enabled = True
    kite_emulator.rate_limits["orders"] = [(0, 0.3)]  # refuse every order request
    kite_emulator.rate_limits["other"] = []
    signal = new_signal(strategy, infy)

    import threading

    # Lift the limit while the adapter waits after the first 429: its one re-send goes through.
    threading.Timer(0.2, lambda: kite_emulator.rate_limits.update(orders=[])).start()
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    assert order.status == OrderStatus.SUBMITTED
    assert order_posts(kite_emulator, order.tag) == 2
    assert order_posts(kite_emulator, order.tag, accepted_only=True) == 1
    settle(account)
    assert_signal_invariants(kite_emulator, signal)


def test_rate_limited_twice_is_not_sent(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1)
    kite_emulator.rate_limits_enabled = True
    kite_emulator.rate_limits["orders"] = [(0, 1.0)]
    signal = new_signal(strategy, infy)

    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    assert order.status == OrderStatus.REJECTED
    assert order.status_message.startswith("Not sent")
    assert order_posts(kite_emulator, order.tag, accepted_only=True) == 0
    assert_signal_invariants(kite_emulator, signal)


# --- an expired session -------------------------------------------------------------------------------


def test_one_expired_account_stops_visibly_while_nine_trade(kite_book, kite_emulator, infy):
    strategy, accounts = kite_book(10)
    expired = accounts[3]
    # It held a long position that the signal reverses: an exit and an entry are due on it.
    Position.objects.create(
        account=expired, strategy=strategy, instrument=infy, product="MIS", quantity=40, average_price=1490
    )
    kite_emulator.expire_token(expired.api_key)
    signal = new_signal(strategy, infy, target=-1)

    for account in accounts:
        execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    assert sorted(reconcile_targets()) == sorted(a.id for a in accounts if a != expired)
    settle(*accounts)

    expired.refresh_from_db()
    assert expired.status == AccountStatus.NEEDS_LOGIN
    assert "expired" in expired.status_reason.lower()
    assert not expired.has_access_token
    held = Position.objects.get(account=expired)
    assert held.state_unknown and held.quantity == 40  # unknown, never flat
    legs = {o.leg: o for o in Order.objects.filter(signal=signal, account=expired)}
    assert legs["exit"].status == OrderStatus.REJECTED and "needs a login" in legs["exit"].status_message
    assert legs["entry"].status == OrderStatus.REJECTED and legs["entry"].status_message.startswith("Not sent")
    assert order_posts(kite_emulator, legs["entry"].tag) == 0  # stopped before sending
    others = Order.objects.filter(signal=signal).exclude(account=expired)
    assert others.count() == 9
    assert all(o.status == OrderStatus.COMPLETE for o in others)
    assert_signal_invariants(kite_emulator, signal)

    # The next signal (flat) is blocked by risk for the expired account only: nothing is sent.
    later = new_signal(strategy, infy, target=0, minute=1)
    for account in accounts:
        execute_signal_for_account(signal_id=later.id, account_id=account.id)
    [blocked] = Order.objects.filter(signal=later, account=expired)
    assert blocked.status == OrderStatus.BLOCKED and "logged in" in blocked.status_message.lower()
    assert order_posts(kite_emulator, blocked.tag) == 0
    assert Order.objects.filter(signal=later).exclude(account=expired).count() == 9


def test_a_session_that_expires_during_reconciliation(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1)
    signal = new_signal(strategy, infy)
    execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    settle(account)
    kite_emulator.expire_token(account.api_key)

    report = reconcile_account(account_id=account.id)

    assert report.skipped == "session expired"
    account.refresh_from_db()
    assert account.status == AccountStatus.NEEDS_LOGIN
    assert Position.objects.get(account=account).state_unknown
    assert reconcile_account(account_id=account.id).skipped == "needs login"

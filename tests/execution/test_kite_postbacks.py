"""Kite postbacks: checksum-verified, applied once, fills from trades only; and position mismatches."""

import json

import pytest
from django.urls import reverse
from kiteconnect import KiteConnect

from execution.brokers import PlaceResult
from execution.engine.fanout import execute_signal_for_account
from execution.models import Fill, Order, OrderStatus, Position, PositionMismatch
from execution.orders.placement import order_apply_result
from execution.tracking.reconcile import RESOLVED, order_confirm, order_fetch_fills, reconcile_account
from tests.execution.conftest import assert_signal_invariants, new_signal

pytestmark = pytest.mark.django_db

DEAD_URL = "http://127.0.0.1:9/kite/postback/"  # the emulator's deliveries fail; we replay their payloads


@pytest.fixture
def postbacks(kite_emulator):
    kite_emulator.postback_url = DEAD_URL

    def payloads(count: int) -> list[dict]:
        return [d["payload"] for d in kite_emulator.wait_for_postbacks(count, timeout=5)]

    return payloads


def post(client, payload, **extra):
    return client.post(
        reverse("execution:kite-postback"), json.dumps(payload), content_type="application/json", **extra
    )


def test_a_verified_postback_moves_the_order_and_fills_come_from_trades(
    client, kite_book, kite_emulator, infy, postbacks
):
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("open")
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    [opened] = postbacks(1)
    assert opened["status"] == "OPEN" and opened["tag"] == order.tag

    kite_emulator.fill_order(order.broker_order_id)
    complete = postbacks(2)[-1]
    assert complete["status"] == "COMPLETE"

    assert post(client, opened).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN
    assert post(client, complete).status_code == 200
    order.refresh_from_db()
    # A postback has no trade ids: the order waits for its trades before it completes.
    assert order.status == OrderStatus.OPEN and order.filled_quantity == 0

    assert order_fetch_fills(order_id=order.id) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE and order.filled_quantity == order.quantity
    # The same fill seen again by reconciliation, and the postback delivered twice, count once.
    reconcile_account(account_id=account.id)
    assert post(client, complete).status_code == 200
    assert order_fetch_fills(order_id=order.id) == 0
    assert Fill.objects.filter(order=order).count() == 1
    assert Position.objects.get(account=account).quantity == order.quantity
    assert_signal_invariants(kite_emulator, signal)


def test_a_postback_that_lands_before_the_placement_answer_is_not_undone_by_it(
    client, kite_book, kite_emulator, infy, postbacks
):
    strategy, [account] = kite_book(1)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    assert post(client, postbacks(1)[-1]).status_code == 200
    order_fetch_fills(order_id=order.id)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE
    # What the placing worker holds while its call is out, and the answer it then records.
    in_flight = Order.objects.get(pk=order.pk)
    in_flight.status = OrderStatus.PENDING
    order_apply_result(
        order=in_flight, result=PlaceResult(order_id=order.broker_order_id, status=OrderStatus.SUBMITTED)
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE and order.filled_quantity == order.quantity


def test_a_replayed_postback_claiming_complete_cannot_finish_an_open_order(
    client, kite_book, kite_emulator, infy, postbacks
):
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("open")
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    forged = {**postbacks(1)[-1], "status": "COMPLETE", "filled_quantity": 0}

    assert post(client, forged).status_code == 200

    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN and order.filled_quantity == 0  # it completes from its trades only


def test_a_replayed_postback_with_another_orders_tag_leaves_that_order_alone(
    client, kite_book, kite_emulator, infy, postbacks
):
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("open")
    first, second = new_signal(strategy, infy), new_signal(strategy, infy, target=0, minute=1)
    [order] = execute_signal_for_account(signal_id=first.id, account_id=account.id)
    genuine = postbacks(1)[-1]
    other = Order.objects.create(
        account=account,
        strategy=strategy,
        signal=second,
        instrument=infy,
        leg="EXIT",
        side="SELL",
        quantity=1,
        product="MIS",
        reference_price=1500,
        tag="S99999999A000001X",
        status=OrderStatus.BLOCKED,
    )

    assert post(client, {**genuine, "tag": other.tag}).status_code == 200

    other.refresh_from_db()
    assert other.broker_order_id == "" and other.status == OrderStatus.BLOCKED
    order.refresh_from_db()
    assert order.broker_order_id == genuine["order_id"] and order.status == OrderStatus.OPEN


def test_a_postback_resolves_an_unknown_order(client, kite_book, kite_emulator, infy, postbacks):
    strategy, [account] = kite_book(1)
    kite_emulator.inject_fault(account.api_key, "accept_then_hang", count=1, seconds=1.0)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    assert order.status == OrderStatus.UNKNOWN

    complete = postbacks(2)[-1]
    assert post(client, complete).status_code == 200
    # Matched by its tag (no broker order id yet), so resolved from the order book.
    assert order_confirm(order_id=order.id) == RESOLVED

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE
    assert order.broker_order_id == complete["order_id"]


def test_an_exchange_rejection_by_postback(
    client, kite_book, kite_emulator, infy, postbacks, django_capture_on_commit_callbacks
):
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("reject", message="RMS: blocked for trading")
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)

    [rejected] = postbacks(1)
    with django_capture_on_commit_callbacks() as confirmations:
        assert post(client, rejected).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED and len(confirmations) == 1  # the book confirms it first

    assert order_confirm(order_id=order.id) == RESOLVED
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED and "blocked for trading" in order.status_message


def test_a_replayed_postback_with_its_status_changed_cannot_end_a_live_order(
    client, kite_book, kite_emulator, infy, postbacks
):
    """Kite's checksum covers only the order id and timestamp: the status can be forged."""
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("open")
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    forged = {**postbacks(1)[-1], "status": "REJECTED", "status_message": "forged"}

    assert post(client, forged).status_code == 200  # it verifies: the checksum does not cover the status
    assert order_confirm(order_id=order.id) == RESOLVED

    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN and order.status_message != "forged"


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        (lambda p: p.update(checksum="0" * 64), 403),
        (lambda p: p.update(order_timestamp="2020-01-01 09:15:00"), 403),
        (lambda p: p.update(order_id="261125999999999"), 403),
        (lambda p: p.update(user_id="ZZ9999"), 403),
        (lambda p: p.pop("checksum"), 400),
    ],
)
def test_a_postback_that_does_not_verify_changes_nothing(
    client, kite_book, kite_emulator, infy, postbacks, tamper, status
):
    strategy, [account] = kite_book(1)
    kite_emulator.set_fill_mode("open")
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    [payload] = postbacks(1)
    payload = dict(payload, status="REJECTED", status_message="forged")
    tamper(payload)

    response = post(client, payload)

    assert response.status_code == status
    assert response.json()["status"] == "error"
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED and order.status_message != "forged"


def test_a_postback_needs_no_login_or_csrf_but_only_post(kite_book, postbacks):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert client.get(reverse("execution:kite-postback")).status_code == 405
    response = client.post(reverse("execution:kite-postback"), "not json", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["message"]


def test_an_order_placed_outside_the_system_is_flagged_not_adopted(client, kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    reconcile_account(account_id=account.id)
    assert not PositionMismatch.objects.exists()
    # Someone buys 5 more INFY in the Kite app.
    manual = KiteConnect(account.api_key, access_token=account.get_access_token(), root=kite_emulator.root)
    manual.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=5,
        product="MIS",
        order_type="MARKET",
        market_protection=-1,
    )

    report = reconcile_account(account_id=account.id)
    reconcile_account(account_id=account.id)

    [mismatch] = PositionMismatch.objects.filter(account=account, resolved_at__isnull=True)
    assert report.mismatches
    assert (mismatch.ledger_quantity, mismatch.broker_quantity) == (order.quantity, order.quantity + 5)
    assert mismatch.instrument == infy and mismatch.times_seen == 2 and mismatch.difference == 5
    assert Position.objects.get(account=account).quantity == order.quantity  # never overwritten
    assert Order.objects.filter(account=account).count() == 1

    # They sell the 5 again: the books agree and the flag closes.
    manual.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="SELL",
        quantity=5,
        product="MIS",
        order_type="MARKET",
        market_protection=-1,
    )
    reconcile_account(account_id=account.id)
    mismatch.refresh_from_db()
    assert mismatch.resolved_at is not None


def test_selectors_show_open_and_confirmed_mismatches(kite_book, kite_emulator, infy):
    from execution.selectors.reconciliation import open_position_mismatches

    strategy, [account] = kite_book(1)
    Position.objects.create(account=account, strategy=strategy, instrument=infy, product="MIS", quantity=7)

    reconcile_account(account_id=account.id)
    assert open_position_mismatches(account_id=account.id).count() == 1
    assert not open_position_mismatches(confirmed_only=True).exists()  # one pass may be a fill in flight
    reconcile_account(account_id=account.id)
    [mismatch] = open_position_mismatches(confirmed_only=True)
    assert (mismatch.ledger_quantity, mismatch.broker_quantity) == (7, 0)

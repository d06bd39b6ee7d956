"""Reconciliation of delivery (CNC) positions against Kite's holdings and the day's positions.

A CNC buy is a position on the day it is bought and a holding from the next trading day (T1, then
delivered). Kite's CNC quantity is the holding's ``opening_quantity`` plus the day's net CNC
position; the emulator rolls the day over as Kite does, through the real kiteconnect client.
"""

from decimal import Decimal

import pytest
from kiteconnect import KiteConnect

from execution.engine.fanout import execute_signal_for_account
from execution.models import Position, PositionMismatch
from execution.tracking.reconcile import reconcile_account
from tests.execution.conftest import new_signal
from tests.factories import MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def open_mismatches(account) -> list[PositionMismatch]:
    return list(PositionMismatch.objects.filter(account=account, resolved_at__isnull=True))


def trade(strategy, instrument, account, *, target: int = 1, minute: int = 0) -> None:
    """A signal placed on the account; its fills reach the ledger from Kite's trades."""
    execute_signal_for_account(
        signal_id=new_signal(strategy, instrument, target=target, minute=minute).id, account_id=account.id
    )
    reconcile_account(account_id=account.id)


def ledger(account, product: str = "CNC") -> int:
    return sum(p.quantity for p in Position.objects.filter(account=account, product=product))


def by_hand(account, kite_emulator, side: str, quantity: int, product: str = "CNC") -> None:
    """The account's owner trades INFY in the Kite app, outside the system."""
    kite = KiteConnect(account.api_key, access_token=account.get_access_token(), root=kite_emulator.root)
    kite.place_order(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type=side,
        quantity=quantity,
        product=product,
        order_type="MARKET",
        market_protection=-1,
    )


def test_a_cnc_buy_held_overnight_is_no_mismatch_the_next_day_nor_after_delivery(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1, product="CNC")
    trade(strategy, infy, account)
    held = ledger(account)
    assert held > 0
    reconcile_account(account_id=account.id)
    assert open_mismatches(account) == []

    kite_emulator.roll_day()  # next morning: a T1 holding, no position
    [holding] = kite_emulator.holdings(account.api_key)
    assert (holding["quantity"], holding["t1_quantity"], holding["opening_quantity"]) == (0, held, held)
    # The same morning an intraday strategy trades the same instrument: MIS is compared with MIS alone.
    mis = StrategyFactory(instruments=[infy], product="MIS")
    MappingFactory(account=account, strategy=mis, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
    trade(mis, infy, account)
    assert ledger(account, "MIS") > 0
    report = reconcile_account(account_id=account.id)
    assert report.mismatches == [] and open_mismatches(account) == []

    trade(mis, infy, account, target=0, minute=1)  # intraday: out by the close
    assert ledger(account, "MIS") == 0
    kite_emulator.roll_day()  # delivered: quantity, no longer T1
    [holding] = kite_emulator.holdings(account.api_key)
    assert (holding["quantity"], holding["t1_quantity"]) == (held, 0)
    reconcile_account(account_id=account.id)
    assert open_mismatches(account) == [] and not PositionMismatch.objects.exists()


def test_a_real_difference_in_delivery_holdings_is_flagged_until_it_goes(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1, product="CNC")
    trade(strategy, infy, account)
    held = ledger(account)
    by_hand(account, kite_emulator, "BUY", 5)  # 5 more for delivery, bought in the Kite app
    kite_emulator.roll_day()
    kite_emulator.roll_day()

    report = reconcile_account(account_id=account.id)
    reconcile_account(account_id=account.id)
    [mismatch] = open_mismatches(account)
    assert report.mismatches
    assert (mismatch.product, mismatch.ledger_quantity, mismatch.broker_quantity) == ("CNC", held, held + 5)
    assert mismatch.instrument == infy and mismatch.times_seen == 2
    assert ledger(account) == held  # never overwritten

    by_hand(account, kite_emulator, "SELL", 5)  # sold out of the holding today: the books agree again
    reconcile_account(account_id=account.id)
    mismatch.refresh_from_db()
    assert mismatch.resolved_at is not None and open_mismatches(account) == []


def test_a_partial_sell_of_an_overnight_cnc_holding_today_reconciles(kite_book, kite_emulator, infy):
    """Two strategies hold INFY for delivery on one account; one exits today. Kite's holding still
    opens with both, the day's positions show the sale; the ledger keeps the other's."""
    leaving, [account] = kite_book(1, product="CNC")
    staying = StrategyFactory(instruments=[infy], product="CNC")
    MappingFactory(account=account, strategy=staying, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
    trade(leaving, infy, account)
    trade(staying, infy, account)
    sold = Position.objects.get(account=account, strategy=leaving).quantity
    kept = Position.objects.get(account=account, strategy=staying).quantity
    kite_emulator.roll_day()
    kite_emulator.roll_day()

    trade(leaving, infy, account, target=0, minute=1)

    assert ledger(account) == kept
    [holding] = kite_emulator.holdings(account.api_key)
    assert (holding["opening_quantity"], holding["used_quantity"]) == (sold + kept, sold)
    [position] = kite_emulator.positions(account.api_key)["net"]
    assert (position["product"], position["quantity"]) == ("CNC", -sold)
    report = reconcile_account(account_id=account.id)
    assert report.mismatches == [] and open_mismatches(account) == []


def test_a_holding_kite_lists_under_bse_counts_for_the_nse_position(kite_book, kite_emulator, infy):
    """Holdings are shares in the demat account, not per exchange: Kite may list one under BSE."""
    strategy, [account] = kite_book(1, product="CNC")
    trade(strategy, infy, account)
    held = ledger(account)
    kite_emulator.add_instrument("INFY", exchange="BSE", instrument_token=128053508)
    kite_emulator.roll_day()
    kite_emulator.set_holding(account.api_key, "NSE:INFY", quantity=0)
    kite_emulator.set_holding(account.api_key, "BSE:INFY", t1_quantity=held)

    report = reconcile_account(account_id=account.id)
    assert report.mismatches == [] and open_mismatches(account) == []


def test_the_owners_own_holdings_in_instruments_the_system_never_traded_are_not_flagged(kite_book, kite_emulator, infy):
    strategy, [account] = kite_book(1, product="CNC")
    trade(strategy, infy, account)
    kite_emulator.roll_day()
    kite_emulator.set_holding(account.api_key, "NSE:SBIN", quantity=40, average_price=640)  # long-term, personal

    report = reconcile_account(account_id=account.id)
    assert report.mismatches == [] and open_mismatches(account) == []

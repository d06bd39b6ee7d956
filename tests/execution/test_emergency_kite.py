"""Emergency stop on a Kite account (the local Kite emulator): open orders cancelled at Kite, positions
squared off with MARKET orders that carry Kite's market protection, alongside a paper account."""

from decimal import Decimal

import pytest

from execution.engine.fanout import execute_signal_for_account
from execution.models import Order, OrderLeg, OrderStatus, Position
from execution.operations.emergency import emergency_stop
from execution.tracking.reconcile import reconcile_account
from tests.execution.conftest import new_signal
from tests.factories import AccountFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def test_emergency_stop_cancels_at_kite_and_squares_off_kite_and_paper_accounts(kite_book, kite_emulator, infy):
    strategy, [kite_account] = kite_book(1)
    paper = AccountFactory(name="Paper")
    MappingFactory(account=paper, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
    entry = new_signal(strategy, infy)
    execute_signal_for_account(signal_id=entry.id, account_id=paper.id)
    [kite_entry] = execute_signal_for_account(signal_id=entry.id, account_id=kite_account.id)
    reconcile_account(account_id=kite_account.id)  # Kite's fills reach the ledger
    held = Position.objects.get(account=kite_account)
    assert held.quantity == kite_entry.quantity > 0
    # another strategy's entry still resting at Kite
    second = StrategyFactory(name="Second", instruments=[infy])
    MappingFactory(account=kite_account, strategy=second, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
    kite_emulator.set_fill_mode("open")
    [resting] = execute_signal_for_account(signal_id=new_signal(second, infy).id, account_id=kite_account.id)
    assert resting.leg == OrderLeg.ENTRY and kite_emulator.order(resting.broker_order_id)["status"] == "OPEN"
    kite_emulator.set_fill_mode("immediate")

    report = emergency_stop(reason="Kite drill")

    resting.refresh_from_db()
    assert resting.status == OrderStatus.CANCELLED
    assert kite_emulator.order(resting.broker_order_id)["status"] == "CANCELLED"
    exits = {o.account_id: o for o in report.flatten.exit_orders}
    kite_exit = exits[kite_account.id]
    assert kite_exit.leg == OrderLeg.EXIT and kite_exit.signal is None and kite_exit.quantity == held.quantity
    [at_kite] = kite_emulator.orders(kite_account.api_key, tag=kite_exit.tag)
    assert at_kite["transaction_type"] == "SELL" and at_kite["order_type"] == "MARKET"
    assert at_kite["quantity"] == held.quantity
    reconcile_account(account_id=kite_account.id)
    held.refresh_from_db()
    assert held.quantity == 0
    assert exits[paper.id].status == OrderStatus.COMPLETE
    assert not Position.objects.exclude(quantity=0).exists()
    # the second press finds nothing to do at Kite
    before = len(kite_emulator.orders(kite_account.api_key))
    emergency_stop(reason="again")
    assert len(kite_emulator.orders(kite_account.api_key)) == before
    assert Order.objects.filter(leg=OrderLeg.EXIT, signal=None).count() == 2

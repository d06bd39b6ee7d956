"""Kill switches block entries through the pipeline, and exits still reduce risk past every one of them.

Exits skip the entry limits but never the sanity checks.
"""

from decimal import Decimal

import pytest

from accounts.models import AccountStatus
from execution.models import AccountStrategy, OrderLeg, OrderStatus, Position
from risk import services as risk_services
from risk.models import EngineState
from tests.execution.book import trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def holding(engine_running):
    """An account long one instrument, and a second instrument to try a new entry in."""
    held, fresh = InstrumentFactory(tradingsymbol="HDFCBANK"), InstrumentFactory(tradingsymbol="ICICIBANK")
    strategy = StrategyFactory(instruments=[held, fresh])
    account = AccountFactory()
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("60"), risk_per_trade_pct=Decimal("1"))
    [entry] = trade(account, strategy, held, 1)
    assert entry.status == OrderStatus.COMPLETE
    return account, strategy, held, fresh


def engine_kill_switch(account, strategy):
    risk_services.kill_switch_trip(reason="test")


def engine_stopped(account, strategy):
    risk_services.engine_stop(reason="test")


def account_switched_off(account, strategy):
    account.trading_enabled = False
    account.save()


def account_halted(account, strategy):
    risk_services.account_halt(account=account, reason="test")


def strategy_switched_off(account, strategy):
    strategy.trading_enabled = False
    strategy.save()


def mapping_disabled(account, strategy):
    AccountStrategy.objects.filter(account=account, strategy=strategy).update(enabled=False)


@pytest.mark.parametrize(
    ("switch", "check"),
    [
        (engine_kill_switch, "kill_switch"),
        (engine_stopped, "engine_running"),
        (account_switched_off, "account_enabled"),
        (account_halted, "account_halted"),
        (strategy_switched_off, "strategy_enabled"),
        (mapping_disabled, "strategy_enabled"),
    ],
)
def test_a_switch_blocks_new_entries_but_a_signal_to_go_flat_still_exits(holding, switch, check):
    account, strategy, held, fresh = holding
    switch(account, strategy)

    [entry] = trade(account, strategy, fresh, 1)
    assert entry.status == OrderStatus.BLOCKED
    assert check in {c["name"] for c in entry.risk_decision.checks if not c["passed"]}

    [exit_order] = trade(account, strategy, held, 0)
    assert exit_order.leg == OrderLeg.EXIT and exit_order.risk_decision.approved
    assert exit_order.status == OrderStatus.COMPLETE
    reason = next(c["reason"] for c in exit_order.risk_decision.checks if c["name"] == check)
    assert reason.startswith("Exit: not applied (entry limit).")
    assert Position.objects.get(account=account, instrument=held).quantity == 0


def test_a_reversal_on_a_halted_account_exits_and_does_not_enter(holding):
    account, strategy, held, _ = holding
    risk_services.account_halt(account=account, reason="test")
    exit_order, entry = sorted(trade(account, strategy, held, -1), key=lambda o: o.leg != OrderLeg.EXIT)
    assert exit_order.status == OrderStatus.COMPLETE
    assert entry.leg == OrderLeg.ENTRY and entry.status == OrderStatus.BLOCKED
    assert Position.objects.get(account=account, instrument=held).quantity == 0


def test_exits_still_meet_the_sanity_checks(holding):
    account, strategy, held, _ = holding
    risk_services.account_halt(account=account, reason="test")
    account.refresh_from_db()
    account.max_order_quantity = 1  # lowered below the position: one exit order would be a fat finger
    account.save()

    [exit_order] = trade(account, strategy, held, 0)

    assert exit_order.status == OrderStatus.BLOCKED
    failed = {c["name"] for c in exit_order.risk_decision.checks if not c["passed"]}
    assert failed == {"max_order_quantity"}
    assert Position.objects.get(account=account, instrument=held).quantity > 0


def test_an_account_without_a_session_cannot_send_even_exits(holding):
    account, strategy, held, _ = holding
    account.status = AccountStatus.NEEDS_LOGIN
    account.save()
    [exit_order] = trade(account, strategy, held, 0)
    assert exit_order.status == OrderStatus.BLOCKED and "not logged in" in exit_order.status_message
    assert EngineState.objects.get().running

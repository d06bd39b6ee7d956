"""Daily loss: marked every 15 s in market hours; a breach halts the account (and may flatten it)."""

from datetime import datetime
from decimal import Decimal

import pytest

from accounts.models import AccountStatus
from execution.models import Order, OrderLeg, OrderStatus, Position
from execution.operations.daily_loss import daily_loss_enforce, mark_to_market_tick
from execution.operations.runs import operation_run
from execution.tasks import mark_to_market
from risk import services as risk_services
from risk.models import RiskEvent, RiskEventKind
from strategies.marketdata import SimulatedMarketData
from tests.execution.book import IST, trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(monkeypatch):
    """Move one instrument's simulated price: ``market.move(instrument, price)``."""

    class Market:
        overrides: dict[int, Decimal] = {}

        def move(self, instrument, price):
            self.overrides[instrument.instrument_token] = Decimal(price)

    fake = Market()
    real_ltp = SimulatedMarketData.ltp

    def ltp(self, instruments, at=None):
        prices = real_ltp(self, instruments, at)
        return {token: fake.overrides.get(token, price) for token, price in prices.items()}

    monkeypatch.setattr(SimulatedMarketData, "ltp", ltp)
    return fake


@pytest.fixture
def long_position(engine_running):
    instrument = InstrumentFactory(tradingsymbol="SBIN")
    strategy = StrategyFactory(instruments=[instrument])
    account = AccountFactory(daily_loss_limit=Decimal("1000"))
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("2"))
    [entry] = trade(account, strategy, instrument, 1)
    assert entry.status == OrderStatus.COMPLETE
    return account, strategy, instrument, Position.objects.get(account=account)


def price_for_loss(position, loss: Decimal) -> Decimal:
    """The price at which the long position has lost ``loss`` rupees, on a valid tick."""
    return (position.average_price - loss / position.quantity).quantize(Decimal("0.05"))


def test_a_loss_within_the_limit_changes_nothing(long_position, market):
    account, _, instrument, position = long_position
    market.move(instrument, price_for_loss(position, Decimal("900")))
    run = mark_to_market_tick()
    assert run.marked == 1 and run.breaches == []
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_a_breach_halts_the_account_blocks_entries_and_still_lets_it_reduce_risk(long_position, market):
    account, strategy, instrument, position = long_position
    market.move(instrument, price_for_loss(position, Decimal("1100")))

    run = mark_to_market_tick()

    [breach] = run.breaches
    assert breach.account == account and breach.daily_pnl <= Decimal("-1000") and breach.flatten is None
    account.refresh_from_db()
    assert account.status == AccountStatus.HALTED and "Daily loss limit breached" in account.status_reason
    event = RiskEvent.objects.get(kind=RiskEventKind.DAILY_LOSS_BREACH, account=account)
    assert "₹1,000.00" in event.message
    position.refresh_from_db()
    assert position.quantity > 0  # no auto-flatten asked for: the position stays
    # the next tick finds it halted: no second event
    assert mark_to_market_tick().breaches == []
    assert RiskEvent.objects.filter(kind=RiskEventKind.DAILY_LOSS_BREACH).count() == 1

    other = InstrumentFactory(tradingsymbol="ITC")
    strategy.instruments.add(other)
    [entry] = trade(account, strategy, other, 1)
    assert entry.status == OrderStatus.BLOCKED
    failed = {c["name"] for c in entry.risk_decision.checks if not c["passed"]}
    assert {"account_halted", "daily_loss"} <= failed
    assert "halted" in entry.status_message and "daily loss limit" in entry.status_message

    # a signal to go flat on a halted account: an approved exit
    [exit_order] = trade(account, strategy, instrument, 0)
    assert exit_order.leg == OrderLeg.EXIT and exit_order.risk_decision.approved
    assert exit_order.status == OrderStatus.COMPLETE
    position.refresh_from_db()
    assert position.quantity == 0


def test_a_breach_flattens_the_account_when_it_asks_for_it(long_position, market):
    account, _, instrument, position = long_position
    account.auto_flatten_on_daily_loss = True
    account.save()
    market.move(instrument, price_for_loss(position, Decimal("1500")))

    [breach] = mark_to_market_tick().breaches

    # the tick halted the account and only started the flatten: beat never waits on a broker
    assert breach.flatten.kind == "daily_loss_flatten" and breach.flatten.state == "queued"
    assert not Order.objects.filter(account=account, leg=OrderLeg.EXIT).exists()
    run = operation_run(operation_id=breach.flatten.id)  # the task queued on commit, run here
    assert run.operation.state == "done" and len(run.report.exit_orders) == 1
    position.refresh_from_db()
    assert position.quantity == 0
    [exit_order] = Order.objects.filter(account=account, leg=OrderLeg.EXIT)
    assert exit_order.status == OrderStatus.COMPLETE and exit_order.signal is None
    assert exit_order.reason.startswith("Daily loss limit breached") and exit_order.tag[13] == "D"
    assert RiskEvent.objects.filter(kind=RiskEventKind.SQUARE_OFF, account=account).exists()
    account.refresh_from_db()
    assert account.status == AccountStatus.HALTED  # flat, and still halted for the day


def test_realised_losses_today_count_too(long_position, market):
    account, strategy, instrument, position = long_position
    market.move(instrument, price_for_loss(position, Decimal("1200")))
    trade(account, strategy, instrument, 0)  # sold at the loss: realised, nothing open
    assert not Position.objects.filter(account=account).exclude(quantity=0).exists()
    [breach] = daily_loss_enforce()
    assert breach.account == account


def test_an_operator_resumes_a_breached_account(long_position, market):
    account, _, instrument, position = long_position
    market.move(instrument, price_for_loss(position, Decimal("1100")))
    mark_to_market_tick()
    account.refresh_from_db()
    # resuming while the loss is still past the limit would be undone at the next mark: raise it first
    account.daily_loss_limit = Decimal("5000")
    account.save()
    risk_services.account_resume(account=account, reason="Limit raised after review")
    assert mark_to_market_tick().breaches == []
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert RiskEvent.objects.filter(kind=RiskEventKind.ACCOUNT_RESUMED, account=account).exists()


def test_marking_runs_only_in_market_hours_on_exchange_data(long_position, settings):
    account, _, _, position = long_position
    position.refresh_from_db()
    marked_at = position.marked_at
    settings.SIMULATED_MARKET_24X7 = False  # the NSE calendar, as real data follows

    saturday = mark_to_market_tick(now=datetime(2026, 11, 21, 11, 0, tzinfo=IST))
    evening = mark_to_market_tick(now=datetime(2026, 11, 20, 16, 0, tzinfo=IST))
    assert saturday.skipped == evening.skipped == "market closed"
    position.refresh_from_db()
    assert position.marked_at == marked_at

    session = mark_to_market_tick(now=datetime(2026, 11, 20, 11, 0, tzinfo=IST))
    assert session.skipped == "" and session.marked == 1


def test_the_task_runs_the_tick(long_position):
    _, _, instrument, position = long_position
    result = mark_to_market.apply().get()
    assert result == {"skipped": "", "marked": 1, "halted": [], "flattening": []}
    position.refresh_from_db()
    assert position.marked_at is not None

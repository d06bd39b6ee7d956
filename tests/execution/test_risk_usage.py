"""The dashboard's risk panel: per account, the risk used today against each limit."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from execution.mappings import mapping_save
from execution.models import Order, OrderLeg, OrderStatus, Position
from execution.operations.daily_loss import daily_loss_enforce
from execution.operations.emergency import emergency_stop
from execution.orders.fills import mark_to_market
from execution.selectors import account_risk_usage
from risk import services as risk_services
from tests.execution.book import trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def strategy(engine_running):
    return StrategyFactory(
        instruments=[InstrumentFactory(tradingsymbol="INFY"), InstrumentFactory(tradingsymbol="TCS")]
    )


def trading_account(strategy, name, **fields):
    account = AccountFactory(name=name, **fields)
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("30"), risk_per_trade_pct=Decimal("1"))
    return account


def test_one_row_per_account_with_each_limit_and_what_is_used(strategy):
    infy, tcs = strategy.instruments.order_by("tradingsymbol")
    asha = trading_account(strategy, "Asha", capital=Decimal("100000"), daily_loss_limit=Decimal("2000"))
    other = StrategyFactory(name="Idle")
    mapping_save(account=asha, strategy=other, allocation_pct=Decimal("20"), risk_per_trade_pct=Decimal("1"))
    mapping_save(
        account=asha,
        strategy=StrategyFactory(name="Off"),
        allocation_pct=Decimal("50"),
        risk_per_trade_pct=Decimal("1"),
        enabled=False,  # disabled mappings allocate nothing
    )
    [entry] = trade(asha, strategy, infy, 1)
    position = Position.objects.get(account=asha)
    mark = position.average_price - Decimal("5")
    mark_to_market(prices={infy.instrument_token: mark})
    asha.trading_enabled = False
    asha.save()
    [refused] = trade(asha, strategy, tcs, 1)
    assert refused.status == OrderStatus.BLOCKED

    [row] = account_risk_usage(account_id=asha.id)

    unrealised = (mark - position.average_price) * position.quantity
    assert row.account == "Asha" and row.account_id == asha.id
    assert row.realised_pnl == 0 and row.unrealised_pnl == unrealised == row.daily_pnl
    assert row.loss_used == -unrealised and row.loss_remaining == Decimal("2000") + unrealised
    assert row.loss_used_pct == (-unrealised * 100 / Decimal("2000")).quantize(Decimal("0.01"))
    assert (row.allocated_pct, row.allocated_capital) == (Decimal("50"), Decimal("50000.00"))
    assert row.open_exposure == (mark * position.quantity).quantize(Decimal("0.01"))
    assert row.exposure_pct == (row.open_exposure * 100 / row.allocated_capital).quantize(Decimal("0.01"))
    assert (row.open_positions, row.max_open_positions) == (1, asha.max_open_positions)
    assert (row.orders_today, row.refused_today) == (1, 1)
    assert not row.trading_enabled and not row.can_open_entries and row.engine_running
    [rejection] = row.last_rejections
    assert rejection.id == refused.risk_decision_id and rejection.instrument == "NSE:TCS"
    assert any(reason.startswith("account_enabled: Trading is disabled") for reason in rejection.reasons)
    assert entry.status == OrderStatus.COMPLETE


def in_flight_entry(account, strategy, instrument, *, tag: str) -> Order:
    """An entry at the broker, 4 of 10 filled, sized at 100: 600 of exposure still on its way."""
    return Order.objects.create(
        account=account,
        strategy=strategy,
        instrument=instrument,
        leg=OrderLeg.ENTRY,
        side="BUY",
        quantity=10,
        filled_quantity=4,
        product="MIS",
        reference_price=Decimal("100"),
        tag=tag,
        status=OrderStatus.SUBMITTED,
    )


def test_in_flight_entries_count_as_exposure_and_positions(strategy):
    infy = strategy.instruments.get(tradingsymbol="INFY")
    account = trading_account(strategy, "Kite-like")
    in_flight_entry(account, strategy, infy, tag="TINFLIGHT1")
    [row] = account_risk_usage(account_id=account.id)
    assert row.open_exposure == Decimal("600.00") and row.open_positions == 1


def test_halts_and_the_kill_switch_show(strategy):
    breached = trading_account(strategy, "Breached", daily_loss_limit=Decimal("100"))
    halted = trading_account(strategy, "Halted")
    calm = trading_account(strategy, "Calm")
    infy = strategy.instruments.get(tradingsymbol="INFY")
    trade(breached, strategy, infy, 1)
    position = Position.objects.get(account=breached)
    mark_to_market(prices={infy.instrument_token: position.average_price - Decimal("200") / position.quantity - 1})
    daily_loss_enforce()
    risk_services.account_halt(account=halted, reason="Looking into it")

    rows = {row.account: row for row in account_risk_usage()}

    assert rows["Breached"].halted and rows["Breached"].halt_kind == "daily_loss"
    assert rows["Breached"].daily_loss_breached and rows["Breached"].loss_used_pct > 100
    assert rows["Halted"].halt_kind == "operator" and rows["Halted"].status_reason == "Looking into it"
    assert not rows["Calm"].halted and rows["Calm"].halt_kind == "" and rows["Calm"].can_open_entries
    assert list(rows) == ["Breached", "Calm", "Halted"]

    emergency_stop(reason="drill")
    assert all(row.global_kill_switch and not row.can_open_entries for row in account_risk_usage())
    assert account_risk_usage(account_id=calm.id)[0].account == "Calm"
    assert account_risk_usage(account_id=10**9) == []


def test_a_fixed_number_of_queries_whatever_the_number_of_accounts(strategy, django_assert_num_queries):
    infy, tcs = strategy.instruments.order_by("tradingsymbol")

    def book(n: int) -> None:
        for i in range(n):
            account = trading_account(strategy, f"Account {Order.objects.count()}-{i}")
            trade(account, strategy, infy, 1)
            account.trading_enabled = False
            account.save()
            trade(account, strategy, tcs, 1)  # refused: a rejection with reasons
            risk_services.account_halt(account=account, reason="halted")

    book(1)
    with CaptureQueriesContext(connection) as one:
        assert len(account_risk_usage()) == 1
    book(6)
    with django_assert_num_queries(len(one.captured_queries)):
        rows = account_risk_usage()
    assert len(rows) == 7 and all(len(row.last_rejections) == 1 and row.open_positions == 1 for row in rows)


def test_the_pnl_pages_the_api_and_the_risk_page_show_the_books_figures(strategy):
    """One definition per figure: exposure (a working entry counts, as the risk checks count it),
    realised and unrealised P&L are the account book's, wherever they are shown."""
    from execution.orders.book import account_book
    from execution.selectors import account_rows, pnl_by_strategy, pnl_realtime, pnl_totals, position_distribution

    infy, tcs = strategy.instruments.order_by("tradingsymbol")
    account = trading_account(strategy, "Asha")
    trade(account, strategy, infy, 1)
    trade(account, strategy, infy, 0)  # closed: realised today
    trade(account, strategy, infy, 1)
    position = Position.objects.get(account=account, instrument=infy)
    mark_to_market(prices={infy.instrument_token: position.average_price + Decimal("3")})
    in_flight_entry(account, strategy, tcs, tag="TINFLIGHT2")
    book = account_book(account_id=account.id)
    exposure = book.total_exposure.quantize(Decimal("0.01"))
    assert exposure == (position.quantity * (position.average_price + 3) + 600).quantize(Decimal("0.01"))

    [risk] = account_risk_usage(account_id=account.id)
    [row] = [r for r in account_rows() if r["account"] == account]
    [by_strategy] = [r for r in pnl_by_strategy() if r["strategy_id"] == strategy.id]
    [api] = [a for a in pnl_realtime()["accounts"] if a["account_id"] == account.id]
    assert risk.open_exposure == row["exposure"] == pnl_totals()["exposure"] == exposure
    assert risk.realised_pnl == row["realised"] == by_strategy["realised"] == api["realised"] == book.realised_today
    assert risk.unrealised_pnl == row["unrealised"] == api["unrealised"] == book.unrealised_pnl != 0
    assert risk.daily_pnl == row["total"] == api["total"] == book.daily_pnl
    [infy_row] = position_distribution()
    assert infy_row["long_value"] == (position.quantity * (position.average_price + 3)).quantize(Decimal("0.01"))

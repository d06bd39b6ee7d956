"""Capital allocation: the seed's example through the pipeline, and the 100% rule in services and admin."""

import threading
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from execution.engine.fanout import execute_signal_for_account
from execution.engine.signals import signal_submit
from execution.mappings import mapping_save, mappings_total_allocation
from execution.models import AccountStrategy, OrderStatus, Position
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def seed_example(engine_running):
    """The seed's example: capital ₹1,00,000, allocation 50% = ₹50,000, risk 2% = ₹1,000 per trade."""
    instrument = InstrumentFactory(tradingsymbol="RELIANCE")
    strategy = StrategyFactory(name="SMA 5/20", instruments=[instrument])
    account = AccountFactory(name="Paper Asha", capital=Decimal("100000"), max_order_value=Decimal("1000000"))
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("2"))
    return account, strategy, instrument


def enter(account, strategy, instrument, *, price: str, stop: str, minute: int = 0):
    signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=datetime(2026, 11, 20, 10, minute, tzinfo=IST),
        target=1,
        price=Decimal(price),
        stop_price=Decimal(stop),
    )
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    return order


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("price", "stop", "limited_by"),
    [
        ("1250.00", "1225.00", "risk"),  # ₹25 to the stop: ₹1,000 buys 40 shares of risk
        ("1250.00", "1249.00", "allocation"),  # ₹1 to the stop: ₹50,000 of capital buys 40 shares
        ("400.00", "380.00", "risk"),  # ₹20 to the stop: 50 shares
    ],
)
def test_the_seed_example_through_the_pipeline(seed_example, price, stop, limited_by):
    account, strategy, instrument = seed_example
    mapping = AccountStrategy.objects.get(account=account)
    assert (mapping.allocated_capital, mapping.risk_budget) == (Decimal("50000.00"), Decimal("1000.00"))

    order = enter(account, strategy, instrument, price=price, stop=stop)

    price, stop = Decimal(price), Decimal(stop)
    assert order.status == OrderStatus.COMPLETE and order.quantity > 0
    assert order.quantity * (price - stop) <= Decimal("1000")  # never more than ₹1,000 lost at the stop
    assert order.quantity * price <= Decimal("50000")  # never more than the ₹50,000 allocated
    # the bound that binds is met to the share: one more would break it
    if limited_by == "risk":
        assert (order.quantity + 1) * (price - stop) > Decimal("1000")
    else:
        assert (order.quantity + 1) * price > Decimal("50000")
    decision = order.risk_decision
    assert Decimal(decision.sizing["allocated_capital"]) == Decimal("50000")
    assert Decimal(decision.sizing["risk_budget"]) == Decimal("1000")
    assert decision.sizing["limited_by"] == limited_by
    checks = {c["name"]: c["reason"] for c in decision.checks}
    assert "the budget of ₹1,000.00 (2% of ₹50,000.00 allocated)" in checks["per_trade_risk"]
    assert "allocated capital of ₹50,000.00 (50% of ₹1,00,000.00)" in checks["allocation"]
    assert Position.objects.get(account=account).quantity == order.quantity


@pytest.mark.django_db
def test_the_seed_example_across_three_instruments_enters_all_three(seed_example):
    """₹50,000 allocated to a strategy of three instruments: ₹16,666.66 per position, whatever comes first."""
    from strategies.selectors import market_data_source

    account, strategy, instrument = seed_example
    strategy.instruments.add(InstrumentFactory(tradingsymbol="TCS"), InstrumentFactory(tradingsymbol="INFY"))
    held = list(strategy.instruments.order_by("id"))
    # At the simulated prices the paper broker fills at, with stops 0.1% away: the risk budget would
    # allow far more, so the capital per position decides.
    prices = market_data_source().ltp(held)
    orders = []
    for minute, traded in enumerate(held):
        price = Decimal(str(prices[traded.instrument_token])).quantize(Decimal("0.05"))
        stop = (price * Decimal("0.999")).quantize(Decimal("0.05"))
        orders.append(enter(account, strategy, traded, price=str(price), stop=str(stop), minute=minute))

    assert [o.status for o in orders] == [OrderStatus.COMPLETE] * 3
    values = [o.quantity * o.reference_price for o in orders]
    assert all(value <= Decimal("16666.66") for value in values), values
    # Each gets its share, to the share: one more unit would pass ₹16,666.66 (or, for the last, the
    # allocation its two elders left after the fills' slippage).
    limits = [o.risk_decision.sizing["limited_by"] for o in orders]
    assert limits[:2] == ["position", "position"] and limits[2] in ("position", "allocation"), limits
    assert all((o.quantity + 1) * o.reference_price > Decimal("16666.66") for o in orders[:2])
    assert values[2] > Decimal("16666.66") - 2 * orders[2].reference_price
    assert sum(p.quantity * p.average_price for p in Position.objects.filter(account=account)) <= Decimal("50000")
    assert orders[0].risk_decision.sizing["position_capital"] == "16666.66"


@pytest.mark.django_db
def test_an_entry_beyond_the_strategys_maximum_positions_is_sized_to_zero_with_the_figures(seed_example):
    account, strategy, instrument = seed_example
    other = InstrumentFactory(tradingsymbol="TCS")
    strategy.instruments.add(other)
    strategy.max_positions = 1
    strategy.save()
    first = enter(account, strategy, instrument, price="1250.00", stop="1249.00")
    assert first.quantity * Decimal("1250") == Decimal("50000")  # one position: the whole allocation
    # Marked where it was sized (the paper broker fills at the simulated price).
    Position.objects.update(last_price=Decimal("1250"))

    second = enter(account, strategy, other, price="500.00", stop="490.00", minute=1)

    assert second.status == OrderStatus.BLOCKED
    assert "Sized to zero" in second.status_message
    assert "allocated capital left, ₹0.00 of ₹50,000.00" in second.status_message


@pytest.mark.django_db
def test_allocations_above_100_percent_name_every_other_mapping():
    account = AccountFactory()
    MappingFactory(account=account, strategy=StrategyFactory(name="Trend"), allocation_pct=Decimal("50"))
    MappingFactory(account=account, strategy=StrategyFactory(name="Reversion"), allocation_pct=Decimal("30"))
    disabled = MappingFactory(
        account=account, strategy=StrategyFactory(name="Breakout"), allocation_pct=Decimal("40"), enabled=False
    )

    with pytest.raises(ValidationError) as error:
        mapping_save(
            account=account,
            strategy=StrategyFactory(name="Momentum"),
            allocation_pct=Decimal("25"),
            risk_per_trade_pct=Decimal("1"),
        )
    [message] = error.value.message_dict["allocation_pct"]
    assert "105" in message and "Trend 50.00%" in message and "Reversion 30.00%" in message
    assert "At most 20.00% is left" in message
    assert "Breakout" not in message  # disabled mappings allocate nothing

    # enabling the disabled one would also pass 100%
    with pytest.raises(ValidationError, match="Trend 50.00%"):
        mapping_save(
            account=account,
            strategy=disabled.strategy,
            allocation_pct=disabled.allocation_pct,
            risk_per_trade_pct=disabled.risk_per_trade_pct,
            enabled=True,
            mapping=disabled,
        )
    assert mappings_total_allocation(account=account) == Decimal("80")


@pytest.mark.django_db
def test_the_admin_form_shows_the_other_mappings(admin_client):
    account = AccountFactory(name="Asha")
    MappingFactory(account=account, strategy=StrategyFactory(name="Trend"), allocation_pct=Decimal("70"))
    momentum = StrategyFactory(name="Momentum")

    response = admin_client.post(
        reverse("admin:execution_accountstrategy_add"),
        {
            "account": account.id,
            "strategy": momentum.id,
            "allocation_pct": "40",
            "risk_per_trade_pct": "1",
            "enabled": "on",
        },
    )

    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert "more than 100%" in page and "Trend 70.00%" in page and "At most 30.00% is left" in page
    assert not AccountStrategy.objects.filter(strategy=momentum).exists()


@pytest.mark.django_db(transaction=True)
def test_two_mappings_saved_at_once_never_pass_100_percent():
    """Two operators at once, each adding 60% to an empty account (PostgreSQL, real threads)."""
    account = AccountFactory()
    strategies = [StrategyFactory(), StrategyFactory()]
    start = threading.Barrier(2)
    outcomes = []

    def save(strategy):
        try:
            start.wait(timeout=60)
            mapping_save(
                account=account, strategy=strategy, allocation_pct=Decimal("60"), risk_per_trade_pct=Decimal("1")
            )
            outcomes.append("saved")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # anything else is a failure, and the assertion below says which
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(s,)) for s in strategies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert sorted(outcomes) == ["refused", "saved"]
    assert mappings_total_allocation(account=account) == Decimal("60")

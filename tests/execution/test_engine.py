"""The engine's services on the database, without a worker: bars, signals, sizing, commands."""

from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from execution.engine.bar import run_timeframe
from execution.engine.fanout import execute_signal_for_account
from execution.engine.schedules import ensure_beat_schedules
from execution.engine.signals import signal_submit
from execution.mappings import mapping_save
from execution.models import Order, OrderStatus, Position
from risk.models import EngineState, RiskDecisionRecord
from strategies.models import Instrument, Signal
from tests.execution.helpers import first_bar_with_new_target
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
# The real Kite instruments dump from the mock set, as the emulator keeps a copy of it.
SHARED = Path(__file__).resolve().parents[1] / "kite_emulator" / "data"
pytestmark = pytest.mark.django_db


@pytest.fixture
def sma_strategy():
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    return StrategyFactory(instruments=[instrument]), instrument


def test_a_stopped_engine_evaluates_nothing(sma_strategy):
    strategy, instrument = sma_strategy
    bar_close, _ = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))
    run = run_timeframe(timeframe="1m", now=bar_close)
    assert run.skipped == "engine is stopped"
    assert not Signal.objects.exists()


def test_a_bar_with_a_new_target_makes_one_signal_however_often_it_is_run(engine_running, sma_strategy):
    strategy, instrument = sma_strategy
    bar_close, target = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))
    first = run_timeframe(timeframe="1m", now=bar_close + timedelta(seconds=3))
    again = run_timeframe(timeframe="1m", now=bar_close + timedelta(seconds=40))
    assert [(s.instrument, s.bar_time, s.target) for s in first.signals] == [(instrument, bar_close, target)]
    assert again.signals == []
    assert Signal.objects.count() == 1
    signal = Signal.objects.get()
    assert signal.data_source == "simulated"
    # the stop sits on the losing side of the price
    assert (signal.stop_price < signal.price) if target > 0 else (target == 0 or signal.stop_price > signal.price)


def _steady_long_bar(strategy, instrument, start: datetime) -> datetime:
    """The bar after the first change to long: the target is +1 and does not change there."""
    bar_close, target = first_bar_with_new_target(strategy, instrument, start)
    while target != 1:
        bar_close, target = first_bar_with_new_target(strategy, instrument, bar_close + timedelta(minutes=1))
    after = bar_close + timedelta(minutes=1)
    assert first_bar_with_new_target(strategy, instrument, after)[0] > after  # steady there
    return after


def test_a_strategy_set_to_enter_on_its_first_bar_takes_its_current_position_once(engine_running, sma_strategy):
    strategy, instrument = sma_strategy
    steady = _steady_long_bar(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))
    assert run_timeframe(timeframe="1m", now=steady).signals == []  # off: waits for a change

    strategy.enter_on_first_bar = True
    strategy.save()
    first = run_timeframe(timeframe="1m", now=steady)
    following = run_timeframe(timeframe="1m", now=steady + timedelta(minutes=1))

    assert [(s.bar_time, s.target) for s in first.signals] == [(steady, 1)]
    assert following.signals == []  # it has a signal now: only changes from here on


def test_a_tick_long_after_its_bar_closed_does_not_trade(engine_running, sma_strategy):
    # The 1h schedule fires every 15 minutes; only the tick just after a bar close evaluates.
    bar_close = datetime(2026, 11, 20, 11, 0, tzinfo=IST)  # around-the-clock demo market: 1h bars close on the hour
    assert run_timeframe(timeframe="1h", now=bar_close + timedelta(seconds=5)).skipped == ""
    late = run_timeframe(timeframe="1h", now=bar_close + timedelta(minutes=15))
    assert "too late" in late.skipped


def test_a_failing_strategy_is_recorded_and_the_others_go_on(engine_running, sma_strategy):
    strategy, instrument = sma_strategy
    broken = StrategyFactory(name="Broken", instruments=[instrument], parameters={"fast_period": "x"})
    bar_close, _ = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))
    run = run_timeframe(timeframe="1m", now=bar_close)
    assert "fast_period" in run.errors["Broken"]
    assert len(run.signals) == 1
    broken.refresh_from_db()
    assert "fast_period" in broken.last_error
    strategy.refresh_from_db()
    assert strategy.last_error == "" and strategy.last_evaluated_at is not None


def test_the_seed_example_risks_at_most_one_thousand_rupees(engine_running, sma_strategy):
    strategy, instrument = sma_strategy
    account = AccountFactory(capital=Decimal("100000"))
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("2"))
    mapping = account.mappings.get()
    assert mapping.allocated_capital == Decimal("50000.00")
    assert mapping.risk_budget == Decimal("1000.00")
    signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=datetime(2026, 11, 20, 10, 0, tzinfo=IST),
        target=1,
        price=Decimal("400.00"),
        stop_price=Decimal("392.00"),
    )
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    # ₹1,000 / ₹8 a share = 125 shares (₹50,000 of capital buys exactly 125 at ₹400 too)
    assert order.quantity == 125
    assert order.quantity * (signal.price - signal.stop_price) == Decimal("1000.00")
    assert order.status == OrderStatus.COMPLETE
    assert order.risk_decision.approved


def test_sizing_is_capped_by_allocation_quantity_and_value_and_rounded_to_lots(engine_running):
    instrument = InstrumentFactory(lot_size=25)
    strategy = StrategyFactory(instruments=[instrument])
    account = AccountFactory(capital=Decimal("1000000"), max_order_quantity=160, max_order_value=Decimal("10000000"))
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("5"))
    signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=datetime(2026, 11, 20, 10, 0, tzinfo=IST),
        target=-1,
        price=Decimal("100.00"),
        stop_price=Decimal("101.00"),
    )
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    # risk allows 5,000 and allocation 1,000 shares, the cap 160: rounded down to 6 lots of 25
    assert (order.side, order.quantity) == ("SELL", 150)
    position = Position.objects.get(account=account)
    assert position.quantity == -150


def test_an_exit_signal_closes_the_position_and_realises_pnl(engine_running, sma_strategy):
    strategy, instrument = sma_strategy
    account = AccountFactory()
    MappingFactory(account=account, strategy=strategy)
    bar = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    entry, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=bar,
        target=1,
        price=Decimal("400"),
        stop_price=Decimal("390"),
    )
    execute_signal_for_account(signal_id=entry.id, account_id=account.id)
    exit_signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=bar + timedelta(minutes=1),
        target=0,
        price=Decimal("401"),
        stop_price=None,
    )
    [order] = execute_signal_for_account(signal_id=exit_signal.id, account_id=account.id)
    assert order.leg == "exit" and order.side == "SELL" and order.status == OrderStatus.COMPLETE
    position = Position.objects.get(account=account)
    assert position.quantity == 0
    fills = {f.order.leg: f for f in position.account.fills.select_related("order")}
    expected = (fills["exit"].price - fills["entry"].price) * fills["exit"].quantity
    assert position.realised_pnl == expected.quantize(Decimal("0.01"))


def test_every_decision_is_recorded_with_its_reasons(sma_strategy):
    strategy, instrument = sma_strategy  # engine stopped: the entry is refused
    account = AccountFactory()
    MappingFactory(account=account, strategy=strategy)
    signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=datetime(2026, 11, 20, 10, 0, tzinfo=IST),
        target=1,
        price=Decimal("400"),
        stop_price=Decimal("390"),
    )
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    assert order.status == OrderStatus.BLOCKED
    record = RiskDecisionRecord.objects.get()
    assert record.order == order and not record.approved
    failed = [c for c in record.checks if not c["passed"]]
    assert [c["name"] for c in failed] == ["engine_running"]
    assert "engine" in order.status_message.lower()


def test_allocations_above_100_percent_are_refused_naming_the_other_mappings():
    account = AccountFactory()
    first = MappingFactory(account=account, allocation_pct=Decimal("60"))
    second_strategy = StrategyFactory(name="Momentum")
    with pytest.raises(ValidationError) as error:
        mapping_save(
            account=account, strategy=second_strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("1")
        )
    message = str(error.value.message_dict["allocation_pct"])
    assert first.strategy.name in message and "60" in message and "40" in message
    # disabled mappings do not count
    mapping_save(
        account=account,
        strategy=second_strategy,
        allocation_pct=Decimal("50"),
        risk_per_trade_pct=Decimal("1"),
        enabled=False,
    )


def test_beat_schedules_are_created_once_and_operator_changes_survive():
    created = ensure_beat_schedules()
    assert {"trading:evaluate 1m", "trading:evaluate 1d"} <= set(created)
    task = PeriodicTask.objects.get(name="trading:evaluate 5m")
    assert task.expire_seconds == 300 and task.crontab.timezone.key == "Asia/Kolkata"
    task.enabled = False
    task.description = "paused by the operator"
    task.save()
    assert ensure_beat_schedules() == []
    task.refresh_from_db()
    assert (task.enabled, task.description) == (False, "paused by the operator")


def test_trading_command_starts_stops_and_reports():
    out = StringIO()
    call_command("trading", "start", stdout=out)
    assert EngineState.objects.get().running
    call_command("trading", "status", stdout=out)
    assert "RUNNING" in out.getvalue()
    call_command("trading", "stop", stdout=out)
    assert not EngineState.objects.get().running


def test_load_instruments_reads_kite_csv_and_rejects_a_bad_file(tmp_path):
    out = StringIO()
    call_command("load_instruments", str(SHARED / "instruments_nse.csv"), stdout=out)
    assert Instrument.objects.count() == 99
    bad = tmp_path / "bad.csv"
    bad.write_text(
        (SHARED / "instruments_nse.csv").read_text().replace(",0.05,1,EQ,NSE,NSE", ",0.05,zero,EQ,NSE,NSE", 1)
    )
    Instrument.objects.all().delete()
    with pytest.raises(CommandError, match="line 2"):
        call_command("load_instruments", str(bad))
    assert not Instrument.objects.exists()


def test_reloading_instruments_updates_in_place_and_a_new_token_follows_its_symbol():
    from strategies.services import InstrumentFileError, instruments_load_csv

    text = (SHARED / "instruments_nse.csv").read_text()
    assert instruments_load_csv(text=text) == (99, 0)
    bank = Instrument.objects.get(exchange="NSE", tradingsymbol="CENTRALBK-BE")
    strategy = StrategyFactory(instruments=[bank])
    assert instruments_load_csv(text=text) == (0, 0)  # nothing changed, nothing written

    # Kite gives the symbol a new token: the same instrument row (the strategy's) follows it.
    moved = text.replace("3813889,14898,CENTRALBK-BE,", "9999999,14898,CENTRALBK-BE,")
    assert instruments_load_csv(text=moved) == (0, 1)
    bank.refresh_from_db()
    assert bank.instrument_token == 9999999 and list(strategy.instruments.all()) == [bank]

    # A token another stored symbol keeps is refused, naming both, and nothing is written.
    clash = moved.replace("9999999,14898,CENTRALBK-BE,", "4645121,14898,CENTRALBK-BE,")
    with pytest.raises(InstrumentFileError, match="NSE:CENTRALBK-BE has token 4645121, which NSE:EMMBI-BL still"):
        instruments_load_csv(text=clash)
    bank.refresh_from_db()
    assert bank.instrument_token == 9999999

    # Kite renames the symbol under the same token: the same row follows, the strategy keeps it.
    renamed = moved.replace("9999999,14898,CENTRALBK-BE,", "9999999,14898,CENTRALBK,")
    assert instruments_load_csv(text=renamed) == (0, 1)
    bank.refresh_from_db()
    assert (bank.tradingsymbol, bank.instrument_token) == ("CENTRALBK", 9999999)
    assert list(strategy.instruments.all()) == [bank]


def test_seed_demo_once_then_leaves_the_database_alone():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Admin login: admin / " in out.getvalue()
    asha = AccountFactory._meta.model.objects.get(name="Paper Asha")
    mapping = asha.mappings.get(strategy__timeframe="1m")
    assert (asha.capital, mapping.allocated_capital, mapping.risk_budget) == (
        Decimal("100000.00"),
        Decimal("50000.00"),
        Decimal("1000.00"),
    )
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "left the database as it was" in again.getvalue()
    assert asha.mappings.model.objects.count() == 9


def test_evaluate_command_prints_signals_and_orders(sma_strategy, monkeypatch):
    strategy, instrument = sma_strategy
    account = AccountFactory(name="Asha")
    MappingFactory(account=account, strategy=strategy)
    bar_close, _ = first_bar_with_new_target(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))
    monkeypatch.setattr("django.utils.timezone.now", lambda: bar_close + timedelta(seconds=2))
    out = StringIO()
    call_command("evaluate", "--timeframe", "1m", stdout=out)
    text = out.getvalue()
    assert "Signal" in text and "NSE:INFY" in text
    assert "Asha" in text
    order = Order.objects.get(account=account)
    assert order.status in (OrderStatus.BLOCKED, OrderStatus.COMPLETE)

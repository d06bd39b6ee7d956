"""Emergency stop, kill-switch reset, strategy stop and account flatten, on paper accounts."""

from datetime import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from execution.brokers import PlaceResult
from execution.brokers.paper import PaperBroker
from execution.engine.schedules import ensure_beat_schedules
from execution.models import Operation, Order, OrderLeg, OrderStatus, Position
from execution.operations.emergency import emergency_stop, kill_switch_reset
from execution.operations.runs import account_flatten_start, operation_run, strategy_stop_start
from execution.operations.squareoff import REASON_ACCOUNT_FLATTEN, flatten
from execution.tags import position_exit_tag
from risk import services as risk_services
from risk.decision import exit_chunks
from risk.models import EngineState, RiskEvent, RiskEventKind
from tests.execution.book import IST, today_ist, trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("ops", is_staff=True)


@pytest.fixture
def book(engine_running):
    """Two accounts, two strategies, positions long and short, and two open orders."""
    infy = InstrumentFactory(tradingsymbol="INFY")
    tcs = InstrumentFactory(tradingsymbol="TCS")
    trend = StrategyFactory(name="Trend", instruments=[infy, tcs])
    reversion = StrategyFactory(name="Reversion", instruments=[infy])
    asha = AccountFactory(name="Asha")
    bharat = AccountFactory(name="Bharat")
    MappingFactory(account=asha, strategy=trend, allocation_pct=Decimal("40"))
    MappingFactory(account=asha, strategy=reversion, allocation_pct=Decimal("40"))
    MappingFactory(account=bharat, strategy=trend, allocation_pct=Decimal("50"))
    trade(asha, trend, infy, 1)
    trade(asha, reversion, infy, -1)  # the same instrument, another strategy: its own position
    trade(bharat, trend, tcs, -1)
    assert Position.objects.exclude(quantity=0).count() == 3
    return {"infy": infy, "tcs": tcs, "trend": trend, "reversion": reversion, "asha": asha, "bharat": bharat}


def open_order(account, strategy, instrument, *, status, broker_order_id="", placed=True) -> Order:
    """An entry still open: a LIMIT resting at the broker, or one not yet sent."""
    return Order.objects.create(
        account=account,
        strategy=strategy,
        instrument=instrument,
        leg=OrderLeg.ENTRY,
        side="BUY",
        quantity=5,
        product=strategy.product,
        order_type="LIMIT",
        price=Decimal("1.00"),
        reference_price=Decimal("1.00"),
        tag=f"T{Order.objects.count():08d}",
        status=status,
        broker_order_id=broker_order_id,
        placed_at=datetime(2026, 11, 20, 9, 30, tzinfo=IST) if placed else None,
    )


def test_emergency_stop_halts_cancels_and_squares_off_everything(book, operator):
    ensure_beat_schedules()
    resting = open_order(book["asha"], book["trend"], book["tcs"], status=OrderStatus.OPEN, broker_order_id="PAPER1")
    unsent = open_order(book["bharat"], book["trend"], book["infy"], status=OrderStatus.PENDING, placed=False)

    report = emergency_stop(actor=operator, reason="Data feed is wrong")

    state = EngineState.objects.get()
    assert state.kill_switch and not state.running
    event = RiskEvent.objects.get(kind=RiskEventKind.EMERGENCY_STOP)
    assert event.actor == operator and "Data feed is wrong" in event.message and event.created_at
    # the schedules that trade are off; the ones that watch or reduce risk keep running
    assert not PeriodicTask.objects.filter(task="execution.tasks.run_timeframe", enabled=True).exists()
    assert PeriodicTask.objects.get(task="execution.tasks.mark_to_market").enabled
    assert PeriodicTask.objects.get(task="execution.tasks.intraday_square_off").enabled
    assert report.schedules_disabled == 5
    # every open order cancelled, the unsent one before any worker could send it
    for order in (resting, unsent):
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert "Data feed is wrong" in order.status_message
    assert {o.id for o in report.flatten.cancelled} == {resting.id, unsent.id}
    # every position flat, each by its own MARKET exit recorded like any order
    assert not Position.objects.exclude(quantity=0).exists()
    exits = Order.objects.filter(leg=OrderLeg.EXIT)
    assert exits.count() == 3 and {o.id for o in report.flatten.exit_orders} == set(exits.values_list("id", flat=True))
    for order in exits.select_related("risk_decision"):
        assert order.signal is None and order.order_type == "MARKET" and order.status == OrderStatus.COMPLETE
        assert order.reason == "Emergency stop: Data feed is wrong"
        position = Position.objects.get(
            account=order.account, strategy=order.strategy, instrument=order.instrument, product=order.product
        )
        assert order.tag == position_exit_tag(position_id=position.id, on_date=today_ist(), reason_code="E")
        assert order.risk_decision.is_exit and order.risk_decision.approved
    assert RiskEvent.objects.filter(kind=RiskEventKind.SQUARE_OFF, actor=operator).exists()
    assert "3 exit order(s) sent" in report.summary and report.actor == "ops"


def test_new_entries_stop_at_once_and_only_a_reset_then_a_start_resumes(book, operator):
    ensure_beat_schedules()
    emergency_stop(actor=operator, reason="stop")

    [blocked] = trade(book["asha"], book["trend"], book["tcs"], 1)
    assert blocked.status == OrderStatus.BLOCKED and "kill switch" in blocked.status_message
    with pytest.raises(PermissionError, match="kill switch"):
        risk_services.engine_start(actor=operator)

    kill_switch_reset(actor=operator, reason="Feed fixed")
    state = EngineState.objects.get()
    assert not state.kill_switch and not state.running  # re-armed, not restarted
    assert not PeriodicTask.objects.filter(task="execution.tasks.run_timeframe", enabled=False).exists()
    assert RiskEvent.objects.filter(kind=RiskEventKind.KILL_SWITCH_RESET, actor=operator).exists()
    risk_services.engine_start(actor=operator)
    [entry] = trade(book["asha"], book["trend"], book["tcs"], 1)
    assert entry.status == OrderStatus.COMPLETE


def test_calling_it_twice_is_harmless(book, operator):
    first = emergency_stop(actor=operator, reason="once")
    second = emergency_stop(actor=operator, reason="twice")

    assert not first.was_already_active and second.was_already_active
    assert second.flatten.exit_orders == [] and second.flatten.cancelled == []
    assert Order.objects.filter(leg=OrderLeg.EXIT).count() == 3
    assert RiskEvent.objects.filter(kind=RiskEventKind.EMERGENCY_STOP).count() == 2  # both presses recorded


def test_an_exit_still_at_the_broker_is_neither_cancelled_nor_sent_again(book, operator, monkeypatch):
    # A real broker acknowledges a MARKET order and fills it a moment later.
    monkeypatch.setattr(
        PaperBroker, "place_order", lambda self, request: PlaceResult(order_id=f"K{request.tag}", status="SUBMITTED")
    )
    emergency_stop(actor=operator, reason="once")
    in_flight = list(Order.objects.filter(leg=OrderLeg.EXIT, status=OrderStatus.SUBMITTED))
    assert len(in_flight) == 3

    again = emergency_stop(actor=operator, reason="pressed again while the exits are at the broker")

    assert again.flatten.cancelled == [] and again.flatten.exit_orders == []
    assert len(again.flatten.skipped) == 3 and all("in flight" in why for why in again.flatten.skipped.values())
    assert Order.objects.filter(leg=OrderLeg.EXIT).count() == 3
    assert all(o.status == OrderStatus.SUBMITTED for o in Order.objects.filter(leg=OrderLeg.EXIT))


def test_a_refused_exit_is_retried_under_the_next_attempts_tag(book, operator, monkeypatch):
    from execution.brokers import BrokerRejected

    def reject(self, request):
        raise BrokerRejected("RMS: margin check failed")

    monkeypatch.setattr(PaperBroker, "place_order", reject)
    first = emergency_stop(actor=operator, reason="once")
    assert len(first.flatten.failed_exits) == 3 and "still open" in first.flatten.summary
    monkeypatch.undo()

    emergency_stop(actor=operator, reason="again")

    assert not Position.objects.exclude(quantity=0).exists()
    position = Position.objects.filter(account=book["bharat"]).get()
    tags = set(Order.objects.filter(account=book["bharat"], leg=OrderLeg.EXIT).values_list("tag", flat=True))
    assert tags == {
        position_exit_tag(position_id=position.id, on_date=today_ist(), reason_code="E", attempt=attempt)
        for attempt in (0, 1)
    }


class Ran:
    """An operation's report, with its exit orders as rows (the task stores their ids)."""

    def __init__(self, operation):
        assert operation.state == "done", operation.summary
        self.exit_orders = list(Order.objects.filter(pk__in=operation.report["exit_orders"]).order_by("id"))


def run(operation) -> Ran:
    # The test's transaction never commits, so the task queued on commit is run here.
    return Ran(operation_run(operation_id=operation.id).operation)


def test_strategy_stop_closes_only_that_strategys_positions(book, operator):
    asha_reversion = Position.objects.get(account=book["asha"], strategy=book["reversion"])
    held_before = asha_reversion.quantity

    report = run(strategy_stop_start(strategy=book["trend"], actor=operator, reason="Misbehaving"))

    assert not Position.objects.filter(strategy=book["trend"]).exclude(quantity=0).exists()
    asha_reversion.refresh_from_db()
    assert asha_reversion.quantity == held_before != 0  # same account and instrument, other strategy: untouched
    assert {o.strategy_id for o in report.exit_orders} == {book["trend"].id} and len(report.exit_orders) == 2
    book["trend"].refresh_from_db()
    assert not book["trend"].trading_enabled
    assert RiskEvent.objects.filter(kind=RiskEventKind.STRATEGY_STOPPED, strategy=book["trend"], actor=operator)
    [blocked] = trade(book["asha"], book["trend"], book["tcs"], 1)
    assert blocked.status == OrderStatus.BLOCKED and "strategy" in blocked.status_message.lower()
    # the engine and the other strategy go on
    assert EngineState.objects.get().running
    [exit_order] = trade(book["asha"], book["reversion"], book["infy"], 0)
    assert exit_order.status == OrderStatus.COMPLETE


def test_account_flatten_closes_one_account_and_leaves_it_trading(book, operator):
    report = run(account_flatten_start(account=book["asha"], actor=operator, reason="End of experiment"))

    assert not Position.objects.filter(account=book["asha"]).exclude(quantity=0).exists()
    assert Position.objects.filter(account=book["bharat"]).exclude(quantity=0).count() == 1
    assert len(report.exit_orders) == 2
    assert all(o.tag[13] == REASON_ACCOUNT_FLATTEN for o in report.exit_orders)
    event = RiskEvent.objects.get(kind=RiskEventKind.SQUARE_OFF, account=book["asha"])
    assert event.actor == operator and "End of experiment" in event.message


def test_exits_pass_on_halted_and_switched_off_accounts_but_not_the_sanity_checks(book, operator, settings):
    asha = book["asha"]
    risk_services.account_halt(account=asha, reason="operator", actor=operator)
    asha.trading_enabled = False
    asha.save()
    # Outside market hours on an exchange calendar the broker would refuse them: the sanity check does.
    settings.SIMULATED_MARKET_24X7 = False
    saturday = datetime(2026, 11, 21, 11, 0, tzinfo=IST)
    closed = flatten(scope={"account_id": asha.id}, reason_code="F", reason="closed market", now=saturday)
    assert len(closed.failed_exits) == 2
    assert all("market is closed" in o.status_message for o in closed.failed_exits)
    assert Position.objects.filter(account=asha).exclude(quantity=0).count() == 2

    settings.SIMULATED_MARKET_24X7 = True
    done = flatten(scope={"account_id": asha.id}, reason_code="F", reason="open market")
    assert [o.status for o in done.exit_orders] == [OrderStatus.COMPLETE] * 2
    for order in done.exit_orders:
        checks = {c["name"]: c for c in order.risk_decision.checks}
        assert checks["account_halted"]["passed"] and checks["account_halted"]["reason"].startswith("Exit: not applied")
        assert checks["account_enabled"]["passed"]
    assert not Position.objects.filter(account=asha).exclude(quantity=0).exists()


def test_a_position_beyond_the_per_order_caps_is_closed_in_several_orders(book):
    bharat = book["bharat"]
    position = Position.objects.get(account=bharat)
    held = abs(position.quantity)
    bharat.max_order_quantity = max(held // 3, 1)  # lowered after the position was opened
    bharat.save()

    report = run(account_flatten_start(account=bharat, reason="caps lowered"))

    assert sum(o.quantity for o in report.exit_orders) == held
    assert all(o.quantity <= bharat.max_order_quantity for o in report.exit_orders)
    assert all(o.status == OrderStatus.COMPLETE for o in report.exit_orders)
    assert len({o.tag for o in report.exit_orders}) == len(report.exit_orders)
    position.refresh_from_db()
    assert position.quantity == 0


@pytest.mark.parametrize(
    ("quantity", "lot", "max_qty", "max_value", "price", "expected"),
    [
        (100, 1, 1000, Decimal("1e9"), Decimal("10"), [100]),
        (100, 1, 40, Decimal("1e9"), Decimal("10"), [40, 40, 20]),
        (100, 1, 1000, Decimal("300"), Decimal("10"), [30, 30, 30, 10]),
        (150, 25, 60, Decimal("1e9"), Decimal("10"), [50, 50, 50]),  # whole lots per order
        (100, 50, 40, Decimal("1e9"), Decimal("10"), [100]),  # not one lot fits: one order, refused by the checks
        (10_000, 1, 1, Decimal("1e9"), Decimal("10"), [1] * 20),  # at most 20 orders per run
    ],
)
def test_exit_chunks(quantity, lot, max_qty, max_value, price, expected):
    assert exit_chunks(quantity=quantity, lot_size=lot, max_quantity=max_qty, max_value=max_value, price=price) == (
        expected
    )


def test_an_anonymous_actor_is_recorded_as_nobody(engine_running):
    report = emergency_stop(actor=AnonymousUser(), reason="from a script")
    assert RiskEvent.objects.get(kind=RiskEventKind.EMERGENCY_STOP).actor is None
    assert report.actor == "the system"


def test_the_commands(book):
    ensure_beat_schedules()
    out = StringIO()
    call_command("emergency_stop", "--reason", "drill", stdout=out)
    assert "kill switch on" in out.getvalue() and "3 exit order(s) sent" in out.getvalue()
    operation = Operation.objects.get(kind="emergency_stop")  # the API's operation, run by the command
    assert f"Emergency stop #{operation.id}: Kill switch on" in out.getvalue()  # progress, as it goes
    assert out.getvalue().count(": COMPLETE") == 3 and "  exit " in out.getvalue()
    assert f"Operation #{operation.id}: done (/api/system/operations/{operation.id})" in out.getvalue()
    assert "drill (from the command line (" in RiskEvent.objects.get(kind=RiskEventKind.EMERGENCY_STOP).message
    assert not Position.objects.exclude(quantity=0).exists()
    call_command("emergency_stop", stdout=out)  # no reason: the log says from where
    assert RiskEvent.objects.filter(message__startswith="Emergency stop from the command line (").exists()

    call_command("kill_switch_reset", "--reason", "drill over", stdout=out)
    assert not EngineState.objects.get().kill_switch
    assert "stays stopped" in out.getvalue()


def test_exits_beyond_the_order_rate_limit_are_paced_not_refused(engine_running):
    # More positions on one account than Kite's 10 orders a second.
    instruments = [InstrumentFactory(tradingsymbol=f"BURST{i}") for i in range(12)]
    strategy = StrategyFactory(instruments=instruments)
    account = AccountFactory(capital=Decimal("10000000"), max_order_value=Decimal("50000"), max_open_positions=20)
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("100"), risk_per_trade_pct=Decimal("2"))
    for instrument in instruments:
        trade(account, strategy, instrument, 1)
        Order.objects.filter(account=account).update(placed_at=datetime(2026, 11, 20, 9, 30, tzinfo=IST))
    assert Position.objects.filter(account=account).exclude(quantity=0).count() == 12

    report = emergency_stop(reason="burst")

    assert len(report.flatten.exit_orders) == 12 and report.flatten.failed_exits == []
    assert not Position.objects.filter(account=account).exclude(quantity=0).exists()


def test_one_accounts_failure_does_not_keep_the_others_open(book, monkeypatch):
    place = PaperBroker.place_order

    def broken_for_asha(self, request):
        if self.account.name == "Asha":
            raise RuntimeError("adapter bug")
        return place(self, request)

    monkeypatch.setattr(PaperBroker, "place_order", broken_for_asha)

    report = emergency_stop(reason="partial outage")

    assert len(report.flatten.errors) == 2 and all("adapter bug" in e.message for e in report.flatten.errors)
    # Each error names its account as data: the operation's page lists it under that account.
    assert {e.account_id for e in report.flatten.errors} == {book["asha"].id}
    assert report.operation.report["errors"][0]["account_id"] == book["asha"].id
    assert "2 error(s)" in report.summary
    assert not Position.objects.filter(account=book["bharat"]).exclude(quantity=0).exists()
    assert RiskEvent.objects.filter(kind=RiskEventKind.SQUARE_OFF).exists()

"""The intraday (MIS) square-off at MIS_SQUARE_OFF_TIME, and the beat schedules that run it."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django_celery_beat.models import PeriodicTask

from execution.brokers.paper import PaperBroker
from execution.engine.schedules import ensure_beat_schedules
from execution.models import Operation, Order, OrderLeg, OrderStatus, Position
from execution.operations.emergency import emergency_stop
from execution.operations.runs import intraday_square_off_start, operation_run
from execution.tasks import intraday_square_off as intraday_square_off_task
from strategies.models import MarketHoliday, Product
from tests.execution.book import IST, trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db

FRIDAY = date(2026, 11, 20)


def at(hour: int, minute: int, day: date = FRIDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST)


def intraday_and_delivery():
    """One account mapped to an intraday (MIS) strategy on INFY and a delivery (CNC) one on TCS."""
    infy, tcs = InstrumentFactory(tradingsymbol="INFY"), InstrumentFactory(tradingsymbol="TCS")
    intraday = StrategyFactory(name="Intraday", instruments=[infy], product=Product.MIS)
    delivery = StrategyFactory(name="Delivery", instruments=[tcs], product=Product.CNC)
    account = AccountFactory()
    MappingFactory(account=account, strategy=intraday, allocation_pct=Decimal("40"))
    MappingFactory(account=account, strategy=delivery, allocation_pct=Decimal("40"))
    return account, intraday, delivery, infy, tcs


def square_off(now: datetime):
    """Beat's tick at ``now``, then the operation it started, run here at the same time (the test's
    transaction never commits, so the task queued on commit does not run). Returns (skipped, report)."""
    with time_machine.travel(now, tick=False):
        start = intraday_square_off_start(now=now)
        if start.operation is None:
            return start.skipped, None
        return start.skipped, operation_run(operation_id=start.operation.id).report


@pytest.fixture
def book(engine_running):
    """One account holding an intraday (MIS) position and a delivery (CNC) one."""
    account, intraday, delivery, infy, tcs = intraday_and_delivery()
    trade(account, intraday, infy, -1)
    trade(account, delivery, tcs, 1)
    return account, intraday, delivery


@pytest.fixture
def exchange_calendar(settings):
    settings.SIMULATED_MARKET_24X7 = False
    return settings


def test_mis_positions_are_closed_at_the_square_off_time_and_delivery_ones_kept(book, exchange_calendar):
    account, intraday, delivery = book

    skipped, report = square_off(at(15, 15))

    assert skipped == "" and len(report.exit_orders) == 1
    [exit_order] = report.exit_orders
    assert exit_order.product == Product.MIS and exit_order.side == "BUY" and exit_order.status == OrderStatus.COMPLETE
    assert exit_order.reason == "Intraday square-off of MIS positions at 15:15 IST" and exit_order.tag[13] == "M"
    assert Position.objects.get(strategy=intraday).quantity == 0
    assert Position.objects.get(strategy=delivery).quantity > 0
    # the next minute finds nothing left to do, and starts nothing
    assert square_off(at(15, 16)) == ("nothing to square off", None)
    assert Operation.objects.count() == 1


def test_beat_only_starts_the_square_off_which_then_exits_exactly_what_is_held(
    book, exchange_calendar, monkeypatch, django_capture_on_commit_callbacks
):
    account, intraday, delivery = book
    mis, cnc = Position.objects.get(strategy=intraday), Position.objects.get(strategy=delivery)
    mis_held, cnc_held = mis.quantity, cnc.quantity

    def no_broker_in_beat(self, request):
        raise AssertionError("beat's task called the broker")

    with monkeypatch.context() as patched, time_machine.travel(at(15, 15), tick=False):
        patched.setattr(PaperBroker, "place_order", no_broker_in_beat)
        with django_capture_on_commit_callbacks() as queued:
            answer = intraday_square_off_task.apply().get()

    # beat's task only started the operation: nothing decided, nothing sent, one task queued
    operation = Operation.objects.get(pk=answer["operation"])
    assert operation.kind == "intraday_square_off" and operation.state == "queued" and len(queued) == 1
    assert not Order.objects.filter(leg=OrderLeg.EXIT).exists()
    # a tick while it is still queued starts no second one
    with time_machine.travel(at(15, 16), tick=False):
        again = intraday_square_off_task.apply().get()
    assert again["operation"] == operation.id and "is queued" in again["skipped"]

    with time_machine.travel(at(15, 16), tick=False):
        run = operation_run(operation_id=operation.id)

    [exit_order] = Order.objects.filter(leg=OrderLeg.EXIT)
    assert run.operation.state == "done" and run.operation.report["exit_orders"] == [exit_order.id]
    assert exit_order.product == Product.MIS and exit_order.status == OrderStatus.COMPLETE
    assert exit_order.quantity == abs(mis_held) and exit_order.side == ("SELL" if mis_held > 0 else "BUY")
    mis.refresh_from_db()
    cnc.refresh_from_db()
    assert (mis.quantity, cnc.quantity) == (0, cnc_held)


@pytest.mark.parametrize(("clock", "entered"), [((15, 10), True), ((15, 15), False), ((15, 25), False)])
def test_no_new_intraday_entry_from_the_square_off_time_on(engine_running, exchange_calendar, clock, entered):
    account, intraday, delivery, infy, tcs = intraday_and_delivery()

    with time_machine.travel(at(*clock), tick=False):
        [mis_entry] = trade(account, intraday, infy, 1)
        [cnc_entry] = trade(account, delivery, tcs, 1)

    assert (mis_entry.status == OrderStatus.COMPLETE) is entered
    if not entered:
        assert mis_entry.status == OrderStatus.BLOCKED and "intraday_cutoff" in mis_entry.status_message
    assert cnc_entry.status == OrderStatus.COMPLETE  # delivery is not squared off: it may still enter


@pytest.mark.parametrize(
    ("now", "why"),
    [
        (at(15, 14), "outside the square-off window"),
        (at(15, 30), "outside the square-off window"),  # the session has closed
        (at(15, 20, date(2026, 11, 21)), "not a trading day"),  # Saturday
    ],
)
def test_nothing_happens_outside_the_window_or_on_a_non_trading_day(book, exchange_calendar, now, why):
    skipped, report = square_off(now)
    assert why in skipped and report is None
    assert not Order.objects.filter(leg=OrderLeg.EXIT).exists() and not Operation.objects.exists()


def test_nothing_happens_on_a_market_holiday(book, exchange_calendar):
    MarketHoliday.objects.create(date=FRIDAY, description="Guru Nanak Jayanti")
    assert square_off(at(15, 20)) == ("not a trading day", None)


def test_the_time_is_configurable(book, exchange_calendar):
    exchange_calendar.MIS_SQUARE_OFF_TIME = "14:30"
    assert square_off(at(14, 29))[1] is None
    _, report = square_off(at(14, 31))
    assert len(report.exit_orders) == 1 and "14:30" in report.exit_orders[0].reason


def test_a_bad_time_names_the_setting(book, exchange_calendar):
    exchange_calendar.MIS_SQUARE_OFF_TIME = "quarter past three"
    with pytest.raises(ImproperlyConfigured, match="MIS_SQUARE_OFF_TIME must be HH:MM"):
        square_off(at(15, 20))


def test_open_mis_orders_are_cancelled_first(book, exchange_calendar):
    account, intraday, _ = book
    resting = Order.objects.create(
        account=account,
        strategy=intraday,
        instrument=intraday.instruments.get(),
        leg=OrderLeg.ENTRY,
        side="SELL",
        quantity=1,
        product=Product.MIS,
        order_type="LIMIT",
        price=Decimal("99999"),
        reference_price=Decimal("1"),
        tag="TRESTING1",
        status=OrderStatus.OPEN,
        broker_order_id="PAPERTRESTING1",
    )
    _, report = square_off(at(15, 15))
    resting.refresh_from_db()
    assert resting.status == OrderStatus.CANCELLED and report.cancelled == [resting]


def test_the_around_the_clock_demo_skips_it_unless_asked(book, settings):
    assert "around-the-clock" in square_off(at(15, 20))[0]
    assert intraday_square_off_task.apply().get()["skipped"]

    settings.MIS_SQUARE_OFF_AROUND_THE_CLOCK = True
    assert square_off(at(15, 10))[1] is None
    _, report = square_off(at(15, 20))
    assert len(report.exit_orders) == 1


def test_the_beat_schedules_are_created_once_and_emergency_stop_pauses_only_the_trading_ones(engine_running):
    created = ensure_beat_schedules()
    assert {"trading:square off MIS", "trading:lift daily-loss halts", "trading:mark to market"} <= set(created)
    assert ensure_beat_schedules() == []
    square_off = PeriodicTask.objects.get(name="trading:square off MIS")
    assert square_off.task == "execution.tasks.intraday_square_off" and square_off.crontab.minute == "*"
    assert square_off.crontab.timezone.key == "Asia/Kolkata"
    lift = PeriodicTask.objects.get(name="trading:lift daily-loss halts")
    assert lift.task == "risk.tasks.lift_daily_loss_halts"

    emergency_stop(reason="drill")

    enabled = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    assert "execution.tasks.run_timeframe" not in enabled
    assert {
        "execution.tasks.mark_to_market",
        "execution.tasks.intraday_square_off",
        "risk.tasks.lift_daily_loss_halts",
    } <= enabled

"""Start evaluates each timeframe's latest closed bar at once: a 1h strategy takes its position
within a minute of Start, not at the next hour, and no bar is evaluated twice."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings

from execution.engine import switch
from execution.engine.bar import run_latest_bars, run_timeframe
from risk import services as risk_services
from strategies.library import get_strategy_class
from strategies.models import Evaluation, EvaluationOutcome, Signal
from strategies.selectors import market_data_source
from tests.factories import InstrumentFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
pytestmark = pytest.mark.django_db


def _hour_long_at(strategy, instrument, start: datetime) -> datetime:
    """A moment 40 minutes past an hour whose closed 1h bar has the strategy long."""
    runner = get_strategy_class(strategy.library_key)(strategy.parameters)
    source = market_data_source()
    for hours in range(200):
        bar_close = start + timedelta(hours=hours)
        candles = source.candles(instrument, "1h", bar_close, runner.warmup_bars + 50)
        if runner.run(candles)["target"].iloc[-1] == 1:
            return bar_close + timedelta(minutes=40)
    pytest.fail("the strategy is never long in 200 simulated hours")


@pytest.fixture
def hourly():
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    strategy = StrategyFactory(timeframe="1h", enter_on_first_bar=True, instruments=[instrument])
    now = _hour_long_at(strategy, instrument, datetime(2026, 11, 20, 10, 0, tzinfo=IST))
    return strategy, instrument, now


def test_start_enters_an_hourly_strategy_on_its_last_closed_bar_at_once(
    hourly, eager_tasks, django_capture_on_commit_callbacks
):
    strategy, instrument, now = hourly
    last_hour = now - timedelta(minutes=40)
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        switch.engine_start(reason="test")

    signal = Signal.objects.get()
    assert (signal.strategy, signal.instrument, signal.bar_time, signal.target) == (strategy, instrument, last_hour, 1)
    row = Evaluation.objects.get(strategy=strategy)
    assert (row.bar_close, row.outcome, row.signals_made) == (last_hour, EvaluationOutcome.EVALUATED, 1)


def test_the_bar_is_evaluated_once_whichever_of_start_and_the_tick_comes_first(hourly, engine_running):
    strategy, _, now = hourly
    last_hour = now - timedelta(minutes=40)
    run_timeframe(timeframe="1h", now=last_hour + timedelta(seconds=5))  # beat's tick came first
    recorded = Evaluation.objects.get(strategy=strategy).recorded_at

    assert run_latest_bars(now=now) == []  # Start after the tick: nothing left to evaluate
    assert run_latest_bars(now=now + timedelta(minutes=1)) == []  # a second Start: the same
    assert Evaluation.objects.get(strategy=strategy).recorded_at == recorded
    assert Signal.objects.count() == 1

    # the next close is beat's as usual
    run_timeframe(timeframe="1h", now=last_hour + timedelta(hours=1, seconds=5))
    assert Evaluation.objects.filter(strategy=strategy).count() == 2


def test_a_bar_skipped_while_the_engine_was_stopped_is_evaluated_at_start(hourly):
    strategy, _, now = hourly
    last_hour = now - timedelta(minutes=40)
    run_timeframe(timeframe="1h", now=last_hour + timedelta(seconds=5))  # stopped: recorded as skipped
    assert Evaluation.objects.get(strategy=strategy).outcome == EvaluationOutcome.SKIPPED

    risk_services.engine_start(reason="test")
    [run] = run_latest_bars(now=now)
    assert (run.timeframe, run.bar_close, len(run.signals)) == ("1h", last_hour, 1)
    assert Evaluation.objects.get(strategy=strategy).outcome == EvaluationOutcome.EVALUATED


def test_nothing_is_evaluated_while_the_engine_is_stopped(hourly):
    _, _, now = hourly
    assert run_latest_bars(now=now) == []
    assert not Evaluation.objects.exists() and not Signal.objects.exists()


@override_settings(SIMULATED_MARKET_24X7=False)
def test_nothing_is_evaluated_at_start_while_the_market_is_closed(engine_running):
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    StrategyFactory(timeframe="1h", enter_on_first_bar=True, instruments=[instrument])
    saturday = datetime(2026, 11, 21, 11, 40, tzinfo=IST)
    evening = datetime(2026, 11, 20, 18, 0, tzinfo=IST)
    assert run_latest_bars(now=saturday) == []
    assert run_latest_bars(now=evening) == []
    assert not Evaluation.objects.exists()


@override_settings(SIMULATED_MARKET_24X7=False)
def test_a_daily_bar_of_an_earlier_session_waits_for_its_own_close(engine_running):
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    daily = StrategyFactory(timeframe="1d", enter_on_first_bar=True, instruments=[instrument])
    hourly = StrategyFactory(timeframe="1h", enter_on_first_bar=True, instruments=[instrument])
    morning = datetime(2026, 11, 20, 11, 40, tzinfo=IST)  # a Friday: the last 1d bar closed Thursday
    runs = run_latest_bars(now=morning)
    assert [(r.timeframe, r.bar_close) for r in runs] == [("1h", datetime(2026, 11, 20, 11, 15, tzinfo=IST))]
    assert set(Evaluation.objects.values_list("strategy_id", flat=True)) == {hourly.pk}
    assert daily.pk not in set(Evaluation.objects.values_list("strategy_id", flat=True))


def test_start_racing_the_tick_on_the_same_bar_keeps_the_ledgers_count_of_the_signal(
    hourly, engine_running, monkeypatch
):
    """Start checked the ledger before the tick recorded the bar, so both evaluated it: one signal,
    and the ledger row (whichever wrote last) still says the bar made it."""
    from strategies import selectors as strategy_selectors

    strategy, _, now = hourly
    last_hour = now - timedelta(minutes=40)
    run_timeframe(timeframe="1h", now=last_hour + timedelta(seconds=5))  # the tick
    monkeypatch.setattr(strategy_selectors, "strategies_evaluated_on", lambda **kwargs: set())  # read too early
    [start] = run_latest_bars(now=last_hour + timedelta(seconds=6))

    assert start.signals == [] and Signal.objects.count() == 1
    row = Evaluation.objects.get(strategy=strategy)
    assert row.signals_made == 1 and row.instruments["NSE:INFY"]["signal"]


def test_start_leaves_a_timeframe_whose_schedules_are_disabled_to_its_schedule(hourly, engine_running):
    """An operator who disabled the 1h schedule in the admin does not get a 1h trade from Start."""
    from django_celery_beat.models import PeriodicTask

    from execution.engine.schedules import ensure_beat_schedules

    _, _, now = hourly
    ensure_beat_schedules()
    PeriodicTask.objects.filter(name__startswith="trading:evaluate 1h").update(enabled=False)
    assert run_latest_bars(now=now) == []
    assert not Signal.objects.exists() and not Evaluation.objects.exists()

    PeriodicTask.objects.filter(name="trading:evaluate 1h").update(enabled=True)
    [run] = run_latest_bars(now=now)
    assert len(run.signals) == 1

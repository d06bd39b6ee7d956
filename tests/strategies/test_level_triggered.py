"""Level-triggered evaluation and its ledger, through the engine's bar on the simulated market.

The expected bars come from the strategy library run straight on the simulated candles
(``targets_at``), independent of the engine's evaluation code.
"""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from execution.engine.bar import run_timeframe
from risk import services as risk_services
from strategies.library import get_strategy_class
from strategies.models import Evaluation, Signal
from strategies.selectors import market_data_source, strategy_instrument_states
from strategies.services import evaluations_delete_older
from tests.factories import InstrumentFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
MINUTE = timedelta(minutes=1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def sma(db):
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    return StrategyFactory(instruments=[instrument]), instrument


def target_at(strategy, instrument, bar_close: datetime) -> int:
    runner = get_strategy_class(strategy.library_key)(strategy.parameters)
    candles = market_data_source().candles(instrument, "1m", bar_close, runner.warmup_bars + 50)
    return int(runner.run(candles)["target"].iloc[-1])


def entry_change(strategy, instrument, start: datetime) -> datetime:
    """The first 1m bar close after ``start`` where the target changes to a position (not 0) and
    stays there on the next two bars."""
    previous = target_at(strategy, instrument, start)
    bar = start
    for _ in range(900):
        bar += MINUTE
        target = target_at(strategy, instrument, bar)
        if target != previous and target != 0:
            if (
                target_at(strategy, instrument, bar + MINUTE)
                == target_at(strategy, instrument, bar + 2 * MINUTE)
                == target
            ):
                return bar
        previous = target
    pytest.fail("no entry in 900 simulated minutes")


def run(at: datetime, **kwargs):
    return run_timeframe(timeframe="1m", now=at + timedelta(seconds=2), **kwargs)


def test_a_change_on_a_skipped_bar_is_caught_up_on_the_next_evaluated_bar(sma):
    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)  # the strategy is being evaluated from here on
    change = entry_change(strategy, instrument, start)
    target = target_at(strategy, instrument, change)

    risk_services.engine_stop(reason="test")  # the change's bar is not evaluated
    assert run(change).skipped == "engine is stopped"
    risk_services.engine_start(reason="test")
    caught_up = run(change + MINUTE)

    [signal] = caught_up.signals
    assert (signal.bar_time, signal.target, signal.caught_up_from) == (change + MINUTE, target, change)
    skipped = Evaluation.objects.get(strategy=strategy, bar_close=change)
    assert (skipped.outcome, skipped.reason_code) == ("skipped", "engine_stopped")
    row = Evaluation.objects.get(strategy=strategy, bar_close=change + MINUTE)
    assert row.outcome == "evaluated" and row.signals_made == 1
    assert row.instruments["NSE:INFY"]["caught_up_from"] == change.isoformat()
    # and nothing more on the following bar: it holds what it signalled
    assert run(change + 2 * MINUTE).signals == []


def test_a_change_outside_the_catch_up_window_is_recorded_not_signalled(sma, settings):
    settings.EVALUATION_CATCH_UP_WINDOW = "1"  # minutes
    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    later = change + 3 * MINUTE
    assert target_at(strategy, instrument, later) == target_at(strategy, instrument, change)
    assert all(
        target_at(strategy, instrument, change + k * MINUTE) == target_at(strategy, instrument, change) for k in (1, 2)
    )

    assert run(later).signals == []
    row = Evaluation.objects.get(strategy=strategy, bar_close=later)
    assert "outside the catch-up window" in row.problems["NSE:INFY"]
    assert f"{change:%Y-%m-%d %H:%M}" in row.problems["NSE:INFY"]
    assert not Signal.objects.exists()


def test_after_a_stop_and_start_the_strategy_goes_on_from_what_it_last_signalled(sma):
    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    [entry] = run(change).signals
    # Stopped for a bar, started again: the target is still the one signalled, so nothing new,
    # though the strategy was evaluated on no bar in between.
    risk_services.engine_stop(reason="test")
    run(change + MINUTE)
    risk_services.engine_start(reason="test")
    assert target_at(strategy, instrument, change + 2 * MINUTE) == entry.target
    assert run(change + 2 * MINUTE).signals == []
    assert Evaluation.objects.filter(strategy=strategy, reason_code="engine_stopped").count() == 1


def test_the_ledger_records_each_bar_with_the_deciding_values(sma):
    strategy, instrument = sma
    at = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    assert run(at).skipped == "engine is stopped"
    risk_services.engine_start(reason="test")
    run(at + MINUTE)
    quarter = StrategyFactory(name="Quarter", timeframe="15m", instruments=[instrument])
    late = run_timeframe(timeframe="15m", now=datetime(2026, 11, 20, 10, 21, tzinfo=IST))
    assert "too late" in late.skipped
    assert Evaluation.objects.get(strategy=quarter).reason_code == "tick_late"

    rows = {row.bar_close: row for row in Evaluation.objects.filter(strategy=strategy)}
    assert rows[at].reason_code == "engine_stopped"
    evaluated = rows[at + MINUTE]
    assert evaluated.outcome == "evaluated" and evaluated.instruments_evaluated == 1
    detail = evaluated.instruments["NSE:INFY"]
    assert detail["target"] == target_at(strategy, instrument, at + MINUTE)
    assert set(detail["indicators"]) == {"fast", "slow", "atr"}
    assert evaluated.duration_ms is not None

    [state] = strategy_instrument_states(strategy=strategy)
    assert state.symbol == "NSE:INFY" and state.last_bar == at + MINUTE
    assert state.target == detail["target"] and state.why == detail["note"]
    assert [bar["outcome"] for bar in state.bars] == ["evaluated", "skipped"]


def test_missing_candles_name_the_instrument(sma, settings):
    strategy, instrument = sma
    settings.MARKET_DATA_SOURCE = "database"  # nothing stored
    risk_services.engine_start(reason="test")
    at = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    run(at)
    row = Evaluation.objects.get(strategy=strategy)
    assert (row.outcome, row.reason_code) == ("skipped", "data_missing")
    assert "NSE:INFY" in row.reason and "no data" in row.problems["NSE:INFY"]


def test_evaluate_command_evaluates_the_bar_at_a_given_time(sma):
    strategy, instrument = sma
    out = StringIO()
    call_command("evaluate", "--timeframe", "1m", "--at", "2026-11-20T10:05:30+05:30", stdout=out)
    assert "10:05" in out.getvalue()
    row = Evaluation.objects.get(strategy=strategy)
    assert row.bar_close == datetime(2026, 11, 20, 10, 5, tzinfo=IST) and row.outcome == "evaluated"
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("evaluate", "--timeframe", "1m", "--at", "yesterday")


def test_old_ledger_rows_are_deleted(sma):
    strategy, _ = sma
    now = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    for days in (1, 8, 30):
        Evaluation.objects.create(
            strategy=strategy, timeframe="1m", bar_close=now - timedelta(days=days), outcome="skipped"
        )
    assert evaluations_delete_older(days=7, now=now) == 2
    assert Evaluation.objects.count() == 1


def test_each_timeframe_schedule_fires_at_its_bar_closes(settings):
    from django_celery_beat.models import PeriodicTask

    from execution.engine.schedules import ensure_beat_schedules
    from strategies.calendar import MarketCalendar

    def fires(task, at: datetime) -> bool:
        schedule = task.crontab.schedule
        local = at.astimezone(IST)
        return (
            local.minute in schedule.minute
            and local.hour in schedule.hour
            and local.isoweekday() % 7 in schedule.day_of_week
        )

    for around_the_clock in (True, False):
        settings.SIMULATED_MARKET_24X7 = around_the_clock
        ensure_beat_schedules()
        calendar = MarketCalendar(around_the_clock=around_the_clock)
        day = datetime(2026, 11, 20, tzinfo=IST)  # a Friday
        for timeframe in ("1m", "5m", "15m", "1h", "1d"):
            tasks = list(PeriodicTask.objects.filter(name__startswith=f"trading:evaluate {timeframe}"))
            closes = set(calendar.bar_closes(timeframe, day, day + timedelta(days=1)))
            minutes = [day + timedelta(minutes=m) for m in range(1441)]
            fired = {m for m in minutes if any(fires(task, m) for task in tasks)}
            assert closes <= fired, f"{timeframe}: a bar close without a tick"
            if timeframe in ("1h", "1d"):  # these used to fire every 15 minutes, "too late to trade"
                assert fired == closes, f"{timeframe} fires off its bar closes"


def test_an_earlier_default_schedule_is_moved_to_bar_closes_an_operators_is_kept(settings):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from execution.engine.schedules import ensure_beat_schedules

    settings.SIMULATED_MARKET_24X7 = True
    every_15, _ = CrontabSchedule.objects.get_or_create(minute="*/15", hour="*", timezone="Asia/Kolkata")
    mine, _ = CrontabSchedule.objects.get_or_create(minute="5", hour="*", timezone="Asia/Kolkata")
    PeriodicTask.objects.create(name="trading:evaluate 1h", task="execution.tasks.run_timeframe", crontab=every_15)
    PeriodicTask.objects.create(name="trading:evaluate 1d", task="execution.tasks.run_timeframe", crontab=mine)
    ensure_beat_schedules()
    assert PeriodicTask.objects.get(name="trading:evaluate 1h").crontab.minute == "0"
    assert PeriodicTask.objects.get(name="trading:evaluate 1d").crontab == mine


def test_a_manual_signal_overrides_the_strategy_until_its_next_change(sma):
    """An operator exits the strategy's position by hand: the next bars leave it flat (the long it
    wants is not a change it missed), and its next change trades as usual."""
    from execution.engine.signals import signal_submit

    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    [entry] = run(change).signals
    manual_at = change + timedelta(seconds=20)
    signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=manual_at,
        target=0,
        price=entry.price,
        stop_price=None,
        source="manual",
    )
    held = [
        change + k * MINUTE for k in range(1, 4) if target_at(strategy, instrument, change + k * MINUTE) == entry.target
    ]
    assert held, "the strategy should keep its target for a bar or more after the change"

    for bar in held:
        assert run(bar).signals == [], f"{bar}: the manual exit was undone"
        detail = Evaluation.objects.get(strategy=strategy, bar_close=bar).instruments["NSE:INFY"]
        assert "since before its last signal" in detail["note"]

    following = entry_change(strategy, instrument, held[-1])
    [again] = run(following).signals
    assert again.bar_time == following and again.caught_up_from is None


def _manual(strategy, instrument, *, target: int, at: datetime, price):
    from execution.engine.signals import signal_submit

    signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=at,
        target=target,
        price=price,
        stop_price=None,
        source="manual",
    )
    return signal


def next_change(strategy, instrument, bar: datetime) -> datetime:
    """The first 1m bar close after ``bar`` where the target differs from the one on ``bar``."""
    held = target_at(strategy, instrument, bar)
    for k in range(1, 900):
        if target_at(strategy, instrument, bar + k * MINUTE) != held:
            return bar + k * MINUTE
    pytest.fail("no change in 900 simulated minutes")


def test_a_manual_signal_made_after_a_bar_closed_overrides_the_change_on_that_bar(sma):
    """The operator exits a second after the bar closed, before beat's tick evaluated it; the strategy's
    target changed on that bar. Ordered by when each was decided (the bar's close, the operator's
    click), the operator acted last: the tick does not enter behind the operator's back."""
    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    _manual(strategy, instrument, target=0, at=change + timedelta(seconds=1), price=100)

    assert run(change).signals == []  # the tick, 2 s after the close
    detail = Evaluation.objects.get(strategy=strategy, bar_close=change).instruments["NSE:INFY"]
    assert "since before its last signal" in detail["note"] and not detail["signal"]
    [state] = strategy_instrument_states(strategy=strategy)
    assert state.verdict == "overridden" and state.last_signal_target == 0

    following = next_change(strategy, instrument, change)
    if target_at(strategy, instrument, following) == 0:  # flat as the operator made it: nothing to send
        following = next_change(strategy, instrument, following)
    [again] = run(following).signals
    assert again.bar_time == following and again.caught_up_from is None


def test_a_manual_signal_made_while_the_tick_evaluates_leaves_the_strategy_in_step_with_the_accounts(sma, monkeypatch):
    """The operator's signal lands between the tick reading what was last signalled and the strategy's
    own signal: the accounts got the strategy's signal last. The strategy's next change must reach them
    (it was taken for a repeat of the operator's, and the accounts were left holding the old target)."""
    from strategies import services as strategy_services

    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    following = next_change(strategy, instrument, change)
    wanted_next = target_at(strategy, instrument, following)

    evaluate = strategy_services.evaluate_timeframe

    def operator_clicks_meanwhile(**kwargs):
        report = evaluate(**kwargs)
        _manual(strategy, instrument, target=wanted_next, at=change + timedelta(seconds=1), price=100)
        return report

    monkeypatch.setattr(strategy_services, "evaluate_timeframe", operator_clicks_meanwhile)
    [entry] = run(change).signals
    monkeypatch.undo()
    assert entry.target == target_at(strategy, instrument, change) != wanted_next

    [moved] = run(following).signals
    assert (moved.bar_time, moved.target) == (following, wanted_next)


def test_an_alert_taking_the_bars_key_while_it_is_evaluated_is_named_not_taken_for_the_strategys_signal(
    sma, monkeypatch
):
    """A webhook alert without bar_time takes its repeat window's start, the 1m bar's close: landing while
    the tick evaluates that bar, it holds the key the strategy's signal needed. The ledger says the
    strategy's change was not sent and why; the next bars hold the alert's target (it came last)."""
    from strategies import services as strategy_services

    strategy, instrument = sma
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    evaluate = strategy_services.evaluate_timeframe

    def alert_meanwhile(**kwargs):
        report = evaluate(**kwargs)
        signal_submit_alert = _manual(strategy, instrument, target=0, at=change, price=100)
        Signal.objects.filter(pk=signal_submit_alert.pk).update(source="webhook")
        return report

    monkeypatch.setattr(strategy_services, "evaluate_timeframe", alert_meanwhile)
    assert run(change).signals == []
    monkeypatch.undo()
    row = Evaluation.objects.get(strategy=strategy, bar_close=change)
    detail = row.instruments["NSE:INFY"]
    assert not detail["signal"] and "not sent" in detail["note"] and row.signals_made == 0

    if target_at(strategy, instrument, change + MINUTE) == target_at(strategy, instrument, change):
        assert run(change + MINUTE).signals == []


def test_evaluate_on_an_earlier_bar_is_a_replay_that_sends_nothing_unless_asked(sma, monkeypatch):
    """`evaluate --at` on a bar older than the latest closed one prints and records what it would
    signal, and no signal reaches an account: an old decision sent now would trade at today's prices."""
    from execution.models import Order
    from tests.factories import AccountFactory, MappingFactory

    strategy, instrument = sma
    MappingFactory(account=AccountFactory(name="Asha"), strategy=strategy)
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    risk_services.engine_start(reason="test")
    run(start)
    change = entry_change(strategy, instrument, start)
    monkeypatch.setattr("django.utils.timezone.now", lambda: change + timedelta(hours=2))

    out = StringIO()
    call_command("evaluate", "--timeframe", "1m", "--at", change.isoformat(), stdout=out)
    assert "Replay of an earlier bar" in out.getvalue() and "Would signal" in out.getvalue()
    assert not Signal.objects.exists() and not Order.objects.exists()
    detail = Evaluation.objects.get(strategy=strategy, bar_close=change).instruments["NSE:INFY"]
    assert detail["signal"] is False and "replay" in detail["note"]

    call_command("evaluate", "--timeframe", "1m", "--at", change.isoformat(), "--trade", stdout=StringIO())
    [signal] = Signal.objects.all()
    assert signal.bar_time == change and Order.objects.filter(signal=signal).exists()

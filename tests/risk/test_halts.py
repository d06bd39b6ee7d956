"""Halts and resumes: operator halts stay, daily-loss halts lift at the next trading day's session start."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

from accounts.models import AccountStatus
from risk import selectors
from risk.models import EngineState, RiskEvent, RiskEventKind
from risk.services import (
    account_halt,
    account_resume,
    daily_loss_halts_lift,
    kill_switch_clear,
    kill_switch_trip,
    strategy_trading_disable,
)
from risk.tasks import lift_daily_loss_halts
from tests.factories import AccountFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
pytestmark = pytest.mark.django_db

# Thursday 19 and Friday 20 November 2026 are NSE trading days; the 21st and 22nd are a weekend.
THURSDAY_EVENING = datetime(2026, 11, 19, 14, 50, tzinfo=IST)
FRIDAY_PRE_OPEN = datetime(2026, 11, 20, 9, 0, tzinfo=IST)


@pytest.fixture
def exchange_calendar(settings):
    settings.SIMULATED_MARKET_24X7 = False


def halted(account, *, kind, at: datetime, reason="halt"):
    account_halt(account=account, reason=reason, kind=kind)
    RiskEvent.objects.filter(account=account, kind=kind).update(created_at=at)
    account.refresh_from_db()
    return account


def test_halt_and_resume_are_idempotent_and_recorded():
    operator = get_user_model().objects.create_user("ops")
    account = AccountFactory()
    account_halt(account=account, reason="Reviewing fills", actor=operator)
    account_halt(account=account, reason="Reviewing fills", actor=operator)
    account.refresh_from_db()
    assert account.status == AccountStatus.HALTED and account.status_reason == "Reviewing fills"
    assert RiskEvent.objects.filter(kind=RiskEventKind.ACCOUNT_HALTED, actor=operator).count() == 1
    account_resume(account=account, actor=operator)
    account_resume(account=account, actor=operator)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert RiskEvent.objects.filter(kind=RiskEventKind.ACCOUNT_RESUMED).count() == 1


def test_a_daily_loss_halt_lifts_at_the_next_session_start(exchange_calendar):
    account = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=THURSDAY_EVENING)

    assert daily_loss_halts_lift(now=FRIDAY_PRE_OPEN - timedelta(minutes=30)) == []  # too early
    assert daily_loss_halts_lift(now=FRIDAY_PRE_OPEN) == [account]

    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    resumed = RiskEvent.objects.get(kind=RiskEventKind.ACCOUNT_RESUMED, account=account)
    assert resumed.actor is None and "19 Nov 2026" in resumed.message
    assert daily_loss_halts_lift(now=FRIDAY_PRE_OPEN + timedelta(minutes=15)) == []  # nothing left to lift


def test_operator_halts_and_todays_breaches_stay(exchange_calendar):
    by_operator = halted(AccountFactory(), kind=RiskEventKind.ACCOUNT_HALTED, at=THURSDAY_EVENING)
    breached_today = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=FRIDAY_PRE_OPEN)
    taken_over = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=THURSDAY_EVENING)
    account_halt(account=taken_over, reason="Keep it off until I look")  # the operator takes the halt over
    taken_over.refresh_from_db()
    assert taken_over.status_reason == "Keep it off until I look"

    assert daily_loss_halts_lift(now=FRIDAY_PRE_OPEN + timedelta(minutes=20)) == []
    for account in (by_operator, breached_today, taken_over):
        account.refresh_from_db()
        assert account.status == AccountStatus.HALTED


def test_nothing_lifts_on_a_non_trading_day(exchange_calendar):
    friday_evening = datetime(2026, 11, 20, 15, 0, tzinfo=IST)
    account = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=friday_evening)
    assert daily_loss_halts_lift(now=datetime(2026, 11, 21, 10, 0, tzinfo=IST)) == []  # Saturday
    assert daily_loss_halts_lift(now=datetime(2026, 11, 23, 9, 0, tzinfo=IST)) == [account]  # Monday


def test_the_around_the_clock_demo_lifts_them_at_midnight():
    account = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=THURSDAY_EVENING)
    assert daily_loss_halts_lift(now=datetime(2026, 11, 19, 23, 59, tzinfo=IST)) == []
    assert daily_loss_halts_lift(now=datetime(2026, 11, 20, 0, 0, tzinfo=IST)) == [account]


def test_a_halt_without_an_event_counts_as_the_operators(exchange_calendar):
    account = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=THURSDAY_EVENING - timedelta(days=1))
    account_resume(account=account)
    RiskEvent.objects.filter(kind=RiskEventKind.ACCOUNT_RESUMED).update(created_at=THURSDAY_EVENING - timedelta(days=1))
    account.status = AccountStatus.HALTED  # set by hand in the admin: no event says why
    account.save()
    assert daily_loss_halts_lift(now=FRIDAY_PRE_OPEN) == []
    assert selectors.halt_kinds(account_ids=[account.id]) == {account.id: selectors.HALT_OPERATOR}


def test_halt_kinds_say_why_each_account_is_halted():
    daily = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=THURSDAY_EVENING)
    manual = halted(AccountFactory(), kind=RiskEventKind.ACCOUNT_HALTED, at=THURSDAY_EVENING)
    active = AccountFactory()
    assert selectors.halt_kinds(account_ids=[daily.id, manual.id, active.id]) == {
        daily.id: selectors.HALT_DAILY_LOSS,
        manual.id: selectors.HALT_OPERATOR,
    }


def test_the_beat_task_lifts_them():
    account = halted(AccountFactory(), kind=RiskEventKind.DAILY_LOSS_BREACH, at=datetime(2020, 1, 1, tzinfo=IST))
    assert lift_daily_loss_halts.apply().get() == [account.id]


def test_the_kill_switch_trips_and_clears_with_who_and_when():
    operator = get_user_model().objects.create_user("ops")
    event, already = kill_switch_trip(actor=operator, reason="Broker outage")
    state = EngineState.objects.get()
    assert state.kill_switch and not state.running and not already
    assert event.kind == RiskEventKind.EMERGENCY_STOP and event.actor == operator and event.created_at
    _, already = kill_switch_trip(actor=operator, reason="again")
    assert already
    kill_switch_clear(actor=operator, reason="Outage over")
    kill_switch_clear(actor=operator, reason="Outage over")
    assert not EngineState.objects.get().kill_switch
    assert RiskEvent.objects.filter(kind=RiskEventKind.KILL_SWITCH_RESET).count() == 1


def test_a_strategy_kill_switch_is_recorded():
    strategy = StrategyFactory()
    strategy_trading_disable(strategy=strategy, reason="Too many losses")
    strategy.refresh_from_db()
    assert not strategy.trading_enabled
    assert RiskEvent.objects.get(kind=RiskEventKind.STRATEGY_STOPPED, strategy=strategy).message == "Too many losses"

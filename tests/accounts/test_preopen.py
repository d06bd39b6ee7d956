"""The 08:45 pre-open check: every Kite account without today's session is flagged, visibly."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask

from accounts.models import AccountStatus
from execution.engine.schedules import ensure_beat_schedules
from risk.models import RiskEvent, RiskEventKind
from risk.tasks import kite_preopen_login_check
from strategies.models import MarketHoliday
from tests.factories import AccountFactory

from .conftest import kite_account

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")
MONDAY_0845 = datetime(2026, 3, 2, 8, 45, tzinfo=IST)


@pytest.fixture
def accounts():
    logged_in = kite_account(name="Logged in", api_key="k1", user_id="AB1001")
    logged_in.set_access_token("t1", expires_at=datetime(2026, 3, 3, 6, 0, tzinfo=IST))
    logged_in.save()
    expired = kite_account(name="Yesterday's token", api_key="k2", user_id="AB1002")
    expired.set_access_token("t2", expires_at=datetime(2026, 3, 2, 6, 0, tzinfo=IST))
    expired.save()
    return {
        "logged_in": logged_in,
        "expired": expired,
        "never": kite_account(name="Never logged in", api_key="k3", user_id="AB1003"),
        "halted": kite_account(name="Halted", api_key="k4", user_id="AB1004", status=AccountStatus.HALTED),
        "paper": AccountFactory(name="Paper"),
    }


def test_the_preopen_check_flags_every_kite_account_without_a_session(accounts):
    with time_machine.travel(MONDAY_0845, tick=False):
        flagged = kite_preopen_login_check()

    expected = {accounts[k].pk for k in ("expired", "never", "halted")}
    assert set(flagged) == expected
    events = RiskEvent.objects.filter(kind=RiskEventKind.NEEDS_LOGIN)
    assert {e.account_id for e in events} == expected
    assert all("needs a Kite login" in e.message for e in events)
    statuses = {k: type(a).objects.get(pk=a.pk).status for k, a in accounts.items()}
    assert statuses == {
        "logged_in": AccountStatus.ACTIVE,
        "expired": AccountStatus.NEEDS_LOGIN,
        "never": AccountStatus.NEEDS_LOGIN,
        "halted": AccountStatus.HALTED,  # a halt stays a halt; the event still warns
        "paper": AccountStatus.ACTIVE,
    }


def test_no_warning_when_the_exchange_is_closed(accounts):
    MarketHoliday.objects.create(date=date(2026, 3, 3), description="Holi")
    with time_machine.travel(datetime(2026, 3, 3, 8, 45, tzinfo=IST), tick=False):
        assert kite_preopen_login_check() == []
    with time_machine.travel(datetime(2026, 3, 7, 8, 45, tzinfo=IST), tick=False):  # a Saturday
        assert kite_preopen_login_check() == []
    assert not RiskEvent.objects.filter(kind=RiskEventKind.NEEDS_LOGIN).exists()


def test_the_check_runs_from_beat_at_0845_ist_on_weekdays():
    ensure_beat_schedules()
    task = PeriodicTask.objects.get(task="risk.tasks.kite_preopen_login_check")
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("45", "8", "1-5")
    assert crontab.timezone.key == "Asia/Kolkata" and task.enabled

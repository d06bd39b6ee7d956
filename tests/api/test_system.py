"""The engine through the API: start, stop, status."""

import pytest

from accounts.models import AccountStatus
from risk.models import EngineState, RiskEvent, RiskEventKind
from risk.selectors import engine_state
from tests.api.conftest import error_of
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_start_and_stop_the_engine(staff, staff_user):
    started = staff.post("/api/system/start", {"reason": "market open"}, format="json")
    assert started.status_code == 200
    assert started.json()["engine"]["running"] is True
    assert started.json()["trading"] is True
    assert started.json()["engine"]["changed_by"] == "operator"
    assert RiskEvent.objects.filter(kind=RiskEventKind.ENGINE_STARTED, actor=staff_user).exists()

    stopped = staff.post("/api/system/stop", {}, format="json")
    assert stopped.json()["engine"]["running"] is False
    assert engine_state().running is False


def test_start_is_refused_while_the_kill_switch_is_on(staff):
    EngineState.objects.update_or_create(pk=EngineState.SINGLETON_ID, defaults={"kill_switch": True})
    response = staff.post("/api/system/start", {}, format="json")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "kill_switch_active"
    assert "kill switch" in error["message"]
    assert engine_state().running is False


def test_status_counts_accounts_by_state_and_reports_the_last_bar_run(staff, book):
    AccountFactory(name="Halted one", status=AccountStatus.HALTED)
    AccountFactory(name="Kite one", status=AccountStatus.NEEDS_LOGIN, trading_enabled=False)
    body = staff.get("/api/system/status").json()
    assert body["accounts"] == {"total": 4, "active": 2, "halted": 1, "needs_login": 1, "trading_disabled": 1}
    assert body["strategies"]["total"] == body["strategies"]["active"] == 1
    assert body["strategies"]["last_evaluated_at"] is None  # nothing evaluated yet
    assert body["market_data"] == {"source": "simulated", "simulated": True}
    assert body["engine"]["running"] is False and body["trading"] is False


def test_a_reason_longer_than_the_audit_field_is_refused(staff):
    response = staff.post("/api/system/stop", {"reason": "x" * 201}, format="json")
    assert response.status_code == 400
    assert "200" in error_of(response)["fields"]["reason"][0]

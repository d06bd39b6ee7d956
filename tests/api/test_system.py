"""The engine through the API: start, stop, status, emergency stop and kill-switch reset."""

from decimal import Decimal

import pytest

from accounts.models import AccountStatus
from execution.models import Order, Position
from risk.models import EngineState, RiskEvent, RiskEventKind
from risk.selectors import engine_state
from strategies.selectors import market_data_source
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


def test_emergency_stop_flattens_every_position_and_blocks_a_restart(
    staff, staff_user, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    infy = book["infy"]
    stop = (Decimal(market_data_source().ltp([infy])[infy.instrument_token]) * Decimal("0.98")).quantize(
        Decimal("0.05")
    )
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            "/api/signals/manual",
            {"strategy": book["strategy"].id, "instrument": "INFY", "side": "BUY", "stop_price": str(stop)},
            format="json",
        )
    assert Position.objects.exclude(quantity=0).count() == 2, "both accounts hold INFY"

    with django_capture_on_commit_callbacks(execute=True):  # the task runs in-process (eager_tasks)
        response = staff.post("/api/system/emergency-stop", {"reason": "exchange glitch"}, format="json")

    assert response.status_code == 202, response.json()
    body = response.json()
    status = body["status"]
    assert status["engine"]["kill_switch"] is True and status["engine"]["running"] is False
    assert "Kill switch on" in body["operation"]["started"]
    operation = staff.get(body["status_url"]).json()
    assert operation["state"] == "done", operation
    exits = Order.objects.filter(pk__in=operation["report"]["exit_orders"]).select_related("account")
    assert {(o.account.name, o.leg, o.side, o.status) for o in exits} == {
        ("Asha", "exit", "SELL", "COMPLETE"),
        ("Bharat", "exit", "SELL", "COMPLETE"),
    }
    assert operation["report"]["failed_exits"] == []
    assert operation["reason"] == "exchange glitch"
    assert not Position.objects.exclude(quantity=0).exists()
    assert RiskEvent.objects.filter(kind=RiskEventKind.EMERGENCY_STOP, actor=staff_user).exists()

    refused = staff.post("/api/system/start", {}, format="json")
    assert refused.status_code == 409

    missing_reason = staff.post("/api/system/kill-switch-reset", {}, format="json")
    assert "reason" in error_of(missing_reason)["fields"]
    reset = staff.post("/api/system/kill-switch-reset", {"reason": "exchange back"}, format="json")
    assert reset.json()["engine"]["kill_switch"] is False and reset.json()["engine"]["running"] is False
    assert staff.post("/api/system/start", {}, format="json").json()["engine"]["running"] is True


def test_an_emergency_stop_with_an_empty_body_says_who_pressed_it_and_from_where(staff, staff_user):
    response = staff.post("/api/system/emergency-stop")  # no body at all

    assert response.status_code == 202, response.content
    assert engine_state().kill_switch is True
    reason = response.json()["operation"]["reason"]
    assert reason == f"Emergency stop by {staff_user} from the API (127.0.0.1)"
    assert RiskEvent.objects.filter(kind=RiskEventKind.EMERGENCY_STOP, message=reason, actor=staff_user).exists()

"""Every configuration change is in the audit log with who, when, from where, before and after,
whatever path made it: the API, the dashboard, the admin, a command or the order path. No secrets."""

from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Account
from risk import services as risk_services
from risk.models import EngineState
from strategies.services import strategy_set_active
from tests.factories import AccountFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(django_user_model):
    return django_user_model.objects.create_user("desk", password="pw", is_staff=True, is_superuser=True)


def entries_for(obj) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(obj).order_by("timestamp"))


def test_an_api_change_of_the_daily_loss_limit_says_who_from_where_and_from_what_to_what(desk):
    account = AccountFactory(name="Asha", daily_loss_limit=Decimal("5000"))
    _, token = AuthToken.objects.create(user=desk)
    client = APIClient(REMOTE_ADDR="192.0.2.10")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.patch(f"/api/accounts/{account.id}", {"daily_loss_limit": "4000"}, format="json")
    assert response.status_code == 200

    entry = entries_for(account)[-1]
    assert entry.actor == desk
    assert entry.remote_addr == "192.0.2.10"
    assert entry.additional_data["via"] == "api"
    assert [Decimal(v) for v in entry.changes_dict["daily_loss_limit"]] == [Decimal("5000"), Decimal("4000")]
    assert entry.timestamp is not None


def test_a_forged_forwarded_address_is_not_what_the_log_records(desk):
    account = AccountFactory()
    client = APIClient(REMOTE_ADDR="192.0.2.10")
    client.force_authenticate(desk)
    client.patch(f"/api/accounts/{account.id}", {"capital": "200000"}, format="json", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert entries_for(account)[-1].remote_addr == "192.0.2.10"


def test_dashboard_halt_and_admin_edit_are_recorded_with_their_surface(client, desk):
    account = AccountFactory(name="Bharat")
    client.force_login(desk)
    client.post(reverse("dashboard:account-halt", args=[account.id]), {"reason": "checking"})
    halted = entries_for(account)[-1]
    assert halted.actor == desk and halted.additional_data["via"] == "dashboard"
    assert halted.changes_dict["status"] == ["active", "halted"]

    form = {
        "name": "Bharat",
        "broker": "paper",
        "zerodha_user_id": "",
        "capital": "100000",
        "daily_loss_limit": "3000",
        "max_order_quantity": 10000,
        "max_order_value": "1000000",
        "max_open_positions": 10,
        "status": "halted",
        "trading_enabled": "",
        "api_key": "",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:accounts_account_change", args=[account.id]), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    edited = entries_for(account)[-1]
    assert edited.additional_data["via"] == "admin"
    assert edited.changes_dict["trading_enabled"] == ["True", "False"]
    assert [Decimal(v) for v in edited.changes_dict["daily_loss_limit"]] == [Decimal("5000"), Decimal("3000")]


def test_commands_record_themselves_as_the_source(db):
    call_command("trading", "start", reason="morning")
    entry = entries_for(EngineState.objects.get())[-1]
    assert entry.actor is None
    assert entry.additional_data["via"] == "command"
    assert entry.additional_data["command"].startswith("trading")
    assert "start" in entry.additional_data["command"]
    assert entry.changes_dict["running"] == ["False", "True"]


def test_the_kill_switch_and_strategy_and_mapping_changes_are_recorded(db):
    risk_services.kill_switch_trip(reason="test trip")
    state = entries_for(EngineState.objects.get())[-1]
    assert state.changes_dict["kill_switch"] == ["False", "True"]

    strategy = StrategyFactory()
    strategy_set_active(strategy=strategy, active=False)
    assert entries_for(strategy)[-1].changes_dict["active"] == ["True", "False"]

    mapping = MappingFactory(strategy=strategy, allocation_pct=Decimal("50"))
    mapping.allocation_pct = Decimal("25")
    mapping.save()
    assert [Decimal(v) for v in entries_for(mapping)[-1].changes_dict["allocation_pct"]] == [50, 25]


def test_an_order_path_halt_is_recorded_as_the_systems(db):
    account = AccountFactory()
    risk_services.account_halt(account=account, reason="Daily loss limit breached")
    entry = entries_for(account)[-1]
    assert entry.actor is None
    assert entry.changes_dict["status"] == ["active", "halted"]


def test_secrets_never_reach_the_log(desk):
    client = APIClient()
    client.force_authenticate(desk)
    body = {
        "name": "Kite secret test",
        "zerodha_user_id": "ZX9876",
        "api_key": "kite-key-1",
        "api_secret": "THE-API-SECRET-VALUE",
        "capital": "100000",
        "daily_loss_limit": "1000",
        "max_order_quantity": 10,
        "max_order_value": "10000",
    }
    assert client.post("/api/accounts/create-zerodha", body, format="json").status_code == 201
    account = Account.objects.get(name="Kite secret test")
    account.set_access_token("THE-ACCESS-TOKEN", expires_at=None)
    account.save()
    desk.set_password("a-new-password-123")
    desk.save()
    everything = repr(list(LogEntry.objects.values()))
    for secret in ("THE-API-SECRET-VALUE", "THE-ACCESS-TOKEN", account.api_secret_encrypted, desk.password):
        assert secret not in everything
    assert "api_secret_encrypted" not in everything and "password" not in everything


def test_the_log_page_and_the_per_object_page_are_read_only(client, desk):
    account = AccountFactory(name="Chitra")
    risk_services.account_halt(account=account, reason="look")
    client.force_login(desk)
    log = client.get("/admin/auditlog/logentry/")
    assert log.status_code == 200 and "Chitra" in log.content.decode()
    assert client.get("/admin/auditlog/logentry/add/").status_code == 403
    entry = entries_for(account)[-1]
    change = client.post(f"/admin/auditlog/logentry/{entry.pk}/change/", {"changes_text": "x"})
    assert change.status_code == 403
    per_object = client.get(f"/admin/accounts/account/{account.id}/auditlog/")
    assert per_object.status_code == 200 and "halted" in per_object.content.decode()


def test_a_task_records_itself_as_the_source(db):
    """What a worker changes names the task (the worker's task_prerun and task_postrun call these)."""
    from tradingsite.audit import task_finished, task_started

    task_started(task_id="t-1", name="execution.tasks.check_daily_loss")
    try:
        risk_services.engine_start(reason="from a task")
    finally:
        task_finished(task_id="t-1")
    entry = entries_for(EngineState.objects.get())[-1]
    assert entry.additional_data == {"via": "task", "task": "execution.tasks.check_daily_loss"}

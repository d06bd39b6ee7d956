"""Accounts through the API: create, read, update, a Kite account in one step, positions, halt/resume."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, AccountStatus, Broker
from execution.models import Position
from risk.models import RiskEvent, RiskEventKind
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

PAPER = {
    "name": "Paper Chitra",
    "broker": "paper",
    "capital": "250000.00",
    "daily_loss_limit": "10000.00",
    "max_order_quantity": 1000,
    "max_order_value": "150000.00",
}
ZERODHA = {
    "name": "Kite Dev",
    "api_key": "kitekey123",
    "api_secret": "kite-secret-never-shown",
    "zerodha_user_id": "ab1234",
    "capital": "300000",
    "daily_loss_limit": "9000",
    "max_order_quantity": 500,
    "max_order_value": "100000",
}


def test_create_list_and_read_an_account(staff):
    created = staff.post("/api/accounts", PAPER, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Paper Chitra"
    assert body["status"] == "active"
    assert body["logged_in"] is True  # paper accounts need no login
    assert body["api_secret_set"] is False

    listed = staff.get("/api/accounts").json()
    assert [row["name"] for row in listed["results"]] == ["Paper Chitra"]
    assert staff.get(f"/api/accounts/{body['id']}").json()["capital"] == "250000.00"


def test_update_an_account(staff, book):
    asha = book["asha"]
    response = staff.patch(
        f"/api/accounts/{asha.id}", {"max_order_quantity": 42, "trading_enabled": False}, format="json"
    )
    assert response.status_code == 200, response.json()
    asha.refresh_from_db()
    assert (asha.max_order_quantity, asha.trading_enabled) == (42, False)


def test_status_cannot_be_set_through_an_update(staff, book):
    asha = book["asha"]
    staff.patch(f"/api/accounts/{asha.id}", {"status": "halted"}, format="json")
    asha.refresh_from_db()
    assert asha.status == AccountStatus.ACTIVE


def test_a_loss_limit_above_capital_is_refused_naming_the_field(staff):
    response = staff.post("/api/accounts", {**PAPER, "daily_loss_limit": "300000"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert "capital" in error["fields"]["daily_loss_limit"][0]
    assert not Account.objects.exists()


def test_missing_and_malformed_fields_are_each_named(staff):
    response = staff.post("/api/accounts", {"name": "", "capital": "lots"}, format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert {"name", "capital", "daily_loss_limit", "max_order_quantity", "max_order_value"} <= set(fields)
    assert "valid number" in fields["capital"][0]


def test_a_duplicate_name_is_refused(staff, book):
    response = staff.post("/api/accounts", {**PAPER, "name": "Asha"}, format="json")
    assert response.status_code == 400
    assert "name" in error_of(response)["fields"]


def test_a_kite_account_without_credentials_is_refused(staff):
    response = staff.post("/api/accounts", {**PAPER, "broker": "kite"}, format="json")
    assert response.status_code == 400
    assert {"zerodha_user_id", "api_key"} <= set(error_of(response)["fields"])


def test_create_zerodha_returns_the_id_and_the_login_url(staff):
    response = staff.post("/api/accounts/create-zerodha", ZERODHA, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    account = Account.objects.get(pk=body["id"])
    assert account.broker == Broker.KITE
    assert account.zerodha_user_id == "AB1234"
    assert account.status == AccountStatus.NEEDS_LOGIN
    assert account.get_api_secret() == "kite-secret-never-shown"  # stored, encrypted
    assert "kite-secret-never-shown" not in account.api_secret_encrypted
    assert "api_key=kitekey123" in body["login_url"]
    assert body["account"]["api_secret_set"] is True
    assert body["account"]["logged_in"] is False


def test_create_zerodha_names_each_bad_field(staff):
    bad = {**ZERODHA, "zerodha_user_id": "not an id", "api_secret": "", "max_order_quantity": 0}
    response = staff.post("/api/accounts/create-zerodha", bad, format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert {"api_secret", "max_order_quantity"} <= set(fields)

    response = staff.post("/api/accounts/create-zerodha", {**ZERODHA, "zerodha_user_id": "1234"}, format="json")
    assert response.status_code == 400
    assert "AB1234" in error_of(response)["fields"]["zerodha_user_id"][0]


SECRET, TOKEN = "s3cr3t-api-secret-value", "acc3ss-t0ken-value"


def test_secrets_never_appear_in_any_response(staff, book):
    created = staff.post("/api/accounts/create-zerodha", {**ZERODHA, "api_secret": SECRET}, format="json")
    account = Account.objects.get(pk=created.json()["id"])
    account.set_access_token(TOKEN, expires_at=timezone.now() + timedelta(hours=6))
    account.save()
    updated = staff.patch(f"/api/accounts/{account.id}", {"api_secret": SECRET + "-rotated"}, format="json")
    assert updated.json()["logged_in"] is True
    account.refresh_from_db()
    assert account.get_api_secret() == SECRET + "-rotated"

    responses = [
        created,
        updated,
        staff.get("/api/accounts"),
        staff.get(f"/api/accounts/{account.id}"),
        staff.get(f"/api/accounts/{account.id}/positions"),
        staff.get("/api/system/status"),
        staff.get("/api/schema/?format=json"),
    ]
    for response in responses:
        text = response.content.decode()
        for secret in (SECRET, TOKEN, account.api_secret_encrypted, account.access_token_encrypted):
            assert secret not in text, response.request["PATH_INFO"]
        assert "api_secret_encrypted" not in text and "access_token_encrypted" not in text
    detail = staff.get(f"/api/accounts/{account.id}").json()
    assert "api_secret" not in detail and "access_token" not in detail


def test_a_blank_secret_keeps_the_stored_one(staff):
    created = staff.post("/api/accounts/create-zerodha", ZERODHA, format="json").json()
    staff.patch(f"/api/accounts/{created['id']}", {"api_secret": "", "capital": "310000"}, format="json")
    account = Account.objects.get(pk=created["id"])
    assert account.get_api_secret() == ZERODHA["api_secret"]
    assert account.capital == Decimal("310000")


def test_account_positions_are_its_open_positions(staff, book):
    asha, infy, tcs = book["asha"], book["infy"], book["tcs"]
    strategy = book["strategy"]
    Position.objects.create(account=asha, strategy=strategy, instrument=infy, product="MIS", quantity=10)
    Position.objects.create(account=asha, strategy=strategy, instrument=tcs, product="MIS", quantity=0)
    Position.objects.create(account=book["bharat"], strategy=strategy, instrument=infy, product="MIS", quantity=-5)

    rows = staff.get(f"/api/accounts/{asha.id}/positions").json()
    assert [(row["instrument_symbol"], row["quantity"]) for row in rows] == [("NSE:INFY", 10)]
    assert staff.get("/api/accounts/999999/positions").status_code == 404


def test_halt_and_resume_an_account(staff, staff_user, book):
    asha = book["asha"]
    halted = staff.post(f"/api/accounts/{asha.id}/halt", {"reason": "broker margin call"}, format="json")
    assert halted.status_code == 200
    assert (halted.json()["status"], halted.json()["status_reason"]) == ("halted", "broker margin call")
    event = RiskEvent.objects.get(kind=RiskEventKind.ACCOUNT_HALTED, account=asha)
    assert event.actor == staff_user

    missing_reason = staff.post(f"/api/accounts/{asha.id}/halt", {}, format="json")
    assert "reason" in error_of(missing_reason)["fields"]

    resumed = staff.post(f"/api/accounts/{asha.id}/resume", {}, format="json")
    assert resumed.json()["status"] == "active"

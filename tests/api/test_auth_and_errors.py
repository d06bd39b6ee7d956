"""Every endpoint needs a login, writes need staff, and every error has the same body."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

READS = [
    "/api/system/status",
    "/api/pnl/realtime",
    "/api/accounts",
    "/api/accounts/1",
    "/api/accounts/1/positions",
    "/api/strategies",
    "/api/instruments",
    "/api/mappings",
    "/api/orders",
    "/api/fills",
    "/api/positions",
    "/api/signals",
    "/api/risk-decisions",
    "/api/schema/",
]
WRITES = [
    ("post", "/api/system/start"),
    ("post", "/api/system/stop"),
    ("post", "/api/system/emergency-stop"),
    ("post", "/api/system/kill-switch-reset"),
    ("post", "/api/accounts"),
    ("post", "/api/accounts/create-zerodha"),
    ("patch", "/api/accounts/1"),
    ("post", "/api/accounts/1/halt"),
    ("post", "/api/accounts/1/resume"),
    ("post", "/api/accounts/1/flatten"),
    ("post", "/api/strategies"),
    ("put", "/api/strategies/1"),
    ("post", "/api/strategies/1/stop"),
    ("post", "/api/mappings"),
    ("patch", "/api/mappings/1"),
    ("post", "/api/signals/manual"),
]


@pytest.mark.parametrize("url", READS)
def test_reads_need_a_login(anonymous, url):
    response = anonymous.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "url"), WRITES)
def test_writes_need_a_login(anonymous, method, url):
    response = getattr(anonymous, method)(url, {}, format="json")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_a_bad_token_is_refused(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anonymous.get("/api/accounts")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize(("method", "url"), WRITES)
def test_writes_need_staff(viewer, book, method, url):
    response = getattr(viewer, method)(url, {}, format="json")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "permission_denied"
    assert "staff" in error["message"]


def test_a_non_staff_user_can_read(viewer, book):
    assert viewer.get("/api/accounts").status_code == 200
    assert viewer.get("/api/system/status").status_code == 200


def test_session_login_works_and_writes_need_the_csrf_token(staff_user):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="operator", password="pw-operator")
    assert client.get("/api/system/status").status_code == 200

    refused = client.post("/api/system/stop", {}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in error_of(refused)["message"]

    client.get(reverse("admin:index"))  # a page with a form: sets the csrftoken cookie
    allowed = client.post("/api/system/stop", {}, format="json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert allowed.status_code == 200


def test_not_found_in_the_error_format(staff):
    missing = staff.get("/api/accounts/999999")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"

    unknown_path = staff.get("/api/no-such-thing")
    assert unknown_path.status_code == 404
    assert "/api/no-such-thing" in error_of(unknown_path)["message"]


def test_method_not_allowed_in_the_error_format(staff, book):
    response = staff.delete(f"/api/accounts/{book['asha'].id}")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert staff.get("/api/system/start").status_code == 405


def test_malformed_json_in_the_error_format(staff):
    response = staff.post("/api/system/stop", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_too_many_requests_are_throttled(staff, settings):
    settings.API_THROTTLE_RATES = {"user": "3/minute", "anon": "3/minute"}
    codes = [staff.get("/api/system/status").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = staff.get("/api/system/status")
    error = error_of(response)
    assert error["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_invalid_filter_value_is_a_400_naming_the_filter(staff):
    response = staff.get("/api/orders?status=NOT_A_STATUS")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert "status" in error["fields"]


def test_a_user_gets_a_token_for_a_username_and_password(anonymous, staff_user):
    response = anonymous.post("/api/auth/token", {"username": "operator", "password": "pw-operator"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token != staff_user.api_token  # a new token each time
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anonymous.get("/api/system/status").status_code == 200


def test_wrong_credentials_get_no_token(anonymous, staff_user):
    response = anonymous.post("/api/auth/token", {"username": "operator", "password": "guess"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert "credentials" in error["message"]
    missing = anonymous.post("/api/auth/token", {}, format="json")
    assert {"username", "password"} <= set(error_of(missing)["fields"])


def test_password_guessing_is_throttled_per_address(anonymous, staff_user, settings):
    settings.API_THROTTLE_RATES = {"user": "100/minute", "anon": "3/minute"}
    guesses = [
        anonymous.post("/api/auth/token", {"username": "operator", "password": f"guess{n}"}, format="json")
        for n in range(4)
    ]
    assert [r.status_code for r in guesses] == [400, 400, 400, 429]
    assert error_of(guesses[-1])["code"] == "throttled"


def test_an_unexpected_error_is_a_500_in_the_error_format_and_logged(staff, monkeypatch, caplog):
    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr("tradingsite.api.views.system.system_status", broken)
    response = staff.get("/api/system/status")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "a bug" not in error["message"], "internals stay in the log"
    assert any("a bug" in (r.exc_text or "") or "a bug" in str(r.exc_info) for r in caplog.records)

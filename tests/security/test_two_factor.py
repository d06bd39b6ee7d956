"""Staff logins and staff API tokens need the second factor (TOTP or a recovery code) where it is
required (production's default) or once the user has enrolled an authenticator."""

import base64
import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.django_process import run_django
from tests.security.test_headers_and_settings import PRODUCTION

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice, *, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def log_in(client, username="operator", password="right-pw-1"):
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302
    return response


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    return settings


@pytest.fixture
def enrolled(operator):
    device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    return device


def test_production_requires_the_second_factor_for_staff_by_default():
    result = run_django(
        "from django.conf import settings; print(settings.OTP_REQUIRED_FOR_STAFF)",
        drop=("OTP_REQUIRED_FOR_STAFF",),
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_where_required_a_staff_login_enrols_an_authenticator_first(client, operator, required):
    log_in(client)
    page = client.get("/orders/")
    assert page.status_code == 302 and page["Location"].startswith("/two-factor/")
    api = client.get("/api/system/status")
    assert api.status_code == 403 and api.json()["error"]["code"] == "second_factor_required"

    enrol = client.get(page["Location"])
    text = enrol.content.decode()
    assert "<svg" in text  # the QR code, inline (no script)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', text).group(1)
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    assert secret == base64.b32encode(device.bin_key).decode()

    wrong = client.post("/two-factor/", {"code": "000000", "next": "/orders/"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()

    codes_page = client.post("/two-factor/", {"code": code_for(device), "next": "/orders/"})
    assert codes_page.status_code == 200
    codes = re.findall(r"<li>([a-z0-9]+)</li>", codes_page.content.decode())
    assert len(codes) == 10
    assert client.get("/orders/").status_code == 200
    assert client.get("/api/system/status").status_code == 200


def test_an_enrolled_staff_user_gives_a_code_even_where_not_required(client, operator, enrolled):
    log_in(client)
    assert client.get("/").status_code == 302
    response = client.post("/two-factor/", {"code": code_for(enrolled), "next": "/pnl/"})
    assert response.status_code == 302 and response["Location"] == "/pnl/"
    assert client.get("/pnl/").status_code == 200


def test_a_recovery_code_works_once(client, operator, enrolled, required):
    static = operator.staticdevice_set.create(name="Recovery codes", confirmed=True)
    StaticToken.objects.create(device=static, token="recover1")
    log_in(client)
    assert client.post("/two-factor/", {"code": "recover1", "next": "/"}).status_code == 302
    client.post("/logout/")
    log_in(client)
    reused = client.post("/two-factor/", {"code": "recover1", "next": "/"})
    assert reused.status_code == 400


def test_the_admin_login_also_asks_for_the_second_factor(client, operator, enrolled):
    response = client.post("/admin/login/?next=/admin/", {"username": "operator", "password": "right-pw-1"})
    assert response.status_code == 302
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/two-factor/")
    client.post("/two-factor/", {"code": code_for(enrolled), "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


def test_viewers_log_in_with_a_password_only(client, django_user_model, required):
    django_user_model.objects.create_user("viewer", password="viewer-pw-1")
    log_in(client, "viewer", "viewer-pw-1")
    assert client.get("/orders/").status_code == 200


def test_a_staff_token_needs_the_second_factor(operator, enrolled, django_user_model, required):
    client = APIClient()
    body = {"username": "operator", "password": "right-pw-1"}
    refused = client.post("/api/auth/token", body, format="json")
    assert refused.status_code == 400 and "otp_token" in refused.json()["error"]["fields"]
    wrong = client.post("/api/auth/token", {**body, "otp_token": "123456"}, format="json")
    assert wrong.status_code == 400
    enrolled.refresh_from_db()  # the device's throttle after the wrong code, reset as time passing would
    enrolled.throttle_reset()
    issued = client.post("/api/auth/token", {**body, "otp_token": code_for(enrolled)}, format="json")
    assert issued.status_code == 200
    django_user_model.objects.create_user("viewer", password="viewer-pw-1")
    viewer = client.post("/api/auth/token", {"username": "viewer", "password": "viewer-pw-1"}, format="json")
    assert viewer.status_code == 200


def test_a_staff_user_without_an_authenticator_gets_no_token_where_required(operator, required):
    response = APIClient().post("/api/auth/token", {"username": "operator", "password": "right-pw-1"}, format="json")
    assert response.status_code == 400


def test_wrong_codes_count_towards_the_lockout(client, operator, enrolled, lockouts):
    log_in(client)
    codes = [client.post("/two-factor/", {"code": "000000"}).status_code for _ in range(3)]
    assert codes[-1] == 429

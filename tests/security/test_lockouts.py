"""Wrong passwords lock a username at an address on every login surface, for a cool-off, and a
forged X-Forwarded-For changes nothing: the address is the connection's unless proxies are trusted."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.utils import timezone
from rest_framework.test import APIClient

from tradingsite.client_address import client_address

pytestmark = pytest.mark.django_db

SURFACES = ["/login/", "/admin/login/", "/api/auth/token"]


def try_login(client, url: str, password: str, **extra):
    body = {"username": "operator", "password": password}
    if url.startswith("/api/"):
        return client.post(url, body, format="json", **extra)
    return client.post(url, body, **extra)


@pytest.mark.parametrize("url", SURFACES)
def test_wrong_passwords_lock_the_login_then_the_cool_off_ends_it(lockouts, operator, url):
    client = APIClient()
    for n in range(2):
        refused = try_login(client, url, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")
        assert refused.status_code in (200, 400), refused.status_code  # the form again, or the API's 400
    assert try_login(client, url, "guess-3").status_code == 429  # the third failure locks
    locked = try_login(client, url, "right-pw-1")  # even the right password, now
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "locked for 15 minutes" in text and "Too many failed logins" in text
    assert int(locked["Retry-After"]) == 15 * 60
    if url.startswith("/api/"):
        assert locked.json()["error"]["code"] == "locked_out"
    assert AccessAttempt.objects.filter(username="operator", ip_address="127.0.0.1").exists()  # in the database

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        after = try_login(client, url, "right-pw-1")
        assert after.status_code in (200, 302)
        assert after.status_code == 200 if url.startswith("/api/") else after["Location"] != url


@pytest.mark.parametrize("url", SURFACES)
def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(lockouts, operator, url):
    client = APIClient()
    for n in range(5):
        try_login(client, url, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert try_login(client, url, "right-pw-1", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429


def test_the_lock_is_per_username_and_address(lockouts, operator, django_user_model):
    django_user_model.objects.create_user("viewer", password="viewer-pw-1")
    client = APIClient()
    for n in range(3):
        try_login(client, "/login/", f"guess-{n}")
    assert try_login(client, "/login/", "right-pw-1").status_code == 429
    other_user = client.post("/login/", {"username": "viewer", "password": "viewer-pw-1"})
    assert other_user.status_code == 302
    other_address = try_login(APIClient(), "/login/", "right-pw-1", REMOTE_ADDR="192.0.2.44")
    assert other_address.status_code == 302


def test_a_wrong_password_on_one_surface_counts_on_the_others(lockouts, operator):
    client = APIClient()
    try_login(client, "/login/", "a")
    try_login(client, "/admin/login/", "b")
    try_login(client, "/api/auth/token", "c")
    assert try_login(client, "/login/", "right-pw-1").status_code == 429


def test_password_guessing_from_new_forwarded_addresses_is_throttled(lockouts, operator):
    lockouts.API_THROTTLE_RATES = {"user": "1000/minute", "anon": "3/minute"}
    lockouts.AXES_FAILURE_LIMIT = 100
    client = APIClient()
    codes = [
        client.post(
            "/api/auth/token",
            {"username": "operator", "password": f"g{n}"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(5)
    ]
    assert codes == [400, 400, 400, 429, 429]


def test_the_client_address_comes_from_trusted_proxies_only(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1  # one proxy: it appended the address it saw
    assert client_address(request) == "203.0.113.9"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer entries than proxies: only the connection is known
    assert client_address(request) == "10.0.0.2"

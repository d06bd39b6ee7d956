"""The daily Kite login, end to end against the emulator through the real kiteconnect client."""

from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.kite import kite_client
from accounts.models import Account, AccountStatus
from accounts.services import kite_login_url, kite_session_expiry

from .conftest import API_KEY, API_SECRET, CALLBACK, USER_ID, kite_account

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


def log_in(client, account: Account) -> tuple[object, list[str]]:
    """Press "Log in with Kite", pass the (emulated) Kite login page, follow the redirect back."""
    start = client.get(reverse("accounts:kite-login", args=[account.pk]))
    assert start.status_code == 302
    kite = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert kite.status_code == 302, kite.text
    callback = urlsplit(kite.headers["Location"])
    response = client.get(f"{callback.path}?{callback.query}")
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def test_login_url_is_kites_own_unless_configured(settings):
    settings.KITE_LOGIN_URL = ""
    account = kite_account()
    url = urlsplit(kite_login_url(account))
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://kite.zerodha.com/connect/login"
    query = parse_qs(url.query)
    assert query["v"] == ["3"] and query["api_key"] == [API_KEY]
    assert parse_qs(query["redirect_params"][0]) == {"account_id": [str(account.pk)]}

    settings.KITE_LOGIN_URL = "http://127.0.0.1:8765/connect/login"
    assert kite_login_url(account).startswith("http://127.0.0.1:8765/connect/login?v=3&api_key=k1&")


def test_login_round_trip_stores_the_token_encrypted_and_activates_the_account(kite_settings, emulator, staff_client):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID, redirect_url=CALLBACK)
    account = kite_account(status=AccountStatus.NEEDS_LOGIN, status_reason="Not logged in to Kite yet.")

    response, messages = log_in(staff_client, account)

    assert response.status_code == 302 and response["Location"] == reverse("accounts:kite-logins")
    assert any("is logged in to Kite until 06:00" in m for m in messages), messages
    account.refresh_from_db()
    assert account.is_logged_in and account.status == AccountStatus.ACTIVE and account.status_reason == ""
    token = account.get_access_token()
    assert token in emulator.accounts[API_KEY].access_tokens
    assert token not in account.access_token_encrypted
    assert kite_client(account).profile()["user_id"] == USER_ID  # the stored session works

    page = staff_client.get(reverse("accounts:kite-logins")).content.decode()
    assert "Logged in until 06:00" in page and "Needs login" not in page


def test_a_login_as_another_zerodha_user_is_refused_and_nothing_is_stored(kite_settings, emulator, staff_client):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id="ZX4321", redirect_url=CALLBACK)
    account = kite_account(status=AccountStatus.NEEDS_LOGIN)

    _, messages = log_in(staff_client, account)

    assert any("ZX4321" in m and "nothing was stored" in m and USER_ID in m for m in messages), messages
    account.refresh_from_db()
    assert not account.has_access_token and not account.is_logged_in
    assert account.status == AccountStatus.NEEDS_LOGIN
    assert emulator.accounts[API_KEY].access_tokens == set()  # the wrong user's session was invalidated


def test_a_wrong_api_secret_gives_a_clear_checksum_error(kite_settings, emulator, staff_client):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID, redirect_url=CALLBACK)
    account = kite_account(api_secret="not-the-secret", status=AccountStatus.NEEDS_LOGIN)

    _, messages = log_in(staff_client, account)

    assert any("checksum" in m and "api_secret" in m for m in messages), messages
    account.refresh_from_db()
    assert not account.has_access_token and account.status == AccountStatus.NEEDS_LOGIN


def test_a_login_never_lifts_a_halt(kite_settings, emulator, staff_client):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID, redirect_url=CALLBACK)
    account = kite_account(status=AccountStatus.HALTED, status_reason="halted by the operator")
    log_in(staff_client, account)
    account.refresh_from_db()
    assert account.is_logged_in and account.status == AccountStatus.HALTED


def test_a_callback_this_browser_did_not_start_changes_nothing(kite_settings, emulator, staff_client):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID)
    account = kite_account(status=AccountStatus.NEEDS_LOGIN)
    request_token = emulator.issue_request_token(API_KEY)
    response = staff_client.get(
        reverse("accounts:kite-callback"),
        {"request_token": request_token, "status": "success", "account_id": account.pk},
    )
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("not started from this browser" in m for m in messages)
    account.refresh_from_db()
    assert not account.has_access_token


def test_the_login_pages_need_a_login_and_the_login_actions_need_staff(client, django_user_model, kite_settings):
    account = kite_account()
    for url in (reverse("accounts:kite-logins"), reverse("accounts:kite-login", args=[account.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
    viewer = django_user_model.objects.create_user("viewer", password="pw")
    client.force_login(viewer)
    page = client.get(reverse("accounts:kite-logins"))
    assert page.status_code == 200 and "Needs login" in page.content.decode()
    assert reverse("accounts:kite-login", args=[account.pk]) not in page.content.decode()
    assert client.get(reverse("accounts:kite-login", args=[account.pk])).status_code == 403
    assert client.get(reverse("accounts:kite-callback"), {"request_token": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("logged_in_at", "expires_at"),
    [
        (ist(2026, 3, 2, 8, 55), ist(2026, 3, 3, 6, 0)),  # a morning login lasts until tomorrow 06:00
        (ist(2026, 3, 2, 23, 59), ist(2026, 3, 3, 6, 0)),
        (ist(2026, 3, 3, 2, 30), ist(2026, 3, 3, 6, 0)),  # before the 06:00 flush: only until then
        (ist(2026, 3, 3, 6, 0), ist(2026, 3, 4, 6, 0)),
    ],
)
def test_a_kite_session_ends_at_the_next_0600_ist(logged_in_at, expires_at):
    assert kite_session_expiry(logged_in_at) == expires_at
    assert kite_session_expiry(logged_in_at.astimezone(ZoneInfo("UTC"))) == expires_at


def test_a_token_stored_at_login_expires_at_0600_ist_next_day(kite_settings, emulator, staff_client, django_user_model):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID, redirect_url=CALLBACK)
    account = kite_account(status=AccountStatus.NEEDS_LOGIN)
    with time_machine.travel(ist(2026, 3, 2, 8, 50), tick=True):
        log_in(staff_client, account)
    account.refresh_from_db()
    assert account.access_token_expires_at == ist(2026, 3, 3, 6, 0)
    with time_machine.travel(ist(2026, 3, 3, 5, 59), tick=False):
        assert account.is_logged_in
    with time_machine.travel(ist(2026, 3, 3, 6, 0), tick=False):
        assert not account.is_logged_in
        # The operator's own session (SESSION_HOURS, 12) ended overnight too: a fresh login.
        staff_client.force_login(django_user_model.objects.get(username="desk"))
        page = staff_client.get(reverse("accounts:kite-logins")).content.decode()
        assert "Needs login" in page

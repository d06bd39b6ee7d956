"""API tokens: hashed at rest, shown once, expiring after API_TOKEN_DAYS, listed without their
values (API and admin), revocable one by one and all of a user's at once."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def new_token(username: str, password: str) -> dict:
    response = APIClient().post("/api/auth/token", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def stored_text() -> str:
    """Everything the token table holds, as text: what a database reader (or a superuser) could see."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        return repr(cursor.fetchall())


def test_a_token_is_shown_once_and_never_stored_or_listed(staff_user, client):
    issued = new_token("operator", "pw-operator")
    token = issued["token"]
    assert len(token) >= 64
    assert with_token(token).get("/api/system/status").status_code == 200

    assert token not in stored_text()  # only a digest and a short lookup prefix
    listed = with_token(token).get("/api/auth/tokens")
    assert listed.status_code == 200
    assert issued["id"] in listed.content.decode()
    assert token not in listed.content.decode() and token[:15] not in listed.content.decode()

    client.force_login(staff_user)  # a superuser in the admin sees owners and dates only
    staff_user.is_superuser = True
    staff_user.save()
    page = client.get("/admin/knox/authtoken/").content.decode()
    assert issued["id"] in page
    assert token not in page and token[:15] not in page  # (the digest in its links cannot be reversed)


def test_a_token_expires_after_30_days_by_default(staff_user, settings):
    assert settings.API_TOKEN_DAYS == 30
    issued = new_token("operator", "pw-operator")
    client = with_token(issued["token"])
    with time_machine.travel(timezone.now() + timedelta(days=29, hours=23)):
        assert client.get("/api/system/status").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=30, minutes=1)):
        expired = client.get("/api/system/status")
        assert expired.status_code == 401
        assert error_of(expired)["code"] == "authentication_failed"


def test_one_token_is_revoked_and_the_others_keep_working(staff_user):
    first, second = new_token("operator", "pw-operator"), new_token("operator", "pw-operator")
    client = with_token(first["token"])
    assert client.delete(f"/api/auth/tokens/{second['id']}").status_code == 204
    assert with_token(second["token"]).get("/api/system/status").status_code == 401
    assert client.get("/api/system/status").status_code == 200
    assert client.delete(f"/api/auth/tokens/{second['id']}").status_code == 404


def test_every_token_of_a_user_is_revoked_at_once(staff_user, viewer_user, staff):
    tokens = [new_token("viewer", "pw-viewer")["token"] for _ in range(3)]
    mine = new_token("operator", "pw-operator")["token"]
    response = staff.post("/api/auth/tokens/revoke-all", {"user": viewer_user.id}, format="json")
    assert response.status_code == 200
    assert response.json()["revoked"] == 4  # three here and the fixture's
    for token in tokens:
        assert with_token(token).get("/api/system/status").status_code == 401
    assert with_token(mine).get("/api/system/status").status_code == 200


def test_a_viewer_sees_and_revokes_only_their_own_tokens(staff_user, viewer_user, viewer):
    staff_token = new_token("operator", "pw-operator")
    listed = viewer.get("/api/auth/tokens").json()
    assert {row["user"] for row in listed} == {"viewer"}
    assert viewer.delete(f"/api/auth/tokens/{staff_token['id']}").status_code == 404
    refused = viewer.post("/api/auth/tokens/revoke-all", {"user": staff_user.id}, format="json")
    assert refused.status_code == 403
    assert with_token(staff_token["token"]).get("/api/system/status").status_code == 200
    assert viewer.post("/api/auth/tokens/revoke-all", {}, format="json").json() == {"revoked": 1}
    assert viewer.get("/api/auth/tokens").status_code == 401  # its own token went too


def test_the_admin_shows_a_new_token_once(staff_user, viewer_user, client):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    response = client.post("/admin/knox/authtoken/add/", {"user": viewer_user.id}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "shown once" in page
    token = page.split("New API token for viewer: ")[1].split(" ")[0]
    assert with_token(token).get("/api/system/status").status_code == 200
    assert token not in client.get("/admin/knox/authtoken/").content.decode()


def test_the_api_token_command_issues_lists_and_revokes(staff_user):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("api_token", "issue", staff_user.username, stdout=out)
    header, token = out.getvalue().splitlines()
    assert "Shown once" in header and "expires" in header
    assert with_token(token).get("/api/system/status").status_code == 200
    assert token not in stored_text()

    token_id = header.split()[1]
    out = StringIO()
    call_command("api_token", "list", staff_user.username, stdout=out)
    [line] = [line for line in out.getvalue().splitlines() if line.startswith(token_id)]
    assert staff_user.username in line and token not in out.getvalue()

    call_command("api_token", "revoke", token_id, stdout=StringIO())
    assert with_token(token).get("/api/system/status").status_code == 401
    with pytest.raises(CommandError, match="No token with id"):
        call_command("api_token", "revoke", token_id)
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("api_token", "issue", "nobody")

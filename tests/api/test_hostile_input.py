"""Hostile input is a 4xx in the API's error shape, never a 500: size, nesting, non-finite numbers."""

import json

import pytest
from django.urls import reverse

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("url", ["/api/signals/manual", "/api/auth/token", "/api/accounts"])
def test_a_10_mb_body_is_413_in_the_error_shape(staff, anonymous, url):
    client = anonymous if url == "/api/auth/token" else staff
    response = client.generic("POST", url, b"x" * TEN_MB, content_type="application/json")
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "too_large"
    assert str(1024 * 1024) in error["message"]


def test_the_body_limit_is_a_setting(staff, settings):
    settings.REQUEST_BODY_MAX_BYTES = 100
    small = staff.post("/api/system/stop", {"reason": "x" * 50}, format="json")
    assert small.status_code == 200
    large = staff.post("/api/system/stop", {"reason": "x" * 200}, format="json")
    assert large.status_code == 413


def test_a_large_body_elsewhere_is_413_too(client):
    response = client.generic("POST", reverse("execution:kite-postback"), b"{" * (2 * 1024 * 1024))
    assert response.status_code == 413
    login = client.generic("POST", reverse("dashboard:login"), b"a" * (2 * 1024 * 1024))
    assert login.status_code == 413


@pytest.mark.parametrize("url", ["/api/accounts", "/api/signals/manual", "/api/mappings"])
def test_json_nested_5000_deep_is_400(staff, url):
    response = staff.generic("POST", url, deep(5000), content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert "nested" in error["message"]


def test_nesting_just_over_the_limit_is_400_and_at_the_limit_is_parsed(staff, settings):
    settings.JSON_MAX_DEPTH = 5
    over = staff.generic(
        "POST", "/api/system/stop", json.dumps({"reason": [[[[["x"]]]]]}), content_type="application/json"
    )
    assert over.status_code == 400 and "nested" in error_of(over)["message"]
    at = staff.generic("POST", "/api/system/stop", json.dumps({"reason": [[["x"]]]}), content_type="application/json")
    assert at.status_code != 500 and "nested" not in at.content.decode()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_json_number_is_400(staff, book, number):
    body = f'{{"capital": {number}}}'
    response = staff.generic("PATCH", f"/api/accounts/{book['asha'].id}", body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "nan"])
def test_a_non_finite_number_in_a_string_is_400_naming_the_field(staff, book, number):
    response = staff.patch(f"/api/accounts/{book['asha'].id}", {"daily_loss_limit": number}, format="json")
    assert response.status_code == 400
    assert "daily_loss_limit" in error_of(response)["fields"]
    book["asha"].refresh_from_db()
    assert book["asha"].daily_loss_limit.is_finite()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e999"])
def test_a_non_finite_number_in_a_manual_signal_is_400(staff, book, number):
    body = {
        "strategy": book["strategy"].id,
        "instrument": "NSE:INFY",
        "target": "long",
        "stop_price": number,
    }
    response = staff.post("/api/signals/manual", body, format="json")
    assert response.status_code == 400, response.content
    error_of(response)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-1e999"])
def test_a_non_finite_query_parameter_is_400(staff, book, value):
    response = staff.get(f"/api/accounts?capital__gte={value}")
    assert response.status_code in (200, 400)  # a filter that does not exist is ignored
    response = staff.get(f"/api/orders?page={value}")
    assert response.status_code == 404
    error_of(response)


def test_garbage_bodies_are_4xx_never_500(staff, anonymous, book):
    bodies = [b"\xff\xfe\x00", b"[]", b"null", b"1", b'"text"', b"{" * 10, ("9" * 5000).encode()]
    for url in ("/api/accounts", "/api/signals/manual", "/api/mappings", "/api/system/stop", "/api/auth/token"):
        client = anonymous if url == "/api/auth/token" else staff
        for body in bodies:
            response = client.generic("POST", url, body, content_type="application/json")
            assert 400 <= response.status_code < 500, (url, body[:20], response.status_code, response.content[:200])
            error_of(response)


def test_a_content_length_that_is_not_a_number_is_400(staff):
    response = staff.generic("POST", "/api/system/stop", b"{}", content_type="application/json", CONTENT_LENGTH="ten")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"

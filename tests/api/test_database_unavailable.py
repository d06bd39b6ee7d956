"""A database that cannot be reached answers 503 with Retry-After, never 500; a signal that committed is
answered 201 even if the database goes away right after the commit.

The database's going away is played by Django's query hook (``connection.execute_wrapper``): every
statement from a chosen moment on fails as a lost connection does. The same, on a real PostgreSQL
restarted under gunicorn, a worker and beat: tests/execution/test_postgres_restart.py.
"""

from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.test import Client

from execution.models import Delivery
from strategies.models import Signal
from tests.api.conftest import error_of
from tests.own_redis import celery_app_on, free_port

LOST = "server closed the connection unexpectedly"


@contextmanager
def database_lost(*, after=lambda sql: True):
    """Every statement fails as on a lost connection, from the first for which ``after(sql)`` holds."""
    lost = False

    def fail(execute, sql, params, many, context):
        nonlocal lost
        lost = lost or after(sql)
        if lost:
            raise OperationalError(LOST)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        yield


@pytest.mark.django_db
def test_an_api_request_while_the_database_is_down_is_a_503_in_the_error_shape_with_retry_after(staff):
    with database_lost():
        response = staff.get("/api/system/status")

    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"
    assert "database" in error_of(response)["message"]
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_a_page_while_the_database_is_down_is_a_503_with_retry_after(staff_user):
    browser = Client(raise_request_exception=False)  # as a real server: the exception becomes the response
    browser.force_login(staff_user)
    with database_lost():  # the session is read in a middleware (the second-factor check), before any view
        response = browser.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"database" in response.content


def test_any_other_error_is_still_a_500(rf):
    from tradingsite.database_errors import server_error

    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error(rf.get("/"))  # as Django calls it: while handling the exception
    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.django_db(transaction=True)
def test_a_signal_that_committed_is_answered_201_even_if_the_database_goes_away_right_after(
    staff, book, engine_running
):
    deliveries_written = False

    def after_the_commit(sql: str) -> bool:
        # The signal's transaction writes its deliveries; any statement after it has committed fails.
        nonlocal deliveries_written
        deliveries_written = deliveries_written or 'INSERT INTO "execution_delivery"' in sql
        return deliveries_written and not connection.in_atomic_block

    payload = {"strategy": book["strategy"].id, "instrument": "NSE:INFY", "target": 0}
    with celery_app_on(f"redis://127.0.0.1:{free_port()}/0"), database_lost(after=after_the_commit):
        response = staff.post("/api/signals/manual", payload, format="json")

    assert deliveries_written
    (recorded,) = Signal.objects.all()
    assert response.status_code == 201, response.content
    assert response.json()["id"] == recorded.id
    assert sorted(d["state"] for d in response.json()["deliveries"]) == ["pending", "pending"]
    assert Delivery.objects.filter(signal=recorded).count() == 2

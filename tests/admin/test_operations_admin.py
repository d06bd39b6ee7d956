"""The admin's operations: a read-only record, filtered by kind and state."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from execution.models import Operation, OperationKind, OperationState

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser():
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "", "pw-for-tests-only"))
    return client


def test_operations_are_listed_filtered_by_kind_and_state_and_read_only(admin_browser):
    stop = Operation.objects.create(
        kind=OperationKind.EMERGENCY_STOP, state=OperationState.DONE, reason="Exchange glitch", started="s"
    )
    square_off = Operation.objects.create(
        kind=OperationKind.INTRADAY_SQUARE_OFF, state=OperationState.RUNNING, reason="MIS at 15:15", started="s"
    )
    changelist = admin_browser.get("/admin/execution/operation/")
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "Exchange glitch" in page and "MIS at 15:15" in page
    assert "?kind__exact=emergency_stop" in page and "?state__exact=running" in page  # the filters

    by_kind = admin_browser.get("/admin/execution/operation/?kind__exact=intraday_square_off").content.decode()
    assert "MIS at 15:15" in by_kind and "Exchange glitch" not in by_kind
    by_state = admin_browser.get("/admin/execution/operation/?state__exact=done").content.decode()
    assert "Exchange glitch" in by_state and "MIS at 15:15" not in by_state

    assert admin_browser.get("/admin/execution/operation/add/").status_code == 403
    change = admin_browser.get(f"/admin/execution/operation/{square_off.pk}/change/")
    assert change.status_code == 200 and 'name="state"' not in change.content.decode()
    assert admin_browser.post(f"/admin/execution/operation/{stop.pk}/change/", {"state": "failed"}).status_code == 403
    assert admin_browser.get(f"/admin/execution/operation/{stop.pk}/delete/").status_code == 403
    stop.refresh_from_db()
    assert stop.state == OperationState.DONE

"""GET /api/system/operations: every operation newest first, filtered by kind and state, paginated,
each as GET /api/system/operations/{id} answers it."""

from datetime import UTC, datetime, timedelta

import pytest

from execution.models import Operation, OperationKind, OperationState, Order, OrderStatus
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 6, 3, 45, tzinfo=UTC)  # 09:15 IST


@pytest.fixture
def operations(book, staff_user):
    made = []
    for n, (kind, state, extra) in enumerate(
        [
            (OperationKind.EMERGENCY_STOP, OperationState.DONE, {"actor": staff_user}),
            (OperationKind.ACCOUNT_FLATTEN, OperationState.FAILED, {"account": book["asha"]}),
            (OperationKind.INTRADAY_SQUARE_OFF, OperationState.RUNNING, {}),
            (OperationKind.ACCOUNT_FLATTEN, OperationState.DONE, {"account": book["bharat"]}),
        ]
    ):
        op = Operation.objects.create(kind=kind, state=state, reason=f"reason {n}", started="at once", **extra)
        Operation.objects.filter(pk=op.pk).update(created_at=START + timedelta(minutes=n))
        made.append(op)
    return made


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_the_list_is_newest_first_and_each_row_is_the_detail(viewer, operations):
    response = viewer.get("/api/system/operations")
    assert ids(response) == [op.id for op in reversed(operations)]
    first = response.json()["results"][-1]
    assert first == viewer.get(f"/api/system/operations/{operations[0].id}").json()
    assert first["created_at"] == "2025-01-06T09:15:00+05:30"


def test_filters_by_kind_and_state(viewer, operations):
    flatten_done, flatten_failed = operations[3], operations[1]
    assert ids(viewer.get("/api/system/operations?kind=account_flatten")) == [flatten_done.id, flatten_failed.id]
    assert ids(viewer.get("/api/system/operations?state=failed")) == [flatten_failed.id]
    assert ids(viewer.get("/api/system/operations?kind=account_flatten&state=done")) == [flatten_done.id]
    assert ids(viewer.get("/api/system/operations?kind=emergency_stop&state=queued")) == []


@pytest.mark.parametrize("query,field", [("kind=panic", "kind"), ("state=finished", "state")])
def test_a_bad_filter_value_is_a_400_naming_it(viewer, operations, query, field):
    response = viewer.get(f"/api/system/operations?{query}")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_paginated_like_the_other_lists(viewer, operations):
    first = viewer.get("/api/system/operations?page_size=3").json()
    assert first["count"] == 4 and len(first["results"]) == 3 and first["next"] and first["previous"] is None
    second = viewer.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [operations[0].id]


def test_needs_a_login_and_is_read_only(anonymous, viewer, operations):
    assert anonymous.get("/api/system/operations").status_code == 401
    assert viewer.post("/api/system/operations", {}, format="json").status_code in (403, 405)


def test_the_list_queries_do_not_grow_with_the_operations(viewer, book, django_assert_max_num_queries):
    def make(n):
        for _ in range(n):
            Operation.objects.create(kind=OperationKind.ACCOUNT_FLATTEN, account=book["asha"], reason="r", started="s")

    make(2)
    with django_assert_max_num_queries(8) as few:
        assert viewer.get("/api/system/operations").status_code == 200
    make(60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(ids(viewer.get("/api/system/operations"))) == 50


def test_documented_in_the_schema(staff):
    schema = staff.get("/api/schema/?format=json").json()
    listing = schema["paths"]["/api/system/operations"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"kind", "state", "page", "page_size"}
    assert "400" in listing["responses"] and "401" in listing["responses"]
    operation = schema["components"]["schemas"]["Operation"]["properties"]
    assert {"actor", "scope", "running_since", "finished_at", "progress"} <= set(operation)


def test_each_operation_says_who_started_it_what_it_covers_and_how_far_it_got(viewer, operations, book):
    emergency, flatten, square_off = operations[0], operations[1], operations[2]
    strategy_stop = Operation.objects.create(
        kind=OperationKind.STRATEGY_STOP, strategy=book["strategy"], reason="r", started="s"
    )
    Operation.objects.filter(pk=flatten.pk).update(
        running_since=START + timedelta(minutes=1, seconds=2),
        finished_at=START + timedelta(minutes=1, seconds=9),
        report={"errors": [{"account_id": book["asha"].id, "message": "Failed: BrokerUnavailable: down"}]},
    )
    for n, status in enumerate([OrderStatus.COMPLETE, OrderStatus.OPEN]):
        Order.objects.create(
            account=book["asha"],
            instrument=book["infy"],
            leg="exit",
            side="SELL",
            quantity=1,
            product="MIS",
            reference_price=1,
            tag=f"Q0000000{n}ABCDF00",
            status=status,
            operation_id=flatten.id,
        )

    rows = {row["id"]: row for row in viewer.get("/api/system/operations").json()["results"]}

    assert rows[emergency.id]["actor"] == "operator"
    assert rows[emergency.id]["scope"]["description"] == "Every account"
    assert rows[square_off.id]["actor"] is None and rows[square_off.id]["scope"]["product"] == "MIS"
    assert rows[strategy_stop.id]["scope"]["strategy"] == book["strategy"].id
    assert rows[strategy_stop.id]["scope"]["strategy_name"] == "SMA 5/20 1m"
    failed = viewer.get(f"/api/system/operations/{flatten.id}").json()
    assert failed == rows[flatten.id]
    assert failed["actor"] is None
    assert failed["scope"] == {
        "account": book["asha"].id,
        "account_name": "Asha",
        "strategy": None,
        "strategy_name": None,
        "product": None,
        "description": "Asha",
    }
    assert failed["running_since"] == "2025-01-06T09:16:02+05:30"
    assert failed["finished_at"] == "2025-01-06T09:16:09+05:30"
    progress = failed["progress"]
    assert (progress["exits_sent"], progress["exits_filled"], progress["exits_working"], progress["errors"]) == (
        2,
        1,
        1,
        1,
    )
    assert progress["so_far"] is False

"""No traps in the API: unknown fields refused by name everywhere, India time everywhere, and
errors in a trader's words."""

import re

import pytest
from django.utils import timezone

from strategies.services import strategy_webhook_rotate
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch")
UNKNOWN = "quantity_override"  # a field no endpoint takes


def write_operations(schema: dict) -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in schema["paths"].items()
        for method in WRITE_METHODS
        if method in item and "requestBody" in item[method]
    ]


def test_every_write_endpoint_refuses_an_unknown_field_by_name(staff, book):
    schema = staff.get("/api/schema/?format=json").json()
    webhook, secret = strategy_webhook_rotate(strategy=book["strategy"])
    ids = {
        "/api/accounts/{id}": book["asha"].id,
        "/api/strategies/{id}": book["strategy"].id,
        "/api/mappings/{id}": book["mappings"][0].id,
    }
    operations = write_operations(schema)
    assert len(operations) >= 15, operations
    checked = []
    for path, method in operations:
        url = re.sub(
            r"\{id\}", str(ids.get(path, book["asha"].id if "accounts" in path else book["strategy"].id)), path
        )
        url = url.replace("{public_id}", webhook.public_id)
        body = {UNKNOWN: 10**12}
        if "webhooks" in path:
            body["secret"] = secret
        response = getattr(staff, method)(url, body, format="json")
        assert response.status_code == 400, (method, path, response.status_code, response.content[:300])
        fields = error_of(response)["fields"]
        assert UNKNOWN in fields, (method, path, fields)
        assert "Unknown field" in fields[UNKNOWN][0]
        checked.append(f"{method.upper()} {path}")
    assert "POST /api/signals/manual" in checked and "PATCH /api/strategies/{id}" in checked


def test_a_manual_exit_with_an_unknown_quantity_is_refused_and_trades_nothing(staff, book):
    """The trap the issue found: an EXIT with "quantity": 1000000000000 used to answer 201."""
    from strategies.models import Signal

    response = staff.post(
        "/api/signals/manual",
        {"strategy": book["strategy"].id, "instrument": "NSE:INFY", "side": "EXIT", "quantity": 1000000000000},
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"].startswith("quantity: Unknown field")
    assert "strategy, instrument, target, side, stop_price, stop_percent, note" in error["fields"]["quantity"][0]
    assert not Signal.objects.exists()


def test_read_only_fields_sent_back_are_not_unknown(staff, book):
    strategy = staff.get(f"/api/strategies/{book['strategy'].id}").json()
    strategy["enter_on_first_bar"] = True
    response = staff.put(f"/api/strategies/{strategy['id']}", strategy, format="json")
    assert response.status_code == 200, response.json()


ISO_TIME = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"')


@pytest.mark.parametrize(
    "url", ["/api/system/status", "/api/accounts", "/api/strategies", "/api/mappings", "/api/pnl/realtime"]
)
def test_api_times_are_india_time_with_their_offset(staff, book, url, engine_running):
    book["strategy"].last_evaluated_at = timezone.now()
    book["strategy"].save()
    text = staff.get(url).content.decode()
    times = ISO_TIME.findall(text)
    assert times, text[:300]
    assert all(t.endswith("+05:30") for t in times), times


def test_a_duplicate_mapping_is_refused_in_a_sentence_naming_account_and_strategy(staff, book):
    response = staff.post(
        "/api/mappings",
        {
            "account": book["asha"].id,
            "strategy": book["strategy"].id,
            "allocation_pct": "10",
            "risk_per_trade_pct": "1",
        },
        format="json",
    )
    assert response.status_code == 400
    message = error_of(response)["message"]
    assert message == (
        "Asha already has a mapping to SMA 5/20 1m: change that mapping's allocation instead of adding a second one."
    )


def test_a_cross_field_parameter_error_reads_once(staff, book):
    response = staff.patch(
        f"/api/strategies/{book['strategy'].id}",
        {"parameters": {"fast_period": 30, "slow_period": 10}},
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"].startswith("parameters: fast_period (30) must be smaller than slow_period (10)")
    assert "parameters: parameters" not in error["message"]

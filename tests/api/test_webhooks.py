"""Webhook alerts (TradingView-style): a secret instead of a login, one signal per alert, every
request recorded, bad input named, and the same signal path as a manual signal."""

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from execution.models import Order, OrderLeg, OrderStatus
from strategies.models import Signal, SignalSource, StrategyWebhook, WebhookOutcome, WebhookRequest
from strategies.selectors import market_data_source
from strategies.services import strategy_webhook_rotate
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(book):
    hook, secret = strategy_webhook_rotate(strategy=book["strategy"])
    return hook, secret


def post(client, hook, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(hook.path, data=data, content_type="application/json", **headers)


def alert(secret, **fields):
    """The body of a TradingView alert message as the README shows it."""
    return {"secret": secret, "symbol": "NSE:INFY", "action": "buy", "stop_percent": "1.5", **fields}


def test_a_tradingview_alert_makes_orders_on_every_mapped_account(
    webhook, book, engine_running, eager_tasks, django_capture_on_commit_callbacks
):
    hook, secret = webhook
    client = Client(enforce_csrf_checks=True)  # no login, no CSRF token: the secret is the credential
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, hook, alert(secret, alert_id="tv-1"))

    assert response.status_code == 201, response.json()
    signal = Signal.objects.get(pk=response.json()["signal"])
    assert (signal.source, signal.target, signal.instrument) == (SignalSource.WEBHOOK, 1, book["infy"])
    price = Decimal(market_data_source().ltp([book["infy"]])[book["infy"].instrument_token])
    assert price * Decimal("0.98") < signal.stop_price < price  # 1.5% under the last price
    orders = Order.objects.filter(signal=signal)
    assert {o.account.name for o in orders} == {"Asha", "Bharat"}
    assert all((o.leg, o.status) == (OrderLeg.ENTRY, OrderStatus.COMPLETE) for o in orders)
    logged = WebhookRequest.objects.get()
    assert (logged.outcome, logged.status_code, logged.signal, logged.alert_id) == ("accepted", 201, signal, "tv-1")
    assert secret not in logged.body and '"secret": "(removed)"' in logged.body


def test_a_repeated_alert_makes_one_signal(webhook, book, engine_running):
    hook, secret = webhook
    client = Client()
    first = post(client, hook, alert(secret, alert_id="tv-7"))
    again = post(client, hook, alert(secret, alert_id="tv-7", stop_percent="2"))
    # No alert id, the same bar twice (TradingView's {{time}}): one signal too.
    bar = {"bar_time": "2026-12-03T04:30:00Z", "action": "SELL", "symbol": "TCS", "stop_percent": "1"}
    bar_first = post(client, hook, alert(secret, **bar))
    bar_again = post(client, hook, alert(secret, **bar))

    assert (first.status_code, again.status_code, bar_first.status_code, bar_again.status_code) == (201, 200, 201, 200)
    assert again.json()["outcome"] == "duplicate" and again.json()["signal"] == first.json()["signal"]
    assert bar_again.json()["signal"] == bar_first.json()["signal"]
    assert Signal.objects.count() == 2
    assert WebhookRequest.objects.filter(outcome=WebhookOutcome.DUPLICATE).count() == 2


def test_an_opposite_alert_on_the_same_bar_is_refused_not_merged(webhook, book):
    hook, secret = webhook
    bar = {"bar_time": "2026-12-03T04:30:00Z"}
    first = post(Client(), hook, alert(secret, **bar)).json()["signal"]
    response = post(Client(), hook, alert(secret, action="EXIT", **bar))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict"
    error["message"] = error["message"].lower()
    # In trader words: which signal holds the bar, what it wants, and how to send this one instead.
    assert f"signal #{first}" in error["message"] and "go long" in error["message"]
    assert "this alert (go flat) was not applied" in error["message"]
    assert "bar_time of the bar it is about" in error["message"]
    assert Signal.objects.count() == 1
    logged = WebhookRequest.objects.order_by("id").last()
    assert (logged.status_code, logged.outcome, logged.signal) == (409, WebhookOutcome.CONFLICT, None)


def test_an_alert_without_bar_time_that_repeats_the_strategys_own_signal_answers_with_it(webhook, book):
    # The strategy's own 1m bar closing at 10:07 went long on INFY; a TradingView alert saying the
    # same arrives at 10:07:30 without bar_time, so it falls on the same bar: nothing new to do, and
    # the alert is answered with the signal that already does it, not refused.
    hook, secret = webhook
    ist = ZoneInfo("Asia/Kolkata")
    own = Signal.objects.create(
        strategy=book["strategy"], instrument=book["infy"], bar_time=datetime(2026, 12, 3, 10, 7, tzinfo=ist),
        target=1, price=Decimal("1500"), stop_price=Decimal("1480"), source=SignalSource.STRATEGY,
    )  # fmt: skip
    with time_machine.travel(datetime(2026, 12, 3, 10, 7, 30, tzinfo=ist), tick=False):
        same = post(Client(), hook, alert(secret))
        opposite = post(Client(), hook, alert(secret, action="SELL"))
    assert same.status_code == 200, same.json()
    assert (same.json()["outcome"], same.json()["signal"]) == ("duplicate", own.id)
    assert f"signal #{own.id}" in same.json()["message"] and "strategy's own" in same.json()["message"]

    assert opposite.status_code == 409
    message = error_of(opposite)["message"].lower()
    assert f"signal #{own.id}" in message and "go long" in message and "strategy's own" in message
    assert "this alert (go short) was not applied" in message
    assert "from 10:08:00 ist" in message  # the next window, when the same alert would be taken
    assert Signal.objects.count() == 1

    with time_machine.travel(datetime(2026, 12, 3, 10, 8, 5, tzinfo=ist), tick=False):
        later = post(Client(), hook, alert(secret, action="SELL"))
    assert later.status_code == 201, later.json()


def test_wrong_secret_unknown_url_and_disabled_webhook_are_refused_and_logged(webhook, book):
    hook, secret = webhook
    client = Client()
    wrong = post(client, hook, alert("not-the-secret"))
    missing = post(client, hook, {"symbol": "NSE:INFY", "action": "EXIT"})
    unknown = client.post("/api/webhooks/0000", data=json.dumps(alert(secret)), content_type="application/json")
    StrategyWebhook.objects.update(enabled=False)
    disabled = post(client, hook, alert(secret))

    assert [r.status_code for r in (wrong, missing, unknown, disabled)] == [403, 403, 404, 403]
    assert error_of(disabled)["code"] == "disabled"
    assert not Signal.objects.exists()
    assert list(WebhookRequest.objects.order_by("id").values_list("outcome", flat=True)) == [
        "unauthorized",
        "unauthorized",
        "not_found",
        "disabled",
    ]


def test_the_secret_is_stored_hashed_and_rotating_it_keeps_the_url(webhook, book):
    hook, secret = webhook
    assert secret not in hook.secret_sha256 and len(hook.secret_sha256) == 64
    rotated, new_secret = strategy_webhook_rotate(strategy=book["strategy"])

    assert rotated.path == hook.path and new_secret != secret
    assert post(Client(), hook, alert(secret, action="EXIT")).status_code == 403
    assert post(Client(), hook, alert(new_secret, action="EXIT")).status_code == 201
    # the header works as well as the body, for tools that can set one
    body = {"symbol": "NSE:TCS", "action": "EXIT"}
    assert post(Client(), hook, body, HTTP_X_WEBHOOK_SECRET=new_secret).status_code == 201


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"action": "BUY", "stop_price": "1"}, "symbol", "required"),
        ({"symbol": "NSE:NOPE", "action": "BUY", "stop_percent": "1"}, "symbol", "No instrument 'NSE:NOPE'"),
        ({"symbol": "NSE:INFY", "action": "HOLD", "stop_percent": "1"}, "action", "send BUY, SELL or EXIT"),
        ({"symbol": "NSE:INFY", "action": "BUY"}, "stop_price", "needs stop_price or stop_percent"),
        ({"symbol": "NSE:INFY", "action": "BUY", "stop_price": "999999"}, "stop_price", "must be below"),
        ({"symbol": "NSE:INFY", "action": "EXIT", "quantity": 10**12}, "quantity", "Unknown field"),
        ({"symbol": "NSE:INFY", "action": "BUY", "stop_percent": "80"}, "stop_percent", "less than or equal to 50"),
        ({"symbol": "NSE:RELIANCE", "action": "EXIT"}, "symbol", "not one of the instruments"),
    ],
)
def test_bad_input_gets_400_naming_the_field(webhook, book, body, field, reason):
    from tests.factories import InstrumentFactory

    InstrumentFactory(tradingsymbol="RELIANCE")
    hook, secret = webhook
    response = post(Client(), hook, {"secret": secret, **body})
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert field in error["fields"], error
    assert reason in " ".join(error["fields"][field]), error
    assert not Signal.objects.exists()
    assert WebhookRequest.objects.get().outcome == "invalid"


def test_a_body_that_is_not_json_gets_400(webhook):
    hook, secret = webhook
    response = Client().post(hook.path, data="BUY INFY now", content_type="text/plain")
    assert response.status_code == 400
    assert "not JSON" in error_of(response)["fields"]["body"][0]


def test_requests_over_the_rate_limit_get_429_and_are_logged(webhook, book, settings):
    from django.core.cache import cache

    cache.clear()
    settings.WEBHOOK_RATE_LIMIT = 3
    hook, secret = webhook
    codes = [post(Client(), hook, alert("wrong")).status_code for _ in range(5)]
    assert codes == [403, 403, 403, 429, 429]
    assert WebhookRequest.objects.filter(outcome="rate_limited", status_code=429).count() == 2
    cache.clear()


def test_only_the_webhook_skips_csrf(webhook, book, staff_user):
    """A logged-in browser session still needs its CSRF token everywhere else in the API."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    manual = client.post(
        "/api/signals/manual",
        data=json.dumps({"strategy": book["strategy"].id, "instrument": "NSE:INFY", "side": "EXIT"}),
        content_type="application/json",
    )
    assert manual.status_code == 403 and "CSRF" in error_of(manual)["message"]
    hook, secret = webhook
    assert post(client, hook, alert(secret, action="EXIT")).status_code == 201


def test_the_schema_documents_the_webhook_as_open_to_its_secret(staff):
    schema = staff.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/webhooks/{public_id}"]["post"]
    # No security requirement (every other operation lists tokenAuth and cookieAuth): the secret is in the body.
    assert "security" not in schema and not any(operation.get("security", [{}]))
    assert schema["paths"]["/api/signals/manual"]["post"]["security"]
    assert {"200", "201", "400", "403", "404", "409", "429"} <= set(operation["responses"])
    assert "secret" in json.dumps(operation)

"""Small things a new user trips on: the favicon, a 403 in the log, India time in the commands,
and strategy parameters edited as a form (dashboard and admin), not raw JSON."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from strategies.models import Strategy
from tests.factories import InstrumentFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def test_the_favicon_is_served_from_the_projects_own_static_files(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/brand/favicon.ico"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_pages_link_the_favicon(viewer_client):
    html = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert 'rel="icon" href="/static/brand/favicon.svg"' in html


def test_a_viewers_403_is_one_line_in_the_log_naming_the_user(viewer_client, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = viewer_client.post(reverse("dashboard:engine-start"))
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    line = record.getMessage()
    assert line.startswith("Forbidden (Permission denied): /engine/start/ (user viewer")
    assert "staff user" in line
    assert record.exc_info is None and not record.exc_text  # no traceback


def test_trading_status_prints_india_time():
    out = StringIO()
    call_command("trading", "status", stdout=out)
    assert "IST (+0530)" in out.getvalue()


@pytest.fixture
def sma(db):
    return StrategyFactory(name="SMA", instruments=[InstrumentFactory(tradingsymbol="INFY")])


def test_the_dashboard_edits_parameters_in_a_form_from_the_strategy_model(staff_client, sma):
    page = staff_client.get(reverse("dashboard:strategy-settings", args=[sma.id])).content.decode()
    # a field per parameter, with its type's bounds and the model's help text
    assert 'name="param_fast_period"' in page and 'min="2"' in page
    assert "Bars of the fast simple moving average." in page
    assert 'name="param_allow_short"' in page and 'type="checkbox"' in page
    assert "parameters" not in page.split("<form", 1)[1].split("</form>")[0].lower().replace(
        '<h2 class="h6">parameters', ""
    )

    form = {
        "param_fast_period": "3",
        "param_slow_period": "8",
        "param_atr_period": "14",
        "param_stop_atr_multiple": "1.5",
        "param_allow_short": "on",
        "max_positions": "2",
    }
    response = staff_client.post(reverse("dashboard:strategy-settings-save", args=[sma.id]), form)
    assert response.status_code == 302
    sma.refresh_from_db()
    assert sma.parameters == {
        "fast_period": 3,
        "slow_period": 8,
        "atr_period": 14,
        "stop_atr_multiple": 1.5,
        "allow_short": True,
    }
    assert sma.max_positions == 2 and sma.enter_on_first_bar is False


def test_a_cross_field_error_is_shown_once_and_nothing_is_saved(staff_client, sma):
    before = dict(sma.parameters)
    form = {
        "param_fast_period": "30",
        "param_slow_period": "10",
        "param_atr_period": "14",
        "param_stop_atr_multiple": "2",
    }
    response = staff_client.post(reverse("dashboard:strategy-settings-save", args=[sma.id]), form)
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("fast_period (30) must be smaller than slow_period (10)") == 1
    assert "parameters:" not in html
    sma.refresh_from_db()
    assert sma.parameters == before


def test_a_bound_is_checked_on_its_own_field(staff_client, sma):
    form = {
        "param_fast_period": "1",
        "param_slow_period": "10",
        "param_atr_period": "14",
        "param_stop_atr_multiple": "2",
    }
    response = staff_client.post(reverse("dashboard:strategy-settings-save", args=[sma.id]), form)
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 2." in response.content.decode()


def test_a_viewer_cannot_save_parameters(viewer_client, sma):
    page = viewer_client.get(reverse("dashboard:strategy-settings", args=[sma.id])).content.decode()
    assert "needs a staff user" in page
    response = viewer_client.post(reverse("dashboard:strategy-settings-save", args=[sma.id]), {})
    assert response.status_code == 403


def test_the_admin_edits_parameters_field_by_field(admin_client, sma):
    url = reverse("admin:strategies_strategy_change", args=[sma.id])
    page = admin_client.get(url).content.decode()
    assert 'name="param_slow_period"' in page and 'name="parameters"' not in page
    assert "Bars of the slow simple moving average." in page

    data = {
        "name": "SMA",
        "library_key": "sma_crossover",
        "timeframe": "1m",
        "instruments": [i.id for i in sma.instruments.all()],
        "product": "MIS",
        "active": "on",
        "trading_enabled": "on",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
        "param_fast_period": "4",
        "param_slow_period": "12",
        "param_atr_period": "10",
        "param_stop_atr_multiple": "2",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, (response.context["adminform"].form.errors, response.context["errors"])
    sma.refresh_from_db()
    assert sma.parameters["fast_period"] == 4 and sma.parameters["slow_period"] == 12

    bad = admin_client.post(url, {**data, "param_fast_period": "20", "param_slow_period": "12"})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert html.count("fast_period (20) must be smaller than slow_period (12)") == 1
    assert Strategy.objects.get(pk=sma.pk).parameters["fast_period"] == 4


def test_a_new_strategy_in_the_admin_starts_with_its_types_defaults(admin_client):
    instrument = InstrumentFactory(tradingsymbol="TCS")
    url = reverse("admin:strategies_strategy_add")
    assert "default parameters" in admin_client.get(url).content.decode()
    data = {
        "name": "EMA new",
        "library_key": "ema_crossover",
        "timeframe": "5m",
        "instruments": [instrument.id],
        "product": "MIS",
        "active": "on",
        "trading_enabled": "on",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, (response.context["adminform"].form.errors, response.context["errors"])
    assert Strategy.objects.get(name="EMA new").parameters["slow_period"] == 21


def test_the_dashboard_creates_a_webhook_and_shows_its_secret_once(staff_client, sma):
    from strategies.models import StrategyWebhook
    from strategies.services import webhook_secret_hash

    url = reverse("dashboard:strategy-settings", args=[sma.id])
    assert "Create webhook" in staff_client.get(url).content.decode()
    response = staff_client.post(reverse("dashboard:strategy-webhook-rotate", args=[sma.id]))
    assert response.status_code == 200
    html = response.content.decode()
    secret = html.split('<code class="user-select-all text-break">', 1)[1].split("</code>", 1)[0]
    webhook = StrategyWebhook.objects.get(strategy=sma)
    assert webhook.secret_sha256 == webhook_secret_hash(secret) and secret not in webhook.secret_sha256
    assert f"http://testserver/api/webhooks/{webhook.public_id}" in html
    assert not any(secret in morsel.value for morsel in response.cookies.values())  # not put in a message
    page = staff_client.get(url).content.decode()
    assert secret not in page and "Rotate secret" in page


def test_a_viewer_cannot_create_a_webhook(viewer_client, sma):
    assert viewer_client.post(reverse("dashboard:strategy-webhook-rotate", args=[sma.id])).status_code == 403

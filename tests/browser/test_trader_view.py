"""What a trader sees of issue 12 (sizing, the lively demo, no traps, parameters as a form), in a
real browser on the live server. Screenshots of each step go to test-artifacts/.

The demo's first bar is replayed through the engine's own services (no beat needed): every account
enters, sized to its share of the allocation.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from execution.demo import demo_seed
from execution.engine.fanout import execute_signal_for_account
from execution.engine.signals import manual_signal_submit
from execution.models import AccountStrategy, Order, OrderStatus, Position
from risk.services import engine_start, engine_stop
from strategies.models import Strategy
from tests.browser.conftest import PHONE, log_in
from tests.execution.demo_replay import replay_demo

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(artifacts / f"issue12-{name}.png"), full_page=full_page)


@pytest.fixture
def demo_traded():
    """The demo after its first bar (every account entered), plus entries refused with their reasons."""
    seed = demo_seed(admin_username="admin")
    engine_start(reason="browser test")
    report = replay_demo(start=timezone.now() - timedelta(minutes=3), minutes=0)
    assert report.first_bar_missing == [] and report.first_bar_complete_pct >= 90
    # A reversal sent by hand while the engine is stopped: the exits go, the entries are refused with
    # their reason.
    engine_stop(reason="browser test")
    strategy = Strategy.objects.get(timeframe="1m")
    held = Position.objects.filter(strategy=strategy, instrument__tradingsymbol="INFY").exclude(quantity=0).first()
    signal = manual_signal_submit(
        strategy=strategy,
        instrument=held.instrument,
        target=-1 if held.quantity > 0 else 1,
        stop_percent=Decimal("2"),
    )
    for mapping in AccountStrategy.objects.filter(strategy=strategy):
        execute_signal_for_account(signal_id=signal.id, account_id=mapping.account_id)
    assert Order.objects.filter(status=OrderStatus.BLOCKED).count() == 4
    return seed


def test_the_first_bar_entered_every_account_and_the_risk_page_shows_each_positions_share(
    live_server, page, artifacts, demo_traded
):
    seed = demo_traded
    log_in(page, live_server.url, seed.admin_username, seed.admin_password)
    page.goto(live_server.url + "/orders/?status=COMPLETE")
    page.wait_for_selector("#live")
    accounts = {o.account.name for o in Order.objects.filter(status=OrderStatus.COMPLETE)}
    assert accounts == {"Paper Asha", "Paper Bharat", "Paper Chitra", "Paper Dev"}
    shot(page, artifacts, "01-first-bar-orders-complete")

    page.goto(live_server.url + "/risk/")
    page.wait_for_selector(".position-cap")
    asha = AccountStrategy.objects.get(account__name="Paper Asha", strategy__timeframe="1m")
    text = page.locator("#risk-table").inner_text()
    assert f"{asha.strategy.name}: ₹12,500.00 a position (₹50,000.00 ÷ 4)" in text
    shot(page, artifacts, "02-risk-capital-per-position")

    page.goto(live_server.url + "/mappings/")
    page.wait_for_selector("#mappings-table")
    assert "÷ 4 positions" in page.locator("#mappings-table").inner_text()
    shot(page, artifacts, "03-mappings-per-position")


def test_at_phone_width_each_orders_status_and_reason_are_on_screen(browser, live_server, artifacts, demo_traded):
    seed = demo_traded
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, live_server.url, seed.admin_username, seed.admin_password)
    page.goto(live_server.url + "/orders/?status=BLOCKED")
    page.wait_for_selector("#orders-table tr.order-row[data-status=BLOCKED]")
    row = page.locator("#orders-table tr.order-row[data-status=BLOCKED]").first
    for cell in (row.locator("td[data-label='Status']"), row.locator("td.message-cell")):
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert cell.is_visible()
    assert "engine" in row.locator("td.message-cell").inner_text().lower()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, artifacts, "04-phone-orders-status-and-reason", full_page=False)

    # The live refresh swaps the table in again: the labels come back with it.
    page.wait_for_function("document.querySelector('#live-stamp') !== null || true")
    page.wait_for_timeout(3500)
    assert page.locator("#orders-table td[data-label='Status']").count() > 0
    context.close()


def test_the_admin_order_list_fits_1400_px_with_its_status(browser, live_server, artifacts, demo_traded):
    seed = demo_traded
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url, seed.admin_username, seed.admin_password)  # with the staff second factor
    page.goto(live_server.url + "/admin/execution/order/")
    page.wait_for_selector("#result_list")
    status = page.locator("#result_list th.column-status")
    box = status.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1400, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    assert page.locator("#result_list td.field-status").first.is_visible()
    shot(page, artifacts, "05-admin-orders-1400px", full_page=False)
    # the icon is the project's own
    icon = page.evaluate("fetch('/favicon.ico').then(r => [r.status, r.headers.get('content-type')])")
    assert icon[0] == 200 and "icon" in icon[1]
    context.close()


def test_strategy_parameters_are_a_form_with_one_cross_field_error(live_server, page, artifacts):
    seed = demo_seed(admin_username="admin")
    strategy = Strategy.objects.get(library_key="sma_crossover")
    log_in(page, live_server.url, seed.admin_username, seed.admin_password)
    page.goto(f"{live_server.url}/strategies/{strategy.id}/settings/")
    assert page.locator("#id_param_fast_period").get_attribute("min") == "2"
    assert page.locator("#id_param_allow_short").is_checked()
    shot(page, artifacts, "06-parameters-form")

    page.fill("#id_param_fast_period", "12")
    page.fill("#id_param_slow_period", "8")
    page.click("#strategy-settings-save")
    page.wait_for_selector(".alert-danger")
    assert page.locator("text=fast_period (12) must be smaller than slow_period (8)").count() == 1
    shot(page, artifacts, "07-parameters-cross-field-error")

    page.fill("#id_param_fast_period", "4")
    page.fill("#id_param_slow_period", "12")
    page.fill("#id_max_positions", "2")
    page.click("#strategy-settings-save")
    page.wait_for_selector("text=settings saved")
    strategy.refresh_from_db()
    saved = (strategy.parameters["fast_period"], strategy.parameters["slow_period"], strategy.max_positions)
    assert saved == (4, 12, 2)
    shot(page, artifacts, "08-parameters-saved")

    # The admin edits the same parameters field by field.
    page.goto(f"{live_server.url}/admin/strategies/strategy/{strategy.id}/change/")
    assert page.locator("#id_param_slow_period").input_value() == "12"
    assert page.locator("textarea[name=parameters]").count() == 0
    shot(page, artifacts, "09-admin-parameters-form")


def test_a_webhook_made_in_the_dashboard_takes_a_tradingview_alert(live_server, page, artifacts, celery_worker):
    """Create the webhook, copy its secret, send an alert as TradingView would: orders on every
    mapped account (a real Celery worker fans the signal out)."""
    from execution.models import OrderLeg
    from strategies.models import Signal, WebhookRequest
    from tests.conftest import wait_for

    seed = demo_seed(admin_username="admin")
    engine_start(reason="browser test")
    strategy = Strategy.objects.get(timeframe="1m")
    log_in(page, live_server.url, seed.admin_username, seed.admin_password)
    page.goto(f"{live_server.url}/strategies/{strategy.id}/settings/")
    page.click("#webhook-rotate")
    page.wait_for_selector("#webhook-new-secret")
    secret = page.locator("#webhook-new-secret code").inner_text().strip()
    url = page.locator("#webhook-url").inner_text().strip()
    shot(page, artifacts, "10-webhook-secret-shown-once")

    alert = {"secret": secret, "symbol": "NSE:TCS", "action": "buy", "stop_percent": 1.5, "alert_id": "tv-1"}
    answer = page.request.post(url, data=alert)  # no session cookie needed, no CSRF token
    assert answer.status == 201, answer.text()
    signal = Signal.objects.get(pk=answer.json()["signal"])
    mapped = set(AccountStrategy.objects.filter(strategy=strategy).values_list("account__name", flat=True))
    wait_for(
        lambda: Order.objects.filter(signal=signal, status=OrderStatus.COMPLETE).count() == len(mapped), timeout=60
    )
    filled = Order.objects.filter(signal=signal, leg=OrderLeg.ENTRY, status=OrderStatus.COMPLETE)
    assert {o.account.name for o in filled} == mapped

    again = page.request.post(url, data=alert)
    assert again.status == 200 and again.json()["outcome"] == "duplicate"
    assert WebhookRequest.objects.count() == 2

    page.goto(f"{live_server.url}/signals/{signal.id}/")
    page.wait_for_selector("#signal-orders tr.order-row[data-status=COMPLETE]")
    shot(page, artifacts, "11-webhook-alert-orders")
    page.goto(f"{live_server.url}/admin/strategies/webhookrequest/")
    assert page.locator("#result_list tbody tr").count() == 2
    shot(page, artifacts, "12-admin-webhook-requests", full_page=False)

"""Strategy state in a real browser: the strategy page says what each strategy wants on each
instrument and why, and the price chart draws the values it decided on with a panel of every
strategy's state on the instrument. Screenshots go to test-artifacts/.

The demo is replayed through the engine's own services for a few minutes before the browser opens
(no beat needed): the 1m crossover has several bars in its ledger, the 5m one its first.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from execution.demo import demo_seed
from risk.services import engine_start
from strategies.models import Evaluation, Strategy
from tests.browser.conftest import PHONE, log_in
from tests.execution.demo_replay import replay_demo

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trader(django_user_model):
    django_user_model.objects.create_user("trader", password="pw-trader-1", is_staff=False)
    return "trader", "pw-trader-1"


def shot(page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"strategy-state-{name}.png"), full_page=True)


def test_the_strategy_page_and_the_chart_say_what_each_strategy_wants_and_why(
    live_server, page, browser, artifacts, trader
):
    demo_seed(admin_username="admin")
    engine_start(reason="browser test")
    replay_demo(start=timezone.now() - timedelta(minutes=9), minutes=6)
    crossover = Strategy.objects.get(timeframe="1m")
    latest = Evaluation.objects.filter(strategy=crossover).order_by("-bar_close").first()

    log_in(page, live_server.url, *trader)
    page.goto(live_server.url + reverse("dashboard:strategies"))
    page.locator("#strategies-table a.strategy-link", has_text=crossover.name).click()
    page.wait_for_url(f"**/strategies/{crossover.id}/")
    table = page.locator("#strategy-state-table")
    rows = table.locator("tbody tr[data-symbol]")
    assert rows.count() == crossover.instruments.count()
    for symbol, detail in latest.instruments.items():
        row = table.locator(f'tr[data-symbol="{symbol}"]')
        verdict = "signalled" if detail["signal"] else "no_change"
        assert row.get_attribute("data-verdict") == verdict
        text = row.inner_text()
        assert {1: "LONG", -1: "SHORT", 0: "FLAT"}[detail["target"]] in text and detail["note"] in text
        # every mapped account holds what the strategy last signalled there
        assert text.count("Paper ") == crossover.mappings.count()
    assert page.locator("#strategy-bars-table tbody tr").count() >= 4 * 5
    shot(page, artifacts, "page-desktop")

    # The 5m strategy was evaluated on its first bar; the 15m and 1h ones say when they decide.
    hourly = Strategy.objects.get(timeframe="1h")
    page.goto(live_server.url + reverse("dashboard:strategy", args=[hourly.id]))
    waiting = page.locator("#strategy-last-bar").inner_text()
    if not Evaluation.objects.filter(strategy=hourly).exists():
        assert "waiting for its first 1h bar to close" in waiting and "IST" in waiting
    shot(page, artifacts, "page-waiting")

    # From the strategy page to the chart of an instrument: its indicator lines and the panel.
    page.goto(live_server.url + reverse("dashboard:strategy", args=[crossover.id]))
    page.locator('#strategy-state-table tr[data-symbol="NSE:INFY"] a').first.click()
    page.locator("#price-chart[data-updated]:not([data-updated=''])").wait_for()  # no eval under the CSP
    legend = page.locator("#price-chart-legend").inner_text()
    assert all(name in legend for name in ("stop", "fast", "slow", "atr"))
    panel = page.locator("#chart-states-table")
    assert panel.locator(f'tr[data-strategy="{crossover.id}"]').get_attribute("data-verdict") in (
        "signalled",
        "no_change",
    )
    assert (
        panel.locator("tbody tr[data-strategy]").count()
        == Strategy.objects.filter(instruments__tradingsymbol="INFY").count()
    )
    shot(page, artifacts, "chart-desktop")
    # The panel refreshes on its own (htmx), like the other live regions.
    stamp = page.locator("#chart-states .live-time").inner_text()
    page.wait_for_function(
        "s => document.querySelector('#chart-states .live-time').textContent !== s", arg=stamp, timeout=15_000
    )

    phone = browser.new_context(viewport=PHONE)
    small = phone.new_page()
    log_in(small, live_server.url, *trader)
    small.goto(live_server.url + reverse("dashboard:strategy", args=[crossover.id]))
    small.locator('#strategy-state-table tr[data-symbol="NSE:INFY"]').wait_for()
    assert small.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    # What happened and why stay on screen at phone width (the row stacks as label: value lines).
    badge = small.locator('#strategy-state-table tr[data-symbol="NSE:INFY"] .strategy-why')
    box = badge.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    small.screenshot(path=str(artifacts / "strategy-state-page-phone.png"), full_page=True)
    phone.close()

"""The price chart in a real browser: candles, the strategy's stop line, its signals and each
account's fills drawn by the vendored Lightweight Charts, on a desktop and a phone."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from execution.models import Fill, Order
from strategies.models import Signal
from strategies.selectors import market_data_source
from tests.browser.conftest import PHONE, log_in
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trader(django_user_model):
    django_user_model.objects.create_user("trader", password="pw-trader-1", is_staff=False)
    return "trader", "pw-trader-1"


def test_a_chart_shows_candles_signals_and_each_accounts_fills(live_server, page, browser, artifacts, trader):
    infy = InstrumentFactory(tradingsymbol="INFY")
    strategy = StrategyFactory(name="SMA 5/20 crossover 1m", timeframe="1m", instruments=[infy])
    accounts = [AccountFactory(name=name) for name in ("Paper Asha", "Paper Bharat")]
    for account in accounts:
        MappingFactory(account=account, strategy=strategy)
    frame = market_data_source().candles(infy, "1m", timezone.now(), 60)
    for n, (back, target) in enumerate(((40, 1), (20, 0), (8, -1))):
        start = frame.index[-back].to_pydatetime().astimezone(UTC)
        close = Decimal(str(frame["close"].iloc[-back]))
        Signal.objects.create(
            strategy=strategy, instrument=infy, bar_time=start + timedelta(minutes=1), target=target, price=close,
            stop_price=close - target * 10 if target else None,
        )  # fmt: skip
        for account in accounts:
            side = "BUY" if target == 1 or (target == 0 and n == 2) else "SELL"
            order = Order.objects.create(
                account=account, strategy=strategy, instrument=infy, leg="entry", side=side, quantity=10,
                product="MIS", reference_price=close, tag=f"C{n}{account.id}", status="COMPLETE",
            )  # fmt: skip
            Fill.objects.create(
                order=order, account=account, broker_trade_id=f"CT{n}{account.id}", quantity=10, price=close,
                filled_at=start + timedelta(minutes=1, seconds=3),
            )  # fmt: skip

    log_in(page, live_server.url, *trader)
    # From the signals page's link to the chart of the instrument with the strategy's overlays.
    page.goto(live_server.url + reverse("dashboard:signals"))
    page.locator("#signals-table a", has_text="NSE:INFY").first.click()
    page.locator("#price-chart[data-updated]:not([data-updated=''])").wait_for()  # no eval under the CSP
    chart = page.locator("#price-chart")
    assert int(chart.get_attribute("data-candles")) == 150
    assert int(chart.get_attribute("data-markers")) == 3 + 6  # three signals, each with two accounts' fills
    assert page.locator("#price-chart canvas").count() >= 1
    legend = page.locator("#price-chart-legend").inner_text()
    assert "stop" in legend and "Paper Asha fills" in legend and "Paper Bharat fills" in legend
    # The time axis reads India time: its last label is the last bar's IST minute.
    page.screenshot(path=str(artifacts / "price-chart-desktop.png"), full_page=True)

    # Another timeframe from the control: the page reloads with 5m bars.
    page.select_option("#chart-timeframe", "5m")
    page.wait_for_url("**timeframe=5m**")
    page.locator("#price-chart[data-updated]:not([data-updated=''])").wait_for()  # no eval under the CSP
    assert "its own timeframe (1m)" in page.locator("#price-chart-message").inner_text()
    page.screenshot(path=str(artifacts / "price-chart-5m.png"), full_page=True)

    phone = browser.new_context(viewport=PHONE)
    small = phone.new_page()
    log_in(small, live_server.url, *trader)
    small.goto(live_server.url + reverse("dashboard:chart", args=[infy.id]))
    small.locator("#price-chart[data-updated]:not([data-updated=''])").wait_for()  # no eval under the CSP
    assert small.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    small.screenshot(path=str(artifacts / "price-chart-phone.png"), full_page=True)
    phone.close()


def test_an_instrument_without_candles_says_why(live_server, page, artifacts, trader, settings):
    settings.MARKET_DATA_SOURCE = "database"  # no candles stored
    instrument = InstrumentFactory(tradingsymbol="EMPTY")
    log_in(page, live_server.url, *trader)
    page.goto(live_server.url + reverse("dashboard:chart", args=[instrument.id]) + "?timeframe=5m")
    page.locator("#price-chart[data-updated]:not([data-updated=''])").wait_for()  # no eval under the CSP
    message = page.locator("#price-chart-message")
    assert message.is_visible() and "No 5m candles for NSE:EMPTY" in message.inner_text()
    page.screenshot(path=str(artifacts / "price-chart-no-candles.png"), full_page=True)

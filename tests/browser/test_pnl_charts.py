"""The P&L page's charts in a real browser: sane axes when empty, the equity curve to scale."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from execution.models import Position
from execution.operations.daily_loss import mark_to_market_tick
from strategies.marketdata import SimulatedMarketData
from tests.browser.conftest import log_in
from tests.execution.book import trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICK_LABELS = """(id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return Object.fromEntries(Object.entries(chart.scales).map(([k, s]) => [k, s.ticks.map((t) => t.label)]));
}"""


@pytest.fixture
def trader(django_user_model):
    django_user_model.objects.create_user("trader", password="pw-trader-1", is_staff=True)
    return "trader", "pw-trader-1"


def wait_for_position(account) -> Position:
    """The entry's fill is recorded by an order thread of its own (on commit): wait for it."""
    deadline = time.monotonic() + 20
    while (position := Position.objects.filter(account=account).exclude(quantity=0).first()) is None:
        assert time.monotonic() < deadline, "the entry never filled"
        time.sleep(0.1)
    return position


def open_pnl(page, base: str) -> None:
    page.goto(base + "/pnl/")
    page.locator("#pnl-charts[data-updated]:not([data-updated=''])").wait_for()  # no eval under the CSP


def test_empty_charts_have_sane_money_axes(live_server, page, artifacts, trader):
    AccountFactory(name="Paper Empty")
    log_in(page, live_server.url, *trader)
    open_pnl(page, live_server.url)
    for chart in ("chart-by-strategy", "chart-by-account", "chart-equity", "chart-distribution"):
        labels = page.evaluate(TICK_LABELS, chart)
        money = labels["x"] if chart == "chart-distribution" else labels["y"]
        assert "-₹0" not in money and len(set(money)) == len(money), f"{chart}: {money}"
        assert "₹100" in money and "-₹100" in money, f"{chart}: {money}"
    times = page.evaluate(TICK_LABELS, "chart-equity")["x"]
    assert 2 <= len(times) <= 10 and len(set(times)) == len(times), times  # the half hour before now, not years
    page.screenshot(path=str(artifacts / "pnl-empty-axes.png"), full_page=True)


def test_the_equity_curve_moves_with_unrealised_pnl_on_a_time_axis(
    live_server, page, artifacts, trader, engine_running, monkeypatch
):
    instrument = InstrumentFactory(tradingsymbol="SBIN")
    strategy = StrategyFactory(instruments=[instrument])
    account = AccountFactory(name="Paper Curve")
    MappingFactory(account=account, strategy=strategy)
    trade(account, strategy, instrument, 1)
    position = wait_for_position(account)
    now = timezone.now()
    # Marks at uneven times, each at its own price: the curve's x-axis must show the gaps.
    real_ltp = SimulatedMarketData.ltp
    for minutes_ago, move in ((40, 5), (35, 12), (10, -8), (2, 3)):
        price = position.average_price + Decimal(move)
        monkeypatch.setattr(
            SimulatedMarketData, "ltp", lambda self, ins, at=None, p=price: {i.instrument_token: p for i in ins}
        )
        mark_to_market_tick(now=now - timedelta(minutes=minutes_ago))
    monkeypatch.setattr(SimulatedMarketData, "ltp", real_ltp)

    log_in(page, live_server.url, *trader)
    open_pnl(page, live_server.url)
    points = page.evaluate("Chart.getChart(document.getElementById('chart-equity')).data.datasets[0].data")
    assert len(points) == 5  # four marks and now
    values = [p["y"] for p in points[:4]]
    assert values[1] > values[0] > 0 > values[2]  # the unrealised P&L went up, then below zero
    nets = page.evaluate("Chart.getChart(document.getElementById('chart-equity')).data.datasets[1].data")
    assert all(n["y"] < p["y"] for n, p in zip(nets, points, strict=True))  # the fills' charges are paid
    gaps = [(b["x"] - a["x"]) / 60000 for a, b in zip(points, points[1:], strict=False)][:3]
    assert gaps == [5, 25, 8]
    labels = page.evaluate(TICK_LABELS, "chart-equity")["x"]
    assert all(len(label) == 5 and label[2] == ":" for label in labels), labels  # HH:MM, India time
    page.locator("#chart-equity").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "pnl-equity-curve.png"), full_page=True)

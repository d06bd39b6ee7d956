"""The price chart: candles of the market data, a strategy's stop line and signals on the bars that
decided them, every account's fills on the bar they happened in; linked from the trader's pages."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from execution.models import Fill, Order
from strategies.models import Signal
from strategies.selectors import market_data_source
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def charted():
    infy, tcs = InstrumentFactory(tradingsymbol="INFY"), InstrumentFactory(tradingsymbol="TCS")
    strategy = StrategyFactory(name="SMA 1m", timeframe="1m", instruments=[infy, tcs])
    asha, bharat = AccountFactory(name="Asha"), AccountFactory(name="Bharat")
    MappingFactory(account=asha, strategy=strategy)
    return {"infy": infy, "tcs": tcs, "strategy": strategy, "asha": asha, "bharat": bharat}


def fill(account, instrument, strategy, *, at, side="BUY", quantity=10, price="1500", tag):
    order = Order.objects.create(
        account=account, strategy=strategy, instrument=instrument, leg="entry", side=side, quantity=quantity,
        product="MIS", reference_price=Decimal(price), tag=tag, status="COMPLETE",
    )  # fmt: skip
    return Fill.objects.create(
        order=order, account=account, broker_trade_id=f"T{tag}", quantity=quantity, price=Decimal(price), filled_at=at
    )


def data(client, instrument, **query):
    return client.get(reverse("dashboard:chart-data", args=[instrument.id]), query)


def test_the_chart_and_its_data_need_a_login(client, charted):
    for name in ("dashboard:chart", "dashboard:chart-data"):
        response = client.get(reverse(name, args=[charted["infy"].id]))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_candles_are_the_strategys_bars_with_its_stop_line(viewer_client, charted):
    infy, strategy = charted["infy"], charted["strategy"]
    body = data(viewer_client, infy, strategy=strategy.id, bars=60).json()
    assert body["timeframe"] == "1m" and body["strategy"]["name"] == "SMA 1m"
    frame = market_data_source().candles(infy, "1m", timezone.now(), 60)
    assert [c["time"] for c in body["candles"]] == [int(t.timestamp()) for t in frame.index]
    assert [c["close"] for c in body["candles"]] == list(frame["close"])
    [stop] = [line for line in body["lines"] if line["name"] == "stop"]
    times = {c["time"] for c in body["candles"]}
    assert [p["time"] for p in stop["points"]] == sorted(times)  # one point a bar, None where flat (a gap)
    # The stop is the strategy's own: run on the same bars (with warm-up), its last value matches.
    from strategies.library import get_strategy_class

    runner = get_strategy_class(strategy.library_key)(strategy.parameters)
    warm = market_data_source().candles(infy, "1m", timezone.now(), 60 + runner.warmup_bars)
    last_stop = runner.run(warm)["stop"].iloc[-1]
    assert stop["points"][-1]["value"] == (None if last_stop != last_stop else pytest.approx(last_stop))


def test_signals_and_each_accounts_fills_sit_on_their_bars(viewer_client, charted):
    infy, tcs, strategy = charted["infy"], charted["tcs"], charted["strategy"]
    candles = data(viewer_client, infy, strategy=strategy.id, bars=30).json()["candles"]
    bar = candles[-5]["time"]
    bar_start = datetime.fromtimestamp(bar, tz=UTC)
    Signal.objects.create(
        strategy=strategy, instrument=infy, bar_time=bar_start + timedelta(minutes=1), target=1,
        price=Decimal("1500"), stop_price=Decimal("1480"),
    )  # fmt: skip
    fill(charted["asha"], infy, strategy, at=bar_start + timedelta(seconds=42), tag="A1")
    fill(charted["bharat"], infy, None, at=bar_start + timedelta(minutes=1, seconds=5), side="SELL", tag="B1")
    fill(charted["asha"], tcs, strategy, at=bar_start + timedelta(seconds=10), tag="OTHER")  # another instrument
    fill(charted["asha"], infy, strategy, at=timezone.now() + timedelta(minutes=5), tag="LATER")  # not a bar yet

    body = data(viewer_client, infy, strategy=strategy.id, bars=30).json()
    [signal] = body["signals"]
    assert signal["time"] == bar and signal["target"] == 1  # the bar that closed at its bar_time
    assert [(f["account"], f["side"], f["time"], f["quantity"]) for f in body["fills"]] == [
        ("Asha", "BUY", bar, 10),
        ("Bharat", "SELL", bar + 60, 10),
    ]


def test_one_accounts_fills_in_one_bar_are_one_marker_at_their_average_price(viewer_client, charted):
    infy, strategy, asha = charted["infy"], charted["strategy"], charted["asha"]
    bar = data(viewer_client, infy, strategy=strategy.id, bars=30).json()["candles"][-3]["time"]
    bar_start = datetime.fromtimestamp(bar, tz=UTC)
    fill(asha, infy, strategy, at=bar_start + timedelta(seconds=5), quantity=10, price="100", tag="P1")
    fill(asha, infy, strategy, at=bar_start + timedelta(seconds=50), quantity=30, price="104", tag="P2")
    fill(asha, infy, strategy, at=bar_start + timedelta(seconds=55), side="SELL", quantity=5, price="103", tag="P3")
    body = data(viewer_client, infy, strategy=strategy.id, bars=30).json()
    assert [(f["side"], f["quantity"], f["price"], f["fills"]) for f in body["fills"]] == [
        ("BUY", 40, 103.0, 2),  # (10 x 100 + 30 x 104) / 40
        ("SELL", 5, 103.0, 1),
    ]


def test_without_a_strategy_only_prices_and_fills_are_drawn(viewer_client, charted):
    body = data(viewer_client, charted["infy"], strategy="", timeframe="5m").json()
    assert body["strategy"] is None and body["lines"] == [] and body["signals"] == []
    starts = [c["time"] for c in body["candles"]]
    assert all(b - a == 300 for a, b in zip(starts, starts[1:], strict=False))


def test_another_timeframe_marks_signals_but_draws_no_lines_of_other_bars(viewer_client, charted):
    body = data(viewer_client, charted["infy"], strategy=charted["strategy"].id, timeframe="15m").json()
    assert body["lines"] == [] and "its own timeframe (1m)" in body["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"timeframe": "2m"}, "timeframe"),
        ({"bars": "5"}, "bars"),
        ({"bars": "many"}, "bars"),
        ({"strategy": "999"}, "strategy"),
    ],
)
def test_bad_choices_are_refused_naming_the_field(viewer_client, charted, query, field):
    response = data(viewer_client, charted["infy"], **query)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    page = viewer_client.get(reverse("dashboard:chart", args=[charted["infy"].id]), query)
    assert page.status_code == 400


def test_a_strategy_that_does_not_trade_the_instrument_is_refused(viewer_client, charted):
    other = StrategyFactory(name="Elsewhere", instruments=[charted["tcs"]])
    response = data(viewer_client, charted["infy"], strategy=other.id)
    assert response.status_code == 400
    assert "does not trade this instrument" in response.json()["errors"]["strategy"][0]["message"]


def test_the_chart_page_loads_the_vendored_library_and_its_data(viewer_client, charted):
    html = viewer_client.get(reverse("dashboard:chart", args=[charted["infy"].id])).content.decode()
    assert "vendor/lightweight-charts/lightweight-charts.standalone.production.js" in html
    assert "<script>" not in html.replace(" ", "")  # no inline script: data comes from the JSON endpoint
    assert reverse("dashboard:chart-data", args=[charted["infy"].id]) in html
    assert "SMA 1m" in html  # the first active strategy trading it is drawn by default


def test_signals_orders_positions_and_strategies_link_to_the_chart(viewer_client, charted):
    from execution.models import Position

    infy, strategy, asha = charted["infy"], charted["strategy"], charted["asha"]
    signal = Signal.objects.create(
        strategy=strategy, instrument=infy, bar_time=timezone.now(), target=1, price=Decimal("1500"),
        stop_price=Decimal("1480"),
    )  # fmt: skip
    fill(asha, infy, strategy, at=timezone.now(), tag="LINK1")
    Position.objects.create(account=asha, strategy=strategy, instrument=infy, product="MIS", quantity=10)
    link = reverse("dashboard:chart", args=[infy.id]) + f"?strategy={strategy.id}&amp;timeframe=1m"
    for page in ("dashboard:signals", "dashboard:orders", "dashboard:positions", "dashboard:strategies"):
        assert link in viewer_client.get(reverse(page)).content.decode(), page
    assert link in viewer_client.get(reverse("dashboard:signal", args=[signal.id])).content.decode()


@pytest.mark.parametrize(("timeframe", "decided_bar"), [("1h", (15, 15)), ("1d", (9, 15))])
def test_a_signal_on_the_sessions_short_last_bar_sits_on_that_bar(settings, charted, timeframe, decided_bar):
    # On NSE the session's last 1h bar is 15:15-15:30 and the day bar 09:15-15:30: neither is one
    # bar length long, so a signal stamped 15:30 belongs to the candle that opened at 15:15 (09:15),
    # not to the one a full bar length earlier.
    from zoneinfo import ZoneInfo

    from execution.selectors import price_chart

    settings.SIMULATED_MARKET_24X7 = False
    ist = ZoneInfo("Asia/Kolkata")
    infy, asha = charted["infy"], charted["asha"]
    strategy = StrategyFactory(name=f"SMA {timeframe}", timeframe=timeframe, instruments=[infy])
    close = datetime(2025, 3, 4, 15, 30, tzinfo=ist)  # a Tuesday's session close
    Signal.objects.create(
        strategy=strategy, instrument=infy, bar_time=close, target=1, price=Decimal("1500"),
        stop_price=Decimal("1480"),
    )  # fmt: skip
    fill(asha, infy, strategy, at=datetime(2025, 3, 4, 15, 29, 30, tzinfo=ist), tag="LAST")
    fill(asha, infy, strategy, at=datetime(2025, 3, 4, 15, 40, tzinfo=ist), side="SELL", tag="AFTER")

    drawn = price_chart(instrument=infy, timeframe=timeframe, strategy=strategy, bars=5, now=close + timedelta(hours=1))
    bar = int(datetime(2025, 3, 4, *decided_bar, tzinfo=ist).timestamp())
    assert drawn.candles[-1]["time"] == bar
    assert [s["time"] for s in drawn.signals] == [bar]
    # The fill in the last minutes is on that bar; one after the close is in no bar of the session.
    assert [(f["side"], f["time"]) for f in drawn.fills] == [("BUY", bar)]

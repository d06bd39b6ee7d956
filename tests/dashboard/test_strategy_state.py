"""Strategy state: what each strategy wants per instrument and why, on its page, under the price
chart and in the API, all read from the evaluation ledger through one selector.

The bars are evaluated by the engine itself on the simulated market (``run_timeframe``), so the
ledger rows are the ones a live day writes."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from execution.engine.bar import run_timeframe
from risk import services as risk_services
from strategies.models import Evaluation
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
MINUTE = timedelta(minutes=1)
AT = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
WORDS = {1: "LONG", 0: "FLAT", -1: "SHORT"}

pytestmark = pytest.mark.django_db


def run(at: datetime):
    return run_timeframe(timeframe="1m", now=at + timedelta(seconds=2))


@pytest.fixture
def crossover():
    infy = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    tcs = InstrumentFactory(tradingsymbol="TCS", instrument_token=2953217)
    strategy = StrategyFactory(
        name="SMA 3/8", parameters={"fast_period": 3, "slow_period": 8, "allow_short": True},
        instruments=[infy, tcs], enter_on_first_bar=True,
    )  # fmt: skip
    MappingFactory(account=AccountFactory(name="Paper Asha"), strategy=strategy)
    return strategy, infy, tcs


def test_the_strategy_page_says_what_it_wants_on_each_instrument_and_why(viewer_client, crossover):
    strategy, infy, tcs = crossover
    url = reverse("dashboard:strategy", args=[strategy.id])
    before = viewer_client.get(url).content.decode()
    assert "Not evaluated yet: start the engine." in before and "Not evaluated yet</span>" in before

    run(AT)  # the engine is stopped: the bar is skipped with its reason
    page = viewer_client.get(url).content.decode()
    assert page.count('data-verdict="skipped"') == 2 and "engine is stopped" in page

    risk_services.engine_start(reason="test")
    run(AT + MINUTE)  # first evaluated bar: enters on it (enter_on_first_bar)
    run(AT + 2 * MINUTE)
    row = Evaluation.objects.get(strategy=strategy, bar_close=AT + 2 * MINUTE)
    page = viewer_client.get(url).content.decode()
    for instrument in (infy, tcs):
        detail = row.instruments[instrument.kite_symbol]
        verdict = "signalled" if detail["signal"] else "no_change"
        assert f'data-symbol="{instrument.kite_symbol}" data-verdict="{verdict}"' in page
        assert detail["note"] in page
        for name, value in detail["indicators"].items():
            assert f"{name} {value:,.2f}" in page
        if detail["stop"] is not None:
            assert f"{detail['stop']:,.2f}" in page
    assert WORDS[row.instruments["NSE:INFY"]["target"]] in page
    # The live region refreshes on its own, as the other pages do.
    fragment = viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.startswith('\n<div id="live"') or fragment.lstrip().startswith('<div id="live"')
    assert 'id="strategy-state-table"' in fragment and "<nav" not in fragment


def test_the_api_shows_the_same_state_as_the_page(viewer_client, crossover):
    strategy, infy, _ = crossover
    risk_services.engine_start(reason="test")
    run(AT)
    run(AT + MINUTE)
    [state] = viewer_client.get(f"/api/strategies/{strategy.id}/state", {"instrument": infy.id}).json()
    detail = Evaluation.objects.get(strategy=strategy, bar_close=AT + MINUTE).instruments["NSE:INFY"]
    assert state["target"] == detail["target"] and state["indicators"] == detail["indicators"]
    assert state["wants"] == {1: "long", 0: "flat", -1: "short"}[detail["target"]]
    assert state["verdict"] == ("signalled" if detail["signal"] else "no_change") and state["why"] == detail["note"]
    # Newest first: this bar, then the first one, where it entered (enter_on_first_bar; never flat once ready).
    assert [bar["verdict"] for bar in state["bars"]] == [state["verdict"], "signalled"]
    page = viewer_client.get(reverse("dashboard:strategy", args=[strategy.id])).content.decode()
    assert f'data-symbol="NSE:INFY" data-verdict="{state["verdict"]}"' in page


def test_missing_data_and_a_failing_strategy_are_named_as_such(viewer_client, crossover, settings):
    strategy, infy, tcs = crossover
    risk_services.engine_start(reason="test")
    settings.MARKET_DATA_SOURCE = "database"  # nothing stored
    run(AT)
    states = viewer_client.get(f"/api/strategies/{strategy.id}/state").json()
    assert {s["symbol"]: s["verdict"] for s in states} == {"NSE:INFY": "data_missing", "NSE:TCS": "data_missing"}
    assert all("no data" in s["why"] for s in states)
    page = viewer_client.get(reverse("dashboard:strategy", args=[strategy.id])).content.decode()
    assert page.count('data-verdict="data_missing"') == 2 and "Data missing" in page

    settings.MARKET_DATA_SOURCE = "simulated"
    # Parameters the strategy's code cannot run with (written past the form's checks).
    type(strategy).objects.filter(pk=strategy.pk).update(parameters={"fast_period": 3, "slow_period": "eight"})
    run(AT + MINUTE)
    states = viewer_client.get(f"/api/strategies/{strategy.id}/state").json()
    assert {s["verdict"] for s in states} == {"error"}
    assert all("slow_period" in s["why"] for s in states)
    assert "Strategy error" in viewer_client.get(reverse("dashboard:strategy", args=[strategy.id])).content.decode()


def test_the_chart_panel_shows_each_strategys_state_on_the_instrument(viewer_client, crossover):
    strategy, infy, _ = crossover
    other = StrategyFactory(name="Idle 5m", timeframe="5m", instruments=[infy])
    risk_services.engine_start(reason="test")
    run(AT)
    detail = Evaluation.objects.get(strategy=strategy, bar_close=AT).instruments["NSE:INFY"]
    panel = viewer_client.get(reverse("dashboard:chart-states", args=[infy.id])).content.decode()
    assert f'data-strategy="{strategy.id}" data-verdict="signalled"' in panel  # its first bar: enters
    assert f'data-strategy="{other.id}" data-verdict=""' in panel and "Not evaluated yet" in panel
    assert WORDS[detail["target"]] in panel and reverse("dashboard:strategy", args=[strategy.id]) in panel
    page = viewer_client.get(reverse("dashboard:chart", args=[infy.id])).content.decode()
    assert 'id="chart-states"' in page and f'data-strategy="{other.id}"' in page


def test_the_chart_draws_the_indicator_values_the_strategy_decided_on(viewer_client, crossover):
    strategy, infy, _ = crossover
    risk_services.engine_start(reason="test")
    # The chart shows the bars up to now (the simulated market runs around the clock in tests).
    start = timezone.localtime().replace(second=0, microsecond=0) - 6 * MINUTE
    for k in range(4):
        if k != 2:  # a bar it did not evaluate is a gap in its lines
            run(start + k * MINUTE)
    url = reverse("dashboard:chart-data", args=[infy.id])
    data = viewer_client.get(url, {"strategy": strategy.id, "timeframe": "1m", "bars": 30}).json()
    lines = {line["name"]: line["points"] for line in data["lines"]}
    assert {"stop", "fast", "slow", "atr"} <= set(lines)
    # Averages over the candles; the ATR, a distance, in a pane of its own below them.
    assert {line["name"]: line["pane"] for line in data["lines"] if line["name"] != "stop"} == {
        "fast": 0, "slow": 0, "atr": 1
    }  # fmt: skip
    ledger = {
        row.bar_close: row.instruments["NSE:INFY"]["indicators"]
        for row in Evaluation.objects.filter(strategy=strategy, outcome="evaluated")
    }
    drawn = {}
    for name in ("fast", "slow", "atr"):
        for point in lines[name]:
            if point["value"] is not None:
                # A point is drawn at its bar's start; the ledger stamps the bar's close.
                drawn.setdefault(datetime.fromtimestamp(point["time"], tz=IST) + MINUTE, {})[name] = point["value"]
    shown_from = datetime.fromtimestamp(data["candles"][0]["time"], tz=IST)
    assert len(drawn) == 3 and drawn == {close: values for close, values in ledger.items() if close > shown_from}
    # Without a strategy, or on another timeframe than its own, no indicator lines.
    plain = viewer_client.get(url, {"strategy": "", "timeframe": "1m"}).json()
    assert plain["lines"] == []
    other = viewer_client.get(url, {"strategy": strategy.id, "timeframe": "5m"}).json()
    assert {line["name"] for line in other["lines"]} <= {"stop"}


def test_the_strategy_page_and_the_chart_panel_link_from_the_lists(viewer_client, crossover):
    strategy, infy, _ = crossover
    strategy_url = reverse("dashboard:strategy", args=[strategy.id])
    assert strategy_url in viewer_client.get(reverse("dashboard:strategies")).content.decode()
    chart = viewer_client.get(reverse("dashboard:chart", args=[infy.id]), {"strategy": strategy.id}).content.decode()
    assert strategy_url in chart
    assert viewer_client.get(reverse("dashboard:strategy", args=[999999])).status_code == 404


def test_the_strategy_page_and_the_chart_panel_run_a_fixed_number_of_queries(viewer_client, crossover):
    strategy, infy, _ = crossover
    risk_services.engine_start(reason="test")
    counts = []
    for bars in (1, 4):
        for k in range(bars):
            run(AT + (len(counts) * 10 + k) * MINUTE)
        with CaptureQueriesContext(connection) as page:
            viewer_client.get(reverse("dashboard:strategy", args=[strategy.id]))
        with CaptureQueriesContext(connection) as panel:
            viewer_client.get(reverse("dashboard:chart-states", args=[infy.id]))
        counts.append((len(page), len(panel)))
    assert counts[0] == counts[1], counts


def test_the_charts_indicator_values_are_the_ledgers_for_one_instrument_in_any_stored_form(crossover):
    from strategies.ledger_detail import decode, encode, indicators_of
    from strategies.models import EvaluationOutcome
    from strategies.selectors import ledger_indicator_values

    strategy, _, _ = crossover
    detail = {
        f"NSE:S{i}": {
            "instrument": i, "target": 1, "stop": 99.5, "close": 100.0, "last_signalled": 1, "signal": False,
            "caught_up_from": None, "note": "holds +1, as last signalled",
            # one instrument lacks an indicator, one has a value not yet defined
            "indicators": {"fast": 100.0 + i / 8, **({"slow": None if i == 2 else 99.0} if i != 1 else {})},
        }
        for i in range(4)
    }  # fmt: skip
    for symbol in detail:
        assert indicators_of(encode(detail), symbol) == decode(encode(detail))[symbol]["indicators"]
        assert indicators_of(detail, symbol) == detail[symbol]["indicators"]  # a row from before the columns
    assert indicators_of(encode(detail), "NSE:NOPE") is None and indicators_of({}, "NSE:S1") is None
    for minutes, stored in ((1, detail), (2, {})):
        Evaluation.objects.create(
            strategy=strategy, timeframe="1m", bar_close=AT + minutes * MINUTE, outcome=EvaluationOutcome.EVALUATED,
            instruments=stored,
        )  # fmt: skip
    assert ledger_indicator_values(strategy_id=strategy.id, symbol="NSE:S1", since=AT, until=AT + 5 * MINUTE) == [
        (AT + MINUTE, {"fast": 100.125})
    ]

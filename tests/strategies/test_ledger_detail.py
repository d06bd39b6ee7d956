"""The evaluation ledger's per-instrument detail: stored in columns, a fraction of the bytes, read
back exactly as the per-instrument dicts the selectors, the admin and /api/evaluations show."""

import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from strategies.ledger_detail import FORMAT_KEY, indicator_value, price_on_tick
from strategies.models import Evaluation
from strategies.selectors import strategy_instrument_states
from tests.factories import InstrumentFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
BAR = datetime(2026, 11, 20, 10, 5, tzinfo=IST)
pytestmark = pytest.mark.django_db


def detail(i: int, **changes) -> dict:
    row = {
        "instrument": 100 + i,
        "target": (1, 0, -1)[i % 3],
        "stop": None if i % 3 == 1 else price_on_tick(1200 + i * 0.37 - (1, 0, -1)[i % 3] * 8.123, Decimal("0.05")),
        "close": price_on_tick(1200 + i * 0.37, Decimal("0.05")),
        "indicators": {
            "fast": indicator_value(1199.123456789 + i),
            "slow": indicator_value(1201.987654321 - i),
            "atr": indicator_value(4.0625 + i / 7),
        },
        "last_signalled": (1, None, -1, 0)[i % 4],
        "signal": i % 50 == 7,
        "caught_up_from": (BAR - timedelta(minutes=2)).isoformat() if i == 7 else None,
        "note": ("holds +1, as last signalled", "flat; nothing signalled yet", "changed on this bar")[i % 3],
    }
    row.update(changes)
    return row


def stored_text(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT instruments FROM strategies_evaluation WHERE id = %s", [pk])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value)


def test_the_detail_reads_back_exactly_as_written():
    strategy = StrategyFactory()
    instruments = {f"NSE:SYM{i}": detail(i) for i in range(12)}
    instruments["NSE:ODD"] = detail(12, indicators={"fast": None}, stop=None, target=0, last_signalled=None)
    instruments["NSE:NEG"] = detail(13, indicators={}, close=0.05, note="")
    row = Evaluation.objects.create(
        strategy=strategy, timeframe="1m", bar_close=BAR, outcome="evaluated", instruments=instruments
    )
    assert Evaluation.objects.get(pk=row.pk).instruments == instruments
    [values] = Evaluation.objects.filter(pk=row.pk).values("instruments")
    assert values["instruments"] == instruments
    assert json.loads(stored_text(row.pk))[FORMAT_KEY] == "columns-1"  # stored as columns


def test_a_500_instrument_row_is_stored_in_a_third_of_the_per_instrument_json():
    strategy = StrategyFactory()
    instruments = {f"NSE:SYMBOL{i:03d}": detail(i) for i in range(500)}
    row = Evaluation.objects.create(
        strategy=strategy, timeframe="1m", bar_close=BAR, outcome="evaluated", instruments=instruments
    )
    per_instrument = len(json.dumps(instruments))
    assert len(stored_text(row.pk)) * 3 < per_instrument
    assert Evaluation.objects.get(pk=row.pk).instruments == instruments


def test_rows_written_before_the_columns_still_read():
    strategy = StrategyFactory()
    row = Evaluation.objects.create(strategy=strategy, timeframe="1m", bar_close=BAR, outcome="evaluated")
    legacy = {"NSE:INFY": detail(0, stop=1234.567891234, close=1250.1000000001)}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE strategies_evaluation SET instruments = %s WHERE id = %s", [json.dumps(legacy), row.pk])
    assert Evaluation.objects.get(pk=row.pk).instruments == legacy


def test_the_ledger_keeps_prices_on_the_tick_and_indicators_to_four_decimals(engine_running):
    from execution.engine.bar import run_timeframe

    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065, tick_size=Decimal("0.05"))
    strategy = StrategyFactory(instruments=[instrument], enter_on_first_bar=True)
    run_timeframe(timeframe="1m", now=BAR + timedelta(seconds=2))
    row = Evaluation.objects.get(strategy=strategy)
    value = row.instruments["NSE:INFY"]
    for price in (value["close"], value["stop"]):
        if price is not None:
            assert math.isclose(price / 0.05, round(price / 0.05), abs_tol=1e-9), price
            assert len(repr(price).split(".")[1]) <= 2
    assert value["indicators"] and all(v == round(v, 4) for v in value["indicators"].values() if v is not None)
    [state] = strategy_instrument_states(strategy=strategy)
    assert (state.target, state.stop, state.close, state.indicators) == (
        value["target"],
        value["stop"],
        value["close"],
        value["indicators"],
    )


def test_past_the_detail_window_a_row_keeps_only_what_signalled_and_the_last_bar_keeps_all(settings, client):
    from django.contrib.auth import get_user_model

    from strategies.tasks import evaluation_ledger_cleanup

    settings.EVALUATION_DETAIL_DAYS = 2
    strategy = StrategyFactory(instruments=[InstrumentFactory(tradingsymbol=f"SYM{i}") for i in (1, 7)])
    other = StrategyFactory(name="Other")
    now = BAR + timedelta(days=10)

    def row(owner, age: timedelta):
        instruments = {f"NSE:SYM{i}": detail(i) for i in range(60)}  # SYM7 and SYM57 signalled, SYM7 caught up
        return Evaluation.objects.create(
            strategy=owner, timeframe="1m", bar_close=now - age, outcome="evaluated", instruments=instruments
        )

    old, recent = row(strategy, timedelta(days=3)), row(strategy, timedelta(days=1))
    only = row(other, timedelta(days=5))  # that strategy's last evaluated bar: kept whole
    skipped = Evaluation.objects.create(
        strategy=strategy, timeframe="1m", bar_close=now - timedelta(days=4), outcome="skipped", reason="engine"
    )
    with time_machine.travel(now, tick=False):
        evaluation_ledger_cleanup()

    old.refresh_from_db()
    assert old.detail_trimmed and set(old.instruments) == {"NSE:SYM7", "NSE:SYM57"}
    assert old.instruments["NSE:SYM7"] == detail(7)  # what decided a signal stays as it was
    for kept in (recent, only):
        kept.refresh_from_db()
        assert not kept.detail_trimmed and len(kept.instruments) == 60
    assert Evaluation.objects.filter(pk=skipped.pk).exists()

    states = {s.symbol: s for s in strategy_instrument_states(strategy=strategy, bars=5)}
    assert states["NSE:SYM1"].target == detail(1)["target"]  # from the recent, whole row
    older_bars = [bar for bar in states["NSE:SYM1"].bars if bar["bar_close"] == old.bar_close]
    assert older_bars and "kept for signals only" in older_bars[0]["why"]
    [signalled] = [bar for bar in states["NSE:SYM7"].bars if bar["bar_close"] == old.bar_close]
    assert signalled["signal"] is True and signalled["why"] == detail(7)["note"]

    user = get_user_model().objects.create_user("viewer", password="pw")
    client.force_login(user)
    api = client.get(f"/api/evaluations?strategy={strategy.pk}&outcome=evaluated").json()["results"]
    assert [(r["detail_trimmed"], len(r["instruments"])) for r in api] == [(False, 60), (True, 2)]


def test_an_old_bar_evaluated_again_has_all_its_detail_and_is_not_marked_trimmed(engine_running, settings):
    from execution.engine.bar import run_timeframe
    from strategies.services import evaluations_trim_detail

    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    strategy = StrategyFactory(instruments=[instrument])
    for minute in (0, 1):
        run_timeframe(timeframe="1m", now=BAR + timedelta(minutes=minute, seconds=2))
    assert evaluations_trim_detail(days=1, now=BAR + timedelta(days=3)) == 1  # the older bar; the last stays whole
    old = Evaluation.objects.get(strategy=strategy, bar_close=BAR)
    assert old.detail_trimmed and old.instruments == {}

    run_timeframe(timeframe="1m", now=BAR + timedelta(seconds=2), force=True)  # as evaluate --at does
    old.refresh_from_db()
    assert not old.detail_trimmed and set(old.instruments) == {"NSE:INFY"}

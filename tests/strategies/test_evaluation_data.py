"""Evaluation on stored candles: one query per bar, bad data named per instrument, refused answers,
and the same answers when a large bar is split across evaluation processes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from strategies import parallel, services
from strategies.calendar import MarketCalendar
from strategies.library import Strategy as StrategyCode
from strategies.library import StrategyOutput, register
from strategies.marketdata import DatabaseMarketData, SimulatedMarketData
from strategies.models import Candle
from tests.factories import InstrumentFactory, StrategyFactory
from tradingsite.benchmarks.evaluation import store_candles

IST = ZoneInfo("Asia/Kolkata")
CALENDAR = MarketCalendar(around_the_clock=True)
BAR = datetime(2026, 11, 20, 11, 0, tzinfo=IST)
pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(db):
    """Three instruments with 120 stored 1m candles up to BAR (copied from the simulated market)
    and an SMA strategy (70-bar look-back) on them."""
    instruments = [InstrumentFactory(tradingsymbol=f"S{i}", instrument_token=7_100_000 + i) for i in range(3)]
    strategy = StrategyFactory(instruments=instruments)
    store_candles(strategies=[strategy], last_close=BAR, count=120, calendar=CALENDAR)
    return strategy, instruments


def evaluate(strategies, source, **kwargs):
    report = services.evaluate_timeframe(strategies=strategies, timeframe="1m", bar_close=BAR, source=source)
    return {ev.strategy.pk: ev for ev in report.evaluations}


def test_stored_candles_are_read_in_one_query_as_the_simulated_market_gave_them(stored):
    strategy, instruments = stored
    source = DatabaseMarketData(calendar=CALENDAR)
    with CaptureQueriesContext(connection) as queries:
        arrays = source.candle_arrays(instruments, "1m", BAR, {i.instrument_token: 70 for i in instruments})
    assert len(queries) == 1
    simulated = SimulatedMarketData(calendar=CALENDAR).candle_arrays(
        instruments, "1m", BAR, {i.instrument_token: 70 for i in instruments}
    )
    for instrument in instruments:
        got, want = arrays[instrument.instrument_token], simulated[instrument.instrument_token]
        assert got.close.dtype == np.float64
        np.testing.assert_array_equal(got.start[-70:], want.start)
        np.testing.assert_array_equal(got.close[-70:], want.close)
    # and the evaluation on either gives the same answer
    on_db = evaluate([strategy], source)[strategy.pk]
    on_sim = evaluate([strategy], SimulatedMarketData(calendar=CALENDAR))[strategy.pk]
    assert on_db.instruments == on_sim.instruments and on_db.instruments_evaluated == 3


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("delete_last", "stale"),
        ("delete_middle", "missing"),
        ("duplicate", "no bar of the market calendar"),
    ],
)
def test_an_instrument_with_bad_candles_is_not_evaluated_and_named(stored, damage, reason):
    strategy, (good, bad, also_good) = stored
    rows = Candle.objects.filter(instrument=bad).order_by("start")
    if damage == "delete_last":
        rows.last().delete()
    elif damage == "delete_middle":
        rows[60].delete()
    else:  # a second candle for a bar, 30 s into it (a feed that stamped it twice)
        first = rows[100]
        Candle.objects.create(
            instrument=bad,
            timeframe="1m",
            start=first.start + timedelta(seconds=30),
            open=first.open,
            high=first.high,
            low=first.low,
            close=first.close,
        )
    evaluation = evaluate([strategy], DatabaseMarketData(calendar=CALENDAR))[strategy.pk]
    assert evaluation.instruments_evaluated == 2
    assert set(evaluation.instruments) == {good.kite_symbol, also_good.kite_symbol}
    assert reason in evaluation.problems[bad.kite_symbol]


def test_out_of_order_or_duplicated_starts_are_named():
    from strategies.evaluation import candle_problem

    expected = np.arange(10, dtype=np.int64) * 60_000_000_000
    assert "duplicated" in candle_problem(np.r_[expected[:5], expected[4:]], expected, "1m", 2)
    assert "out of order" in candle_problem(
        np.r_[expected[:5], expected[6], expected[5], expected[7:]], expected, "1m", 2
    )
    assert candle_problem(expected, expected, "1m", 2) == ""


@register
class NanTarget(StrategyCode):
    key = "test_nan_target"
    label = "Test: NaN target on odd tokens"

    @property
    def warmup_bars(self) -> int:
        return 1

    def compute(self, candles):
        n = len(candles)
        odd = int(candles.close[-1] * 20) % 2  # differs between instruments
        target = np.full(n, np.nan if odd else 1.0)
        return StrategyOutput(target, candles.close - 1.0)


@register
class WrongSideStop(StrategyCode):
    key = "test_wrong_side_stop"
    label = "Test: a long with its stop above the close"

    @property
    def warmup_bars(self) -> int:
        return 1

    def compute(self, candles):
        return StrategyOutput(np.ones(len(candles), dtype=np.int64), candles.close + 1.0)


def test_a_nan_target_or_a_stop_on_the_wrong_side_is_refused_for_that_instrument(stored):
    _, instruments = stored
    nan = StrategyFactory(name="NaN", library_key="test_nan_target", parameters={}, instruments=instruments)
    wrong = StrategyFactory(name="Wrong", library_key="test_wrong_side_stop", parameters={}, instruments=instruments)
    result = evaluate([nan, wrong], DatabaseMarketData(calendar=CALENDAR))
    refused = result[nan.pk].problems
    assert refused and all("refused: the target is nan" in why for why in refused.values())
    assert result[nan.pk].instruments_evaluated == 3 - len(refused)
    assert not result[nan.pk].changes or all(c.target == 1 for c in result[nan.pk].changes)
    assert all("not below the close" in why for why in result[wrong.pk].problems.values())
    assert result[wrong.pk].changes == [] and result[wrong.pk].instruments_evaluated == 0


@pytest.mark.parametrize("kind", ["simulated", "database"])
def test_a_bar_split_across_processes_gives_the_same_answers(stored, settings, kind):
    strategy, instruments = stored
    more = StrategyFactory(name="RSI", library_key="rsi_threshold", parameters={}, instruments=instruments)
    source = (SimulatedMarketData if kind == "simulated" else DatabaseMarketData)(calendar=CALENDAR)
    settings.EVALUATION_PROCESSES = 1
    inline = evaluate([strategy, more], source)
    settings.EVALUATION_PROCESSES, settings.EVALUATION_PARALLEL_FROM = 2, 1
    cpu_before = parallel.children_cpu_seconds()
    try:
        split = evaluate([strategy, more], source)
    finally:
        parallel.shutdown()
    assert parallel.children_cpu_seconds() > cpu_before  # the processes did the work
    for pk in (strategy.pk, more.pk):
        assert split[pk].instruments == inline[pk].instruments
        assert split[pk].problems == inline[pk].problems
        assert [(c.instrument, c.target, c.stop_price) for c in split[pk].changes] == [
            (c.instrument, c.target, c.stop_price) for c in inline[pk].changes
        ]
    assert Decimal("0") <= Decimal(str(inline[strategy.pk].duration_ms))


def _split_bar(processes: int) -> list[tuple]:
    """A small bar on the simulated market through the evaluation processes (0: inline, here)."""
    from strategies.evaluation import Chunk, InstrumentRef, Job, evaluate_chunk

    refs = [InstrumentRef(7_200_000 + i, "NSE", f"P{i}", Decimal("0.05")) for i in range(4)]
    job = Job(1, "sma_crossover", {"fast_period": 5, "slow_period": 20}, 70)
    expected = np.array(
        [int(s.timestamp()) * 1_000_000_000 for s in CALENDAR.bar_starts_before("1m", BAR, 70)], dtype=np.int64
    )
    jobs, counts = {r.instrument_token: [job] for r in refs}, {r.instrument_token: 70 for r in refs}
    source = SimulatedMarketData(calendar=CALENDAR)
    if processes:
        try:
            results = parallel.evaluate(
                timeframe="1m",
                bar_close=BAR,
                expected_ns=expected,
                instruments=refs,
                jobs=jobs,
                counts=counts,
                source=source,
                processes=processes,
            )
        finally:
            parallel.shutdown()
    else:
        results = evaluate_chunk(Chunk("1m", BAR, expected, refs, jobs, counts), source)
    return sorted((r.token, r.target, None if np.isnan(r.stop) else r.stop, r.problem) for r in results)


def split_bar_from_a_prefork_process() -> str:
    """Run in a fresh interpreter, as a Celery worker's main process: a billiard pool process (as
    Celery's prefork pool makes them) starts the evaluation processes."""
    import billiard

    with billiard.Pool(1) as pool:
        from_worker = pool.apply(_split_bar, (2,))
    inline = _split_bar(0)
    assert len(from_worker) == 4 and not any(problem for *_, problem in from_worker), from_worker
    return "same" if from_worker == inline else f"different: {from_worker} != {inline}"


def test_a_celery_prefork_worker_process_can_start_the_evaluation_processes():
    # Celery's pool processes are daemonic (billiard); multiprocessing refuses children to those
    # unless the evaluation lifts it while it starts its own. A fresh interpreter, like a worker's
    # main process, which never started evaluation processes of its own.
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django; django.setup(); "
        "from tests.strategies.test_evaluation_data import split_bar_from_a_prefork_process as check; "
        "print(check())"
    )
    done = subprocess.run(  # noqa: S603 (fixed argv: this interpreter)
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.stdout.strip().endswith("same"), done.stdout + done.stderr

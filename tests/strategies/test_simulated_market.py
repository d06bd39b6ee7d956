import time as _time
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from strategies.calendar import KOLKATA, MarketCalendar
from strategies.marketdata import MarketDataSource, SimulatedMarketData

REPUBLIC_DAY = date(2026, 1, 26)
MONDAY = date(2026, 11, 23)
TIMEFRAMES = ("1m", "5m", "15m", "1h", "1d")


def ist(d: date, h: int, m: int = 0) -> datetime:
    return datetime.combine(d, time(h, m), tzinfo=KOLKATA)


def instrument(token=408065, tick="0.05", symbol="INFY"):
    return SimpleNamespace(instrument_token=token, exchange="NSE", tradingsymbol=symbol, tick_size=Decimal(tick))


@pytest.fixture
def nse_cal():
    return MarketCalendar(holidays=frozenset({REPUBLIC_DAY}))


@pytest.fixture
def nse(nse_cal):
    return SimulatedMarketData(nse_cal)


@pytest.fixture
def atc():
    return SimulatedMarketData(MarketCalendar(around_the_clock=True))


def test_label_and_interface(nse, atc):
    assert isinstance(nse, MarketDataSource)
    assert nse.label == atc.label == "simulated"
    assert nse.follows_exchange_calendar and not atc.follows_exchange_calendar


def test_frame_shape(nse):
    df = nse.candles(instrument(), "5m", ist(MONDAY, 11, 2), 50)
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in df.dtypes)
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "Asia/Kolkata"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert len(df) == 50
    assert df.index[-1] == pd.Timestamp(ist(MONDAY, 10, 55))  # 10:55-11:00 is the last completed bar
    empty = nse.candles(instrument(), "5m", ist(MONDAY, 11, 2), 0)
    assert empty.empty and list(empty.columns) == list(df.columns)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_only_completed_bars_on_calendar(nse, nse_cal, timeframe):
    end = ist(MONDAY, 13, 7)
    count = 120
    df = nse.candles(instrument(), timeframe, end, count)
    expected = nse_cal.bar_starts_before(timeframe, end, count)
    assert [ts.to_pydatetime() for ts in df.index] == expected
    for start in expected:
        assert nse_cal.bar_close(timeframe, start) <= end
        assert nse_cal.is_trading_day(start.date())
        if timeframe != "1d":
            assert nse_cal.is_open(start)


def test_nse_candles_only_within_session(nse):
    df = nse.candles(instrument(), "1m", ist(MONDAY, 16), 1500)  # four sessions, over a weekend
    times = df.index.time
    assert min(times) == time(9, 15) and max(times) == time(15, 29)
    assert set(df.index.date) == {date(2026, 11, d) for d in (18, 19, 20, 23)}
    assert not any(ts.weekday() >= 5 for ts in df.index)
    jan = nse.candles(instrument(), "1h", ist(date(2026, 1, 27), 12), 14)
    assert REPUBLIC_DAY not in set(jan.index.date)


@pytest.mark.parametrize("make", ["nse", "atc"])
def test_deterministic_across_requests_and_instances(make, nse_cal):
    cal = nse_cal if make == "nse" else MarketCalendar(around_the_clock=True)
    a, b = SimulatedMarketData(cal), SimulatedMarketData(cal)
    inst = instrument()
    for tf in TIMEFRAMES:
        late = a.candles(inst, tf, ist(MONDAY, 14, 3), 300)
        early = b.candles(inst, tf, ist(MONDAY, 10, 41), 80)
        overlap = late.index.intersection(early.index)
        assert len(overlap) >= 40, tf
        pd.testing.assert_frame_equal(late.loc[overlap], early.loc[overlap])
        again = SimulatedMarketData(cal).candles(inst, tf, ist(MONDAY, 14, 3), 300)
        pd.testing.assert_frame_equal(late, again)


def test_seed_and_token_matter(nse_cal):
    end = ist(MONDAY, 12)
    base = SimulatedMarketData(nse_cal).candles(instrument(), "1m", end, 50)
    other_seed = SimulatedMarketData(nse_cal, seed=7).candles(instrument(), "1m", end, 50)
    other_token = SimulatedMarketData(nse_cal).candles(instrument(token=738561), "1m", end, 50)
    assert not np.allclose(base.close, other_seed.close)
    assert not np.allclose(base.close, other_token.close)


@pytest.mark.parametrize("tick", ["0.05", "0.01", "0.1"])
@pytest.mark.parametrize("make", ["nse", "atc"])
def test_ohlc_sanity_and_ticks(request, make, tick):
    src = request.getfixturevalue(make)
    for token in (256265, 408065, 2953217, 5633):
        inst = instrument(token=token, tick=tick)
        for tf in TIMEFRAMES:
            df = src.candles(inst, tf, ist(MONDAY, 15), 400 if tf != "1d" else 120)
            assert (df.low <= df[["open", "close"]].min(axis=1)).all()
            assert (df.high >= df[["open", "close"]].max(axis=1)).all()
            assert (df.low > 0).all() and (df.volume >= 1).all()
            assert (df.volume == df.volume.round()).all()
            steps = df[["open", "high", "low", "close"]].to_numpy() / float(tick)
            assert np.abs(steps - np.round(steps)).max() < 1e-6
        # plausible 1m moves: no wild jumps within a session
        one = src.candles(inst, "1m", ist(MONDAY, 15), 300)
        assert one.close.pct_change().abs().max() < 0.02


@pytest.mark.parametrize("make", ["nse", "atc"])
@pytest.mark.parametrize("timeframe", ["5m", "15m", "1h", "1d"])
def test_higher_timeframes_aggregate_one_minute(request, make, timeframe):
    src = request.getfixturevalue(make)
    cal = src.calendar
    inst = instrument()
    end = ist(MONDAY, 15, 30)
    higher = src.candles(inst, timeframe, end, 8)
    minutes = src.candles(inst, "1m", end, 9 * cal.session_minutes)
    for start, row in higher.iterrows():
        close = cal.bar_close(timeframe, start.to_pydatetime())
        part = minutes[(minutes.index >= start) & (minutes.index < close)]
        assert len(part) == (close - start.to_pydatetime()) // timedelta(minutes=1)
        assert row.open == part.open.iloc[0]
        assert row.high == part.high.max()
        assert row.low == part.low.min()
        assert row.close == part.close.iloc[-1]
        assert row.volume == part.volume.sum()


def test_short_last_hour_bar_nse(nse):
    df = nse.candles(instrument(), "1h", ist(MONDAY, 15, 30), 7)
    assert [ts.strftime("%H:%M") for ts in df.index] == [
        "09:15",
        "10:15",
        "11:15",
        "12:15",
        "13:15",
        "14:15",
        "15:15",
    ]
    assert all(ts.date() == MONDAY for ts in df.index)


@pytest.mark.parametrize("make", ["nse", "atc"])
@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m"])
def test_sma_crossovers_happen(request, make, timeframe):
    src = request.getfixturevalue(make)
    for token in (256265, 408065, 2953217):
        for end in (ist(MONDAY, 11), ist(MONDAY, 14, 30), ist(date(2026, 3, 4), 12)):
            close = src.candles(instrument(token=token), timeframe, end, 200).close
            diff = (close.rolling(5).mean() - close.rolling(20).mean()).dropna()
            sign = np.sign(diff[diff != 0])
            crossings = int((sign.diff().abs() > 0).sum())
            assert crossings >= 3, (token, end, timeframe, crossings)


def test_ltp(nse, atc):
    inst = instrument()
    # inside a bar: between its open and close, at its close once the minute ends
    bar = nse.candles(inst, "1m", ist(MONDAY, 11, 31), 1).iloc[-1]
    at_start = nse.ltp([inst], ist(MONDAY, 11, 30))[inst.instrument_token]
    mid = nse.ltp([inst], ist(MONDAY, 11, 30) + timedelta(seconds=30))[inst.instrument_token]
    assert isinstance(mid, Decimal)
    assert float(at_start) == bar.open
    lo, hi = sorted((bar.open, bar.close))
    assert lo <= float(mid) <= hi
    assert (mid / Decimal("0.05")) % 1 == 0
    assert float(nse.ltp([inst], ist(MONDAY, 11, 31))[inst.instrument_token]) == bar.close
    # after hours and over the weekend: the last close of the session
    last = nse.candles(inst, "1m", ist(MONDAY, 18), 1).close.iloc[-1]
    assert float(nse.ltp([inst], ist(MONDAY, 18))[inst.instrument_token]) == last
    friday_last = nse.candles(inst, "1d", ist(date(2026, 11, 21), 12), 1).close.iloc[-1]
    assert float(nse.ltp([inst], ist(date(2026, 11, 22), 12))[inst.instrument_token]) == friday_last
    # several instruments; default `at` is now
    prices = atc.ltp([instrument(), instrument(token=5633)])
    assert set(prices) == {408065, 5633} and all(p > 0 for p in prices.values())


def test_warm_candles_are_fast(atc, nse):
    instruments = [instrument(token=1000 + i) for i in range(20)]
    for src in (atc, nse):
        end = ist(MONDAY, 12, 1)
        for inst in instruments:
            for tf in TIMEFRAMES:
                src.candles(inst, tf, end, 200)
        started = _time.perf_counter()
        for inst in instruments:
            for tf in TIMEFRAMES:
                src.candles(inst, tf, end, 200)
        per_call = (_time.perf_counter() - started) / (len(instruments) * len(TIMEFRAMES))
        assert per_call < 0.02, per_call  # target is well under 5 ms; generous for slow CI machines

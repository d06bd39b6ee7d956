from datetime import UTC, date, datetime, time, timedelta

import pytest

from strategies.calendar import KOLKATA, TIMEFRAME_MINUTES, MarketCalendar, to_market_time

REPUBLIC_DAY = date(2026, 1, 26)  # a Monday
MONDAY = date(2026, 11, 23)
SATURDAY = date(2026, 11, 21)


def ist(d: date, h: int, m: int = 0) -> datetime:
    return datetime.combine(d, time(h, m), tzinfo=KOLKATA)


@pytest.fixture
def nse():
    return MarketCalendar(holidays=frozenset({REPUBLIC_DAY}))


@pytest.fixture
def atc():
    return MarketCalendar(around_the_clock=True)


def test_to_market_time():
    utc = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    assert to_market_time(utc) == ist(MONDAY, 9, 30)
    assert to_market_time(utc).tzinfo == KOLKATA
    with pytest.raises(ValueError):
        to_market_time(datetime(2026, 11, 23, 9, 30))


def test_trading_days_and_session(nse):
    assert nse.is_trading_day(MONDAY)
    assert not nse.is_trading_day(SATURDAY)
    assert not nse.is_trading_day(SATURDAY + timedelta(days=1))
    assert not nse.is_trading_day(REPUBLIC_DAY)
    assert nse.session_bounds(MONDAY) == (ist(MONDAY, 9, 15), ist(MONDAY, 15, 30))
    with pytest.raises(ValueError):
        nse.session_bounds(SATURDAY)
    assert nse.previous_trading_day(MONDAY) == date(2026, 11, 20)
    assert nse.next_trading_day(date(2026, 1, 23)) == date(2026, 1, 27)


def test_is_open(nse):
    assert not nse.is_open(ist(MONDAY, 9, 14))
    assert nse.is_open(ist(MONDAY, 9, 15))
    assert nse.is_open(ist(MONDAY, 15, 29))
    assert not nse.is_open(ist(MONDAY, 15, 30))
    assert not nse.is_open(ist(SATURDAY, 11))
    assert not nse.is_open(ist(REPUBLIC_DAY, 11))
    # 04:00 UTC is 09:30 IST
    assert nse.is_open(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))


def test_bar_length():
    cal = MarketCalendar()
    assert cal.bar_length("5m") == timedelta(minutes=5)
    assert cal.bar_length("1h") == timedelta(hours=1)
    assert set(TIMEFRAME_MINUTES) == {"1m", "5m", "15m", "1h", "1d"}
    with pytest.raises(ValueError):
        cal.bar_length("2m")


def test_nse_bar_closes(nse):
    day = (ist(MONDAY, 0), ist(MONDAY, 23, 59))
    m1 = nse.bar_closes("1m", *day)
    assert len(m1) == 375 and m1[0] == ist(MONDAY, 9, 16) and m1[-1] == ist(MONDAY, 15, 30)
    m5 = nse.bar_closes("5m", *day)
    assert len(m5) == 75 and m5[:2] == [ist(MONDAY, 9, 20), ist(MONDAY, 9, 25)]
    assert m5[-1] == ist(MONDAY, 15, 30)
    m15 = nse.bar_closes("15m", *day)
    assert len(m15) == 25 and m15[0] == ist(MONDAY, 9, 30) and m15[-1] == ist(MONDAY, 15, 30)
    assert nse.bar_closes("1h", *day) == [ist(MONDAY, h, 15) for h in range(10, 16)] + [ist(MONDAY, 15, 30)]
    assert nse.bar_closes("1d", *day) == [ist(MONDAY, 15, 30)]
    assert all(c.tzinfo == KOLKATA for c in m5)
    # inclusive bounds, across a weekend: Friday's last and Monday's first 1h bars
    fri = date(2026, 11, 20)
    assert nse.bar_closes("1h", ist(fri, 15, 15), ist(MONDAY, 10, 15)) == [
        ist(fri, 15, 15),
        ist(fri, 15, 30),
        ist(MONDAY, 10, 15),
    ]
    assert nse.bar_closes("5m", *[ist(SATURDAY, 0), ist(SATURDAY, 23)]) == []


def test_bar_start(nse):
    assert nse.bar_start("5m", ist(MONDAY, 9, 20)) == ist(MONDAY, 9, 15)
    assert nse.bar_start("1h", ist(MONDAY, 10, 15)) == ist(MONDAY, 9, 15)
    assert nse.bar_start("1h", ist(MONDAY, 15, 30)) == ist(MONDAY, 15, 15)
    assert nse.bar_start("1d", ist(MONDAY, 15, 30)) == ist(MONDAY, 9, 15)
    assert nse.bar_start("15m", ist(MONDAY, 15, 30)) == ist(MONDAY, 15, 15)
    with pytest.raises(ValueError):
        nse.bar_start("5m", ist(MONDAY, 9, 22))
    with pytest.raises(ValueError):
        nse.bar_start("5m", ist(MONDAY, 9, 15))
    with pytest.raises(ValueError):
        nse.bar_start("1h", ist(SATURDAY, 10, 15))
    assert nse.bar_close("1h", ist(MONDAY, 15, 15)) == ist(MONDAY, 15, 30)
    assert nse.bar_close("5m", ist(MONDAY, 9, 15)) == ist(MONDAY, 9, 20)
    assert nse.bar_close("1d", ist(MONDAY, 0)) == ist(MONDAY, 15, 30)  # Kite stamps day candles at 00:00


def test_last_bar_close_intraday(nse):
    assert nse.last_bar_close("5m", ist(MONDAY, 9, 22)) == ist(MONDAY, 9, 20)
    assert nse.last_bar_close("5m", ist(MONDAY, 9, 20)) == ist(MONDAY, 9, 20)
    assert nse.last_bar_close("1h", ist(MONDAY, 15, 20)) == ist(MONDAY, 15, 15)
    assert nse.last_bar_close("1h", ist(MONDAY, 15, 30)) == ist(MONDAY, 15, 30)
    assert nse.last_bar_close("1m", ist(MONDAY, 20)) == ist(MONDAY, 15, 30)
    assert nse.last_bar_close("1d", ist(MONDAY, 15, 29)) == ist(date(2026, 11, 20), 15, 30)
    assert nse.last_bar_close("1d", ist(MONDAY, 15, 30)) == ist(MONDAY, 15, 30)


def test_last_bar_close_across_weekend_and_holiday(nse):
    fri = date(2026, 11, 20)
    for at in (ist(SATURDAY, 12), ist(MONDAY, 9, 15), ist(MONDAY, 9, 17), ist(MONDAY, 8)):
        for tf in ("1m", "5m", "1h", "1d"):
            expected = ist(fri, 15, 30)
            if at == ist(MONDAY, 9, 17) and tf == "1m":
                expected = ist(MONDAY, 9, 17)
            assert nse.last_bar_close(tf, at) == expected, (tf, at)
    # Republic Day 2026 is a Monday holiday: back to Friday 23 January
    assert nse.last_bar_close("15m", ist(REPUBLIC_DAY, 12)) == ist(date(2026, 1, 23), 15, 30)
    assert nse.last_bar_close("15m", ist(date(2026, 1, 27), 9, 20)) == ist(date(2026, 1, 23), 15, 30)
    # any input zone; output in IST
    utc = datetime(2026, 11, 23, 4, 1, tzinfo=UTC)  # 09:31 IST
    out = nse.last_bar_close("5m", utc)
    assert out == ist(MONDAY, 9, 30) and out.tzinfo == KOLKATA


def test_next_bar_close(nse):
    assert nse.next_bar_close("5m", ist(MONDAY, 9, 20)) == ist(MONDAY, 9, 25)
    assert nse.next_bar_close("5m", ist(MONDAY, 9, 22)) == ist(MONDAY, 9, 25)
    assert nse.next_bar_close("5m", ist(MONDAY, 7)) == ist(MONDAY, 9, 20)
    assert nse.next_bar_close("1h", ist(MONDAY, 15, 15)) == ist(MONDAY, 15, 30)
    assert nse.next_bar_close("1d", ist(MONDAY, 15, 30)) == ist(date(2026, 11, 24), 15, 30)
    assert nse.next_bar_close("1m", ist(date(2026, 11, 20), 15, 30)) == ist(MONDAY, 9, 16)
    assert nse.next_bar_close("1h", ist(date(2026, 1, 23), 16)) == ist(date(2026, 1, 27), 10, 15)


def test_bar_starts_before(nse):
    starts = nse.bar_starts_before("5m", ist(MONDAY, 9, 27), 3)
    assert starts == [ist(date(2026, 11, 20), 15, 25), ist(MONDAY, 9, 15), ist(MONDAY, 9, 20)]
    starts = nse.bar_starts_before("1h", ist(MONDAY, 16), 8)  # 7 hourly bars a day
    assert starts[:2] == [ist(date(2026, 11, 20), 15, 15), ist(MONDAY, 9, 15)]
    assert starts[-1] == ist(MONDAY, 15, 15) and len(starts) == 8
    # over the Republic Day weekend
    starts = nse.bar_starts_before("1d", ist(date(2026, 1, 27), 16), 3)
    assert starts == [ist(date(2026, 1, d), 9, 15) for d in (22, 23, 27)]
    assert nse.bar_starts_before("1m", ist(MONDAY, 12), 0) == []


def test_bar_starts_before_matches_bar_closes(nse):
    end = ist(MONDAY, 11, 3)
    for tf in TIMEFRAME_MINUTES:
        count = 3000 if tf == "1m" else 400
        starts = nse.bar_starts_before(tf, end, count)
        assert len(starts) == count
        assert starts == sorted(starts) and len(set(starts)) == count
        closes = nse.bar_closes(tf, nse.bar_close(tf, starts[0]), end)
        assert [nse.bar_start(tf, c) for c in closes] == starts
        assert all(nse.is_trading_day(s.date()) for s in starts)


def test_around_the_clock(atc):
    sat = SATURDAY
    assert atc.is_trading_day(sat) and atc.is_trading_day(REPUBLIC_DAY)
    assert atc.is_open(ist(sat, 3)) and atc.is_open(ist(sat, 23, 59))
    assert atc.session_bounds(sat) == (ist(sat, 0), ist(sat + timedelta(days=1), 0))
    day = (ist(sat, 0), ist(sat, 23, 59))
    assert atc.bar_closes("1h", *day) == [ist(sat, h) for h in range(0, 24)]  # 00:00 closes Friday's last bar
    assert atc.bar_closes("5m", ist(sat, 0, 1), ist(sat, 1))[0] == ist(sat, 0, 5)
    assert atc.bar_closes("1d", ist(sat, 0, 1), ist(sat + timedelta(days=1), 0)) == [ist(sat + timedelta(days=1), 0)]
    assert atc.last_bar_close("1h", ist(sat, 13, 59)) == ist(sat, 13)
    assert atc.last_bar_close("1d", ist(sat, 13)) == ist(sat, 0)
    assert atc.last_bar_close("1m", ist(sat, 0, 0)) == ist(sat, 0, 0)
    assert atc.bar_start("1d", ist(sat, 0)) == ist(sat - timedelta(days=1), 0)
    assert atc.bar_start("1h", ist(sat, 0)) == ist(sat - timedelta(days=1), 23)
    assert atc.next_bar_close("1h", ist(sat, 23, 30)) == ist(sat + timedelta(days=1), 0)
    assert atc.bar_starts_before("1h", ist(sat, 1, 30), 3) == [
        ist(sat - timedelta(days=1), 22),
        ist(sat - timedelta(days=1), 23),
        ist(sat, 0),
    ]
    assert len(atc.bar_starts_before("1m", ist(sat, 12), 3000)) == 3000

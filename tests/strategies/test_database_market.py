from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pytest

from strategies.calendar import KOLKATA
from strategies.marketdata import DatabaseMarketData, MarketDataUnavailable

MONDAY = date(2026, 11, 23)


def ist(d: date, h: int, m: int = 0) -> datetime:
    return datetime.combine(d, time(h, m), tzinfo=KOLKATA)


@pytest.fixture
def instrument(db):
    from strategies.models import Instrument

    return Instrument.objects.create(
        instrument_token=408065,
        exchange="NSE",
        tradingsymbol="INFY",
        segment="NSE",
        tick_size=Decimal("0.05"),
    )


def add_candles(instrument, timeframe, starts, first_close=Decimal("1500.00")):
    from strategies.models import Candle

    rows = []
    for i, start in enumerate(starts):
        close = first_close + Decimal("0.05") * i
        rows.append(
            Candle(
                instrument=instrument,
                timeframe=timeframe,
                start=start,
                open=close - Decimal("0.10"),
                high=close + Decimal("0.50"),
                low=close - Decimal("0.50"),
                close=close,
                volume=1000 + i,
            )
        )
    return Candle.objects.bulk_create(rows)


@pytest.mark.django_db
def test_candles_completed_bars_only(instrument):
    starts = [ist(MONDAY, 9, 15) + timedelta(minutes=5 * i) for i in range(10)]  # 09:15 .. 10:00
    add_candles(instrument, "5m", starts)
    src = DatabaseMarketData()
    assert src.label == "database"
    df = src.candles(instrument, "5m", ist(MONDAY, 9, 57), 4)  # the 09:55 bar is still open
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in df.dtypes)
    assert str(df.index.tz) == "Asia/Kolkata"
    assert [ts.strftime("%H:%M") for ts in df.index] == ["09:35", "09:40", "09:45", "09:50"]
    assert df.close.iloc[-1] == 1500.35
    assert len(src.candles(instrument, "5m", ist(MONDAY, 12), 100)) == 10
    with pytest.raises(MarketDataUnavailable, match="NSE:INFY"):
        src.candles(instrument, "5m", ist(MONDAY, 9, 19), 10)
    with pytest.raises(MarketDataUnavailable):
        src.candles(instrument, "1h", ist(MONDAY, 12), 10)


@pytest.mark.django_db
def test_daily_candles_stamped_at_midnight(instrument):
    add_candles(instrument, "1d", [ist(date(2026, 11, d), 0) for d in (19, 20, 23)])
    src = DatabaseMarketData()
    assert len(src.candles(instrument, "1d", ist(MONDAY, 15, 29), 5)) == 2  # Monday's day is not over
    assert len(src.candles(instrument, "1d", ist(MONDAY, 15, 30), 5)) == 3


@pytest.mark.django_db
def test_ltp(instrument):
    add_candles(instrument, "5m", [ist(MONDAY, 9, 15)], first_close=Decimal("1490.00"))
    src = DatabaseMarketData()
    assert src.ltp([instrument]) == {408065: Decimal("1490.00")}
    add_candles(instrument, "1m", [ist(MONDAY, 9, 15), ist(MONDAY, 9, 16)])
    assert src.ltp([instrument]) == {408065: Decimal("1500.05")}
    assert src.ltp([instrument], at=ist(MONDAY, 9, 15)) == {408065: Decimal("1500.00")}
    with pytest.raises(MarketDataUnavailable, match="no stored candles"):
        src.ltp([instrument], at=ist(MONDAY, 9, 0))

"""Kite market data through the data account: candles cached in the database, live prices, instruments."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from kiteconnect import KiteConnect

from accounts.models import AccountStatus
from strategies.calendar import MarketCalendar
from strategies.marketdata import MarketDataUnavailable
from strategies.marketdata.kite import (
    KITE_INTERVALS,
    KITE_MAX_DAYS,
    KiteMarketData,
    RequestRateLimiter,
    request_windows,
)
from strategies.models import Candle, Instrument
from tests.factories import InstrumentFactory
from tests.kite_emulator import KiteEmulator

from .conftest import API_KEY, API_SECRET, USER_ID, kite_account

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")
END = datetime(2026, 3, 4, 11, 0, tzinfo=IST)  # a Wednesday, long past for the emulator's clock
HISTORICAL = "/instruments/historical"


@pytest.fixture
def data_account(kite_settings, emulator):
    emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID)
    account = kite_account(is_data_account=True)
    account.set_access_token(emulator.login(API_KEY), expires_at=timezone.now() + timedelta(hours=12))
    account.save()
    return account


@pytest.fixture
def infy():
    return InstrumentFactory(instrument_token=408065, tradingsymbol="INFY", exchange="NSE")


@pytest.fixture
def source():
    return KiteMarketData(calendar=MarketCalendar())


def historical_requests(emulator, interval=None) -> list:
    prefix = f"{HISTORICAL}/" if interval is None else f"{HISTORICAL}/408065/{interval}"
    return [r for r in emulator.requests if r.path.startswith(prefix)]


def kite_direct(emulator, token, frm, to, interval) -> list[dict]:
    client = KiteConnect(API_KEY, access_token=next(iter(emulator.accounts[API_KEY].access_tokens)), root=emulator.root)
    return client.historical_data(token, frm, to, interval)


@pytest.mark.parametrize("timeframe", list(KITE_INTERVALS))
def test_candles_are_kites_historical_candles(data_account, emulator, infy, source, timeframe):
    frame = source.candles(infy, timeframe, END, 30)

    assert len(frame) == 30
    starts = [ts.to_pydatetime() for ts in frame.index]
    interval = KITE_INTERVALS[timeframe]
    if timeframe == "1d":
        frm, to = f"{starts[0]:%Y-%m-%d} 00:00:00", f"{starts[-1]:%Y-%m-%d} 23:59:59"
    else:
        frm, to = f"{starts[0]:%Y-%m-%d %H:%M:%S}", f"{starts[-1]:%Y-%m-%d %H:%M:%S}"
    kite = kite_direct(emulator, 408065, frm, to, interval)
    assert [c["date"] for c in kite] == starts
    for (_, bar), candle in zip(frame.iterrows(), kite, strict=True):
        assert [bar.open, bar.high, bar.low, bar.close, bar.volume] == [
            candle[k] for k in ("open", "high", "low", "close", "volume")
        ]
    calendar = MarketCalendar()
    assert calendar.bar_close(timeframe, starts[-1]) <= END  # only completed bars
    assert calendar.bar_close(timeframe, starts[-1]) == calendar.last_bar_close(timeframe, END)
    assert Candle.objects.filter(instrument=infy, timeframe=timeframe, source="kite").count() == 30


def test_a_long_history_is_split_by_kites_day_limit(data_account, emulator, infy, source):
    calendar = MarketCalendar()
    count = len(calendar.bar_closes("1m", END - timedelta(days=90), END))  # 90 days of minute bars

    frame = source.candles(infy, "1m", END, count)

    assert len(frame) == count
    requests = historical_requests(emulator, "minute")
    assert len(requests) == 2  # Kite allows 60 days of minute candles per request
    for request in requests:
        frm = datetime.strptime(request.params["from"], "%Y-%m-%d %H:%M:%S")
        to = datetime.strptime(request.params["to"], "%Y-%m-%d %H:%M:%S")
        assert (to - frm).days <= KITE_MAX_DAYS["minute"]


def test_the_cache_fetches_only_the_new_bars(data_account, emulator, infy, source):
    source.candles(infy, "5m", END, 50)
    assert len(historical_requests(emulator)) == 1

    assert len(source.candles(infy, "5m", END, 50)) == 50  # nothing new: no request
    assert len(historical_requests(emulator)) == 1

    next_bar = END + timedelta(minutes=5)
    frame = source.candles(infy, "5m", next_bar, 50)
    requests = historical_requests(emulator)
    assert len(requests) == 2
    assert requests[-1].params["from"] == requests[-1].params["to"] == "2026-03-04 11:00:00"  # the one new bar
    assert frame.index[-1] == datetime(2026, 3, 4, 11, 0, tzinfo=IST)

    longer = source.candles(infy, "5m", next_bar, 80)  # deeper history: only the older bars are fetched
    assert len(longer) == 80
    requests = historical_requests(emulator)
    assert len(requests) == 3
    assert requests[-1].params["to"] < f"{frame.index[0]:%Y-%m-%d %H:%M:%S}"


def test_a_gap_in_the_cache_is_filled(data_account, emulator, infy, source):
    source.candles(infy, "15m", END - timedelta(days=2), 10)
    source.candles(infy, "15m", END, 3)
    frame = source.candles(infy, "15m", END, 60)  # spans both stored runs and the gap between them
    assert len(frame) == 60
    expected = MarketCalendar().bar_starts_before("15m", END, 60)
    assert [ts.to_pydatetime() for ts in frame.index] == expected


@pytest.mark.django_db(transaction=True)  # the fetching threads read committed rows
def test_kite_stays_under_three_historical_requests_a_second(kite_settings, infy):
    with KiteEmulator(rate_limits_enabled=True) as emulator:
        kite_settings.KITE_API_ROOT = emulator.root
        emulator.add_account(api_key=API_KEY, api_secret=API_SECRET, user_id=USER_ID)
        account = kite_account(is_data_account=True)
        account.set_access_token(emulator.login(API_KEY), expires_at=timezone.now() + timedelta(hours=12))
        account.save()
        source = KiteMarketData(calendar=MarketCalendar())
        ends = [END - timedelta(days=7 * week) for week in range(8)]  # 8 separate fetches

        def fetch(end):
            try:
                source.candles(infy, "15m", end, 5)
            finally:
                connection.close()  # a thread's own connection would keep the test database open

        threads = [threading.Thread(target=fetch, args=(end,), daemon=True) for end in ends[:4]]
        for thread in threads:
            thread.start()
        for end in ends[4:]:
            source.candles(infy, "15m", end, 5)
        for thread in threads:
            thread.join(timeout=30)

        times = sorted(r.time for r in emulator.requests if r.path.startswith(HISTORICAL))
        assert len(times) == 8
        assert emulator.count_requests(status=429) == 0
        assert all(times[i + 3] - times[i] >= 1.0 for i in range(len(times) - 3))


def test_the_limiter_allows_at_most_limit_calls_in_any_window():
    # The moments the limiter let each call go, as it returns them: a moment taken by the caller
    # afterwards says when that thread next ran, which on a loaded machine can be any time later.
    limiter = RequestRateLimiter(3, 0.2, margin=0)
    stamps = []
    lock = threading.Lock()

    def call():
        let_go = limiter.acquire()
        with lock:
            stamps.append(let_go)

    threads = [threading.Thread(target=call) for _ in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 9
    assert all(stamps[i + 3] - stamps[i] >= 0.2 for i in range(len(stamps) - 3))


def test_the_limiter_waits_no_longer_than_the_window_needs():
    # On a clock of its own: the waits are exact, whatever else the machine is doing.
    clock = [100.0]
    limiter = RequestRateLimiter(
        3, 0.2, margin=0.05, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s)
    )

    let_go = [limiter.acquire() - 100.0 for _ in range(9)]

    assert let_go == pytest.approx([0, 0, 0, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5])


@pytest.mark.parametrize("interval", list(KITE_MAX_DAYS))
def test_request_windows_cover_the_range_within_the_day_limit(interval):
    first, last = datetime(2024, 1, 1, 9, 15, tzinfo=IST), datetime(2026, 3, 4, 15, 29, tzinfo=IST)
    windows = list(request_windows(interval, first, last))
    parsed = [
        (datetime.strptime(f, "%Y-%m-%d %H:%M:%S"), datetime.strptime(t, "%Y-%m-%d %H:%M:%S")) for f, t in windows
    ]
    assert all((to - frm).days <= KITE_MAX_DAYS[interval] for frm, to in parsed)
    step = timedelta(days=1) if interval == "day" else timedelta(minutes=1)
    for (_, to), (frm, _) in zip(parsed, parsed[1:], strict=False):
        assert frm - to <= step and frm > to  # contiguous, no overlap
    assert parsed[0][0].date() == first.date() and parsed[-1][1].date() == last.date()


def test_last_prices_come_in_one_batched_call(data_account, emulator, infy, source):
    sbin = InstrumentFactory(instrument_token=779521, tradingsymbol="SBIN", exchange="NSE")
    emulator.set_ltp("NSE:INFY", Decimal("1512.35"))

    prices = source.ltp([infy, sbin])

    assert prices == {408065: Decimal("1512.35"), 779521: emulator.ltp("NSE:SBIN")}
    assert emulator.count_requests(path="/quote/ltp") == 1


def test_no_data_account_is_a_clear_error(kite_settings, infy, source):
    with pytest.raises(MarketDataUnavailable, match="No Kite data account"):
        source.candles(infy, "5m", END, 10)


def test_a_data_account_not_logged_in_is_a_clear_error(kite_settings, emulator, infy, source):
    kite_account(is_data_account=True)
    with pytest.raises(MarketDataUnavailable, match="not logged in to Kite today"):
        source.ltp([infy])


def test_an_expired_session_marks_the_data_account_needs_login(data_account, emulator, infy, source):
    emulator.expire_token(API_KEY)
    with pytest.raises(MarketDataUnavailable, match="session has ended"):
        source.candles(infy, "5m", END, 10)
    data_account.refresh_from_db()
    assert data_account.status == AccountStatus.NEEDS_LOGIN and not data_account.is_logged_in


def test_cached_candles_are_served_without_a_session(data_account, emulator, infy, source):
    source.candles(infy, "1h", END, 20)
    emulator.expire_token(API_KEY)
    assert len(source.candles(infy, "1h", END, 20)) == 20


def test_the_configured_source_is_kite(settings):
    from strategies.selectors import market_data_source

    settings.MARKET_DATA_SOURCE = "kite"
    source = market_data_source()
    assert isinstance(source, KiteMarketData) and source.label == "kite" and source.follows_exchange_calendar


def test_sync_instruments_loads_kites_instrument_list(data_account, emulator):
    call_command("sync_instruments", "--exchange", "NSE", stdout=open("/dev/null", "w"))

    expected = {(i.instrument_token, i.tradingsymbol, i.lot_size, i.tick_size) for i in emulator.instruments.all("NSE")}
    stored = set(Instrument.objects.values_list("instrument_token", "tradingsymbol", "lot_size", "tick_size"))
    assert stored == expected
    infy = Instrument.objects.get(tradingsymbol="INFY")
    assert (infy.instrument_token, infy.exchange, infy.segment) == (408065, "NSE", "NSE")
    assert emulator.count_requests(path="/instruments/NSE") == 1

    call_command("sync_instruments", "--exchange", "NSE", stdout=open("/dev/null", "w"))  # idempotent
    assert Instrument.objects.count() == len(expected)


def test_sync_instruments_without_a_data_account_says_so(kite_settings):
    with pytest.raises(CommandError, match="No Kite data account"):
        call_command("sync_instruments", "--exchange", "NSE")

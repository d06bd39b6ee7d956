"""Market data from Kite Connect: historical candles (cached in the database) and live prices.

Every call goes through the designated data account's session (``Account.is_data_account``).
Candles are stored as ``Candle`` rows with ``source="kite"``; a request for the last ``count`` bars
fetches only the bars the database does not hold yet, so each new bar costs one small request.
Kite stamps candles with their start in IST ("+0530"); day candles at 00:00.

Kite allows 3 historical requests and 1 quote request per second per app: a process-wide limiter
keeps this process under both, and a 429 (another process got there first) is waited out and
retried, which is safe for reads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import requests
from kiteconnect import exceptions as kite_exceptions

from strategies.calendar import KOLKATA, TIMEFRAME_MINUTES, MarketCalendar, to_market_time

from .base import InstrumentLike, MarketDataSource, MarketDataUnavailable
from .database import DatabaseMarketData

logger = logging.getLogger(__name__)

CANDLE_SOURCE = "kite"
#: Our timeframe -> Kite's historical interval.
KITE_INTERVALS = {"1m": "minute", "5m": "5minute", "15m": "15minute", "1h": "60minute", "1d": "day"}
#: Most days one historical request may span, per Kite interval.
KITE_MAX_DAYS = {"minute": 60, "5minute": 100, "15minute": 200, "60minute": 400, "day": 2000}
KITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
LTP_BATCH = 1000  # instruments per /quote/ltp call
RETRIES_AFTER_429 = 3
# Kite publishes only the live price: an ``at`` further back than this cannot be answered.
LIVE_PRICE_TOLERANCE = timedelta(seconds=60)


class RequestRateLimiter:
    """At most ``limit`` calls in any ``period`` seconds, across every thread of this process.

    ``margin`` widens the window: Kite counts requests when they arrive, not when this lets them go,
    and on a busy host a thread can wait that long between the two (0.05 s let a 429 through
    while the test suite loaded both cores).
    """

    def __init__(
        self,
        limit: int,
        period: float = 1.0,
        *,
        margin: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.period = period + margin
        self._sent: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def acquire(self) -> float:
        """Wait for a free slot; returns the moment (``clock``) the call was let go."""
        with self._lock:  # waiters queue on the lock, so they go out in turn
            now = self._clock()
            # Until the oldest of the last ``limit`` calls is a whole period back (a sleep may end a
            # hair early in floating point).
            while len(self._sent) == self.limit and (wait := self._sent[0] + self.period - now) > 0:
                self._sleep(wait)
                now = self._clock()
            self._sent.append(now)
            return now


# Kite's limits per app: historical 3/s, quote 1/s, everything else 10/s.
HISTORICAL_LIMITER = RequestRateLimiter(3)
QUOTE_LIMITER = RequestRateLimiter(1)
OTHER_LIMITER = RequestRateLimiter(10)


def request_windows(interval: str, first: datetime, last: datetime) -> Iterator[tuple[str, str]]:
    """(from, to) pairs covering bar starts ``first``..``last``, each within Kite's day limit for ``interval``.

    Times are IST wall-clock strings as Kite takes them; day candles are asked for by whole days.
    """
    limit = KITE_MAX_DAYS[interval]
    first, last = to_market_time(first), to_market_time(last)
    if interval == "day":
        day, last_day = first.date(), last.date()
        while day <= last_day:
            stop = min(day + timedelta(days=limit - 1), last_day)
            yield f"{day:%Y-%m-%d} 00:00:00", f"{stop:%Y-%m-%d} 23:59:59"
            day = stop + timedelta(days=1)
        return
    step = timedelta(minutes=1)
    start = first
    while start <= last:
        stop = min(start + timedelta(days=limit) - step, last)
        yield start.strftime(KITE_TIME_FORMAT), stop.strftime(KITE_TIME_FORMAT)
        start = stop + step


def _kite_start(timeframe: str, start: datetime) -> datetime:
    """A bar start as Kite stamps it: day candles at 00:00 IST, others at the bar's start."""
    start = to_market_time(start)
    return start.replace(hour=0, minute=0, second=0, microsecond=0) if timeframe == "1d" else start


class KiteMarketData(MarketDataSource):
    label = "kite"

    def __init__(self, calendar: MarketCalendar | None = None) -> None:
        self.calendar = calendar if calendar is not None else MarketCalendar()
        self.follows_exchange_calendar = not self.calendar.around_the_clock
        self._store = DatabaseMarketData(calendar=self.calendar, candle_source=CANDLE_SOURCE)
        # Bars Kite was asked for and has none of (no trade in that minute): not asked for again
        # by this process. The newest bar is never remembered as absent: it may just be late.
        self._absent: set[tuple[int, str, datetime]] = set()
        self._absent_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<KiteMarketData {self.calendar!r}>"

    # ------------------------------------------------------------------ candles

    def candles(self, instrument: InstrumentLike, timeframe: str, end: datetime, count: int) -> pd.DataFrame:
        if timeframe not in TIMEFRAME_MINUTES:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        if count > 0:
            starts = self.calendar.bar_starts_before(timeframe, end, count)
            if starts:
                self._fetch_missing(instrument, timeframe, [_kite_start(timeframe, s) for s in starts])
        return self._store.candles(instrument, timeframe, end, count)

    def _fetch_missing(self, instrument: InstrumentLike, timeframe: str, expected: list[datetime]) -> None:
        from strategies.models import Candle, Instrument

        row = Instrument.objects.filter(instrument_token=instrument.instrument_token).first()
        if row is None:
            raise MarketDataUnavailable(
                f"{_name(instrument)} is not in the instrument list: run manage.py sync_instruments"
            )
        stored = {
            to_market_time(start)
            for start in Candle.objects.filter(
                instrument=row,
                timeframe=timeframe,
                source=CANDLE_SOURCE,
                start__gte=expected[0],
                start__lte=expected[-1],
            ).values_list("start", flat=True)
        }
        token = int(row.instrument_token)
        missing = [s for s in expected if s not in stored and (token, timeframe, s) not in self._absent]
        if not missing:
            return
        # One range from the first missing bar to the last: a gap is filled by the same requests.
        received = self._fetch_range(row, timeframe, missing[0], missing[-1])
        newest = expected[-1]
        with self._absent_lock:
            if len(self._absent) > 200_000:
                self._absent.clear()
            self._absent.update((token, timeframe, s) for s in missing if s not in received and s != newest)
        if newest not in stored and newest not in received:
            raise MarketDataUnavailable(
                f"Kite has no {timeframe} candle for {_name(row)} starting {newest:%Y-%m-%d %H:%M} yet"
            )

    def _fetch_range(self, instrument, timeframe: str, first: datetime, last: datetime) -> set[datetime]:
        """Fetch bar starts ``first``..``last`` from Kite and store them; returns the starts received."""
        from strategies.models import Candle

        interval = KITE_INTERVALS[timeframe]
        account, client = data_session()
        received: set[datetime] = set()
        for frm, to in request_windows(interval, first, last):
            rows = kite_read(
                account,
                HISTORICAL_LIMITER,
                f"historical {interval} candles of {_name(instrument)} from {frm} to {to}",
                lambda frm=frm, to=to: client.historical_data(instrument.instrument_token, frm, to, interval),
            )
            candles = [_candle(instrument, timeframe, r) for r in rows]
            Candle.objects.bulk_create(
                candles,
                update_conflicts=True,
                unique_fields=["instrument", "timeframe", "start"],
                update_fields=["open", "high", "low", "close", "volume", "source"],
            )
            received.update(c.start for c in candles)
        logger.info("kite: %d %s candles of %s from %s", len(received), timeframe, _name(instrument), first)
        return received

    # ------------------------------------------------------------------ prices

    def ltp(self, instruments: list[InstrumentLike], at: datetime | None = None) -> dict[int, Decimal]:
        if at is not None and abs(to_market_time(at) - datetime.now(KOLKATA)) > LIVE_PRICE_TOLERANCE:
            raise MarketDataUnavailable(f"Kite gives only live prices, not prices as of {at.isoformat()}")
        if not instruments:
            return {}
        tokens = {f"{i.exchange}:{i.tradingsymbol}": int(i.instrument_token) for i in instruments}
        keys = list(tokens)
        account, client = data_session()
        quotes: dict = {}
        for lo in range(0, len(keys), LTP_BATCH):
            batch = keys[lo : lo + LTP_BATCH]
            quotes.update(kite_read(account, QUOTE_LIMITER, "last prices", lambda b=batch: client.ltp(b)))
        out: dict[int, Decimal] = {}
        missing = []
        for key, token in tokens.items():
            price = (quotes.get(key) or {}).get("last_price")
            if price is None:
                missing.append(key)
            else:
                out[token] = Decimal(str(price))
        if missing:
            raise MarketDataUnavailable(f"Kite returned no last price for {', '.join(missing)}")
        return out


def data_session():
    """(account, client) of the designated data account, or MarketDataUnavailable saying what to do."""
    from accounts.crypto import SecretDecryptionError
    from accounts.kite import kite_client
    from accounts.selectors import data_account

    account = data_account()
    if account is None:
        raise MarketDataUnavailable(
            "No Kite data account: tick “is data account” on one Kite account in the admin "
            "(MARKET_DATA_SOURCE=kite fetches market data through its session)"
        )
    if not account.is_logged_in:
        raise MarketDataUnavailable(
            f"The data account {account.name} is not logged in to Kite today: log it in on the Kite logins page"
        )
    try:
        return account, kite_client(account)
    except SecretDecryptionError as exc:
        raise MarketDataUnavailable(f"The data account's access token cannot be read: {exc}")


def kite_read(account, limiter: RequestRateLimiter, what: str, call: Callable):
    """One Kite read under ``limiter``; a 429 is waited out and retried, other failures explained."""
    from accounts.services import account_mark_needs_login

    for attempt in range(RETRIES_AFTER_429 + 1):
        limiter.acquire()
        try:
            return call()
        except kite_exceptions.TokenException as exc:
            account_mark_needs_login(account=account, reason=str(exc))
            raise MarketDataUnavailable(
                f"The data account {account.name}'s Kite session has ended ({exc}): log it in again"
            )
        except kite_exceptions.NetworkException as exc:
            if exc.code != 429 or attempt == RETRIES_AFTER_429:
                raise MarketDataUnavailable(f"Kite could not serve {what}: {exc}")
            time.sleep(1.0 + attempt)
        except (kite_exceptions.KiteException, requests.RequestException) as exc:
            raise MarketDataUnavailable(f"Kite could not serve {what}: {exc}")
    raise AssertionError("unreachable")


def fetch_instruments(exchange: str | None = None) -> list[dict]:
    """Kite's instrument list (every exchange, or one) through the data account's session."""
    account, client = data_session()
    what = f"the {exchange or 'full'} instrument list"
    return kite_read(account, OTHER_LIMITER, what, lambda: client.instruments(exchange))


def _candle(instrument, timeframe: str, row: dict):
    from strategies.models import Candle

    start = row["date"]
    if isinstance(start, date) and not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), KOLKATA)
    return Candle(
        instrument=instrument,
        timeframe=timeframe,
        start=to_market_time(start),
        open=Decimal(str(row["open"])),
        high=Decimal(str(row["high"])),
        low=Decimal(str(row["low"])),
        close=Decimal(str(row["close"])),
        volume=int(row["volume"]),
        source=CANDLE_SOURCE,
    )


def _name(instrument) -> str:
    return f"{getattr(instrument, 'exchange', '?')}:{getattr(instrument, 'tradingsymbol', '?')}"

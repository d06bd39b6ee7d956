"""A deterministic simulated market: plausible OHLCV for any instrument, any time.

Each trading day's 1-minute path is generated from a random generator seeded by
(seed, instrument_token, date), so the same instrument and bar always give the same numbers,
whatever ``end``/``count`` is asked and in whatever process. Higher timeframes aggregate the
1-minute bars (open first, high max, low min, close last, volume sum).

The day's path is a geometric random walk with a persistent (AR(1)) drift, so trends and
reversals alternate every few dozen bars, bridged from the day's open to a close near the next
day's level. Day levels come from a smooth deterministic function of the date (no chain from
one day to the next), so any day can be generated on its own. Prices are rounded to the
instrument's tick size; NSE-mode volume is U-shaped over the session.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from strategies.calendar import KOLKATA, TIMEFRAME_MINUTES, MarketCalendar, to_market_time

from .base import Candles, InstrumentLike, MarketDataSource, MarketDataUnavailable

DEFAULT_SEED = 20260101
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
_NS_PER_MINUTE = 60_000_000_000
_EPOCH = date(1970, 1, 1)


class _LRU:
    """A small thread-safe LRU cache."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class _DayBars:
    """One session's bars of one timeframe as arrays (starts in ns since epoch, UTC)."""

    __slots__ = ("starts_ns", "open", "high", "low", "close", "volume")

    def __init__(self, starts_ns, open_, high, low, close, volume) -> None:
        self.starts_ns = starts_ns
        self.open = open_
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    def __len__(self) -> int:
        return len(self.starts_ns)


def _tick_of(instrument: InstrumentLike) -> tuple[float, int]:
    tick = getattr(instrument, "tick_size", None)
    try:
        tick_dec = Decimal(str(tick)) if tick is not None else Decimal("0.05")
    except ArithmeticError:
        tick_dec = Decimal("0.05")
    if tick_dec <= 0:
        tick_dec = Decimal("0.05")
    decimals = max(0, -tick_dec.normalize().as_tuple().exponent)
    return float(tick_dec), int(decimals)


def _round_to_tick(values: np.ndarray, tick: float, decimals: int) -> np.ndarray:
    return np.round(np.round(values / tick) * tick, decimals)


class SimulatedMarketData(MarketDataSource):
    label = "simulated"

    def __init__(
        self,
        calendar: MarketCalendar | None = None,
        seed: int = DEFAULT_SEED,
        *,
        minute_cache_size: int = 256,
        bar_cache_size: int = 4096,
        daily_cache_size: int = 50_000,
    ) -> None:
        self.calendar = calendar if calendar is not None else MarketCalendar(around_the_clock=True)
        self.seed = int(seed)
        self.follows_exchange_calendar = not self.calendar.around_the_clock
        self._minute_cache = _LRU(minute_cache_size)
        self._bar_cache = _LRU(bar_cache_size)
        self._daily_cache = _LRU(daily_cache_size)
        self._profiles: dict[int, tuple[float, float, tuple[float, float, float]]] = {}
        n = self.calendar.session_minutes
        x = (np.arange(n) + 0.5) / n
        if self.calendar.around_the_clock:
            self._vol_shape = np.ones(n)
            self._volume_shape = 0.8 + 0.4 * np.sin(2 * np.pi * x) ** 2
            self._sigma = 0.0004
        else:
            u = (2 * x - 1) ** 2
            self._vol_shape = 0.75 + 0.9 * u
            self._volume_shape = 0.45 + 2.2 * u**2
            self._sigma = 0.0006

    def __repr__(self) -> str:
        return f"<SimulatedMarketData seed={self.seed} {self.calendar!r}>"

    # ------------------------------------------------------------------ generation

    def _profile(self, token: int) -> tuple[float, float, tuple[float, float, float]]:
        """(base price, base volume per minute, phases) for an instrument token."""
        profile = self._profiles.get(token)
        if profile is None:
            rng = np.random.default_rng([self.seed, token, 0])
            base = math.exp(rng.uniform(math.log(80.0), math.log(3500.0)))
            volume = math.exp(rng.uniform(math.log(300.0), math.log(30000.0)))
            phases = tuple(float(p) for p in rng.uniform(0, 2 * np.pi, size=3))
            profile = (base, volume, phases)
            self._profiles[token] = profile
        return profile

    def _log_level(self, token: int, d: date) -> float:
        """A smooth deterministic log price level for an instrument on a date."""
        base, _, (p1, p2, p3) = self._profile(token)
        t = (d - _EPOCH).days
        return (
            math.log(base)
            + 0.12 * math.sin(2 * math.pi * t / 173.0 + p1)
            + 0.06 * math.sin(2 * math.pi * t / 41.0 + p2)
            + 0.015 * math.sin(2 * math.pi * t / 11.0 + p3)
        )

    def _minute_day(self, token: int, d: date, tick: float, decimals: int, store: bool = True) -> _DayBars:
        key = (token, d, tick)
        cached = self._minute_cache.get(key)
        if cached is not None:
            return cached
        n = self.calendar.session_minutes
        rng = np.random.default_rng([self.seed, token, 1, d.toordinal()])
        _, base_volume, _ = self._profile(token)
        sigma = self._sigma

        noise = rng.standard_normal(n)
        innovations = rng.standard_normal(n)
        gap = rng.normal(0.0, 0.004)
        close_noise = rng.normal(0.0, 0.006)
        wick_hi = np.abs(rng.normal(0.0, 0.45 * sigma, n))
        wick_lo = np.abs(rng.normal(0.0, 0.45 * sigma, n))
        volume_noise = rng.lognormal(0.0, 0.35, n)

        # Persistent drift regimes: AR(1), stationary std about a quarter of the noise.
        phi = 0.97
        drift_innov = innovations * (0.25 * sigma * math.sqrt(1 - phi * phi))
        drift = _ar1(drift_innov, phi, rng.normal(0.0, 0.25 * sigma))
        returns = drift + sigma * self._vol_shape * noise
        walk = np.cumsum(returns)

        # Bridge: from the day's open to a close near the next day's level.
        log_open = self._log_level(token, d) + gap
        log_target = self._log_level(token, d + timedelta(days=1)) + close_noise
        ramp = np.arange(1, n + 1) / n
        log_close = log_open + walk - ramp * (walk[-1] - (log_target - log_open))

        closes = np.exp(log_close)
        opens = np.empty(n)
        opens[0] = math.exp(log_open)
        opens[1:] = closes[:-1]
        highs = np.maximum(opens, closes) * (1.0 + wick_hi)
        lows = np.minimum(opens, closes) * (1.0 - wick_lo)

        opens = _round_to_tick(opens, tick, decimals)
        closes = _round_to_tick(closes, tick, decimals)
        highs = np.maximum(_round_to_tick(highs, tick, decimals), np.maximum(opens, closes))
        lows = np.minimum(_round_to_tick(lows, tick, decimals), np.minimum(opens, closes))
        lows = np.maximum(lows, tick)

        move = np.abs(returns) / sigma
        volumes = np.round(base_volume * self._volume_shape * volume_noise * (0.7 + 0.3 * move))
        volumes = np.maximum(volumes, 1.0)

        session_open, _ = self.calendar.session_bounds(d)
        open_ns = int(session_open.timestamp()) * 1_000_000_000
        starts = open_ns + np.arange(n, dtype=np.int64) * _NS_PER_MINUTE
        bars = _DayBars(starts, opens, highs, lows, closes, volumes.astype(np.float64))
        for arr in (bars.starts_ns, bars.open, bars.high, bars.low, bars.close, bars.volume):
            arr.setflags(write=False)
        if store:
            self._minute_cache.put(key, bars)
        return bars

    def _daily_row(self, token: int, d: date, tick: float, decimals: int) -> tuple[float, ...]:
        """(start_ns, open, high, low, close, volume) of one day's 1d bar."""
        key = (token, d, tick)
        row = self._daily_cache.get(key)
        if row is None:
            # Daily history reaches far back: do not let it evict the hot intraday days.
            m = self._minute_day(token, d, tick, decimals, store=False)
            row = (
                float(m.starts_ns[0]),
                float(m.open[0]),
                float(m.high.max()),
                float(m.low.min()),
                float(m.close[-1]),
                float(m.volume.sum()),
            )
            self._daily_cache.put(key, row)
        return row

    def _day_bars(self, token: int, timeframe: str, d: date, tick: float, decimals: int) -> _DayBars:
        if timeframe == "1m":
            return self._minute_day(token, d, tick, decimals)
        key = (token, timeframe, d, tick)
        cached = self._bar_cache.get(key)
        if cached is not None:
            return cached
        m = self._minute_day(token, d, tick, decimals)
        minutes = TIMEFRAME_MINUTES[timeframe]
        n = len(m)
        idx = np.arange(0, n, minutes)  # bar i covers minutes idx[i] .. idx[i+1]-1
        ends = np.append(idx[1:], n) - 1
        bars = _DayBars(
            m.starts_ns[idx],
            m.open[idx],
            np.maximum.reduceat(m.high, idx),
            np.minimum.reduceat(m.low, idx),
            m.close[ends],
            np.add.reduceat(m.volume, idx),
        )
        self._bar_cache.put(key, bars)
        return bars

    # ------------------------------------------------------------------ interface

    def candles(self, instrument: InstrumentLike, timeframe: str, end: datetime, count: int) -> pd.DataFrame:
        found = self._arrays(instrument, timeframe, end, count)
        return _empty_frame() if found is None else _frame(*found)

    def candle_arrays(
        self, instruments: Sequence[InstrumentLike], timeframe: str, end: datetime, counts: Mapping[int, int]
    ) -> dict[int, Candles | str]:
        # The caches hold a session per (instrument, day): make room for every instrument asked
        # for over the days a look-back spans, or every fetch above the cache's size misses.
        self.reserve(len(instruments))
        out: dict[int, Candles | str] = {}
        for instrument in instruments:
            token = int(instrument.instrument_token)
            found = self._arrays(instrument, timeframe, end, counts[token])
            if found is None:
                out[token] = "no simulated session before the bar"
            else:
                starts, cols = found
                out[token] = Candles(starts, *(cols[name] for name in CANDLE_COLUMNS))
        return out

    def reserve(self, instruments: int, days: int = 3) -> None:
        """Grow the session caches to hold ``days`` sessions of ``instruments`` instruments."""
        wanted = instruments * days
        for cache in (self._minute_cache, self._bar_cache):
            cache.maxsize = max(cache.maxsize, wanted)

    def _arrays(self, instrument: InstrumentLike, timeframe: str, end: datetime, count: int):
        """(bar starts in ns, {column: float64 array}) of the last ``count`` bars, or None."""
        if timeframe not in TIMEFRAME_MINUTES:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        token = int(instrument.instrument_token)
        tick, decimals = _tick_of(instrument)
        cal = self.calendar
        last_close = cal.last_bar_close(timeframe, end) if count > 0 else None
        if last_close is None:
            return None

        d = cal.session_date_of_close(last_close)
        if timeframe == "1d":
            return self._daily_arrays(token, d, count, tick, decimals)
        session_open, _ = cal.session_bounds(d)
        minutes = TIMEFRAME_MINUTES[timeframe]
        elapsed = int((last_close - session_open) // timedelta(minutes=1))
        n_done = -(-elapsed // minutes)
        chunks: list[tuple[_DayBars, int, int]] = []
        remaining = count
        while True:
            bars = self._day_bars(token, timeframe, d, tick, decimals)
            take = min(remaining, n_done)
            chunks.append((bars, n_done - take, n_done))
            remaining -= take
            if remaining <= 0:
                break
            d = cal.previous_trading_day(d)
            n_done = len(self._day_bars(token, timeframe, d, tick, decimals))
        chunks.reverse()
        if len(chunks) == 1:
            bars, lo, hi = chunks[0]
            cols = {name: np.array(getattr(bars, name)[lo:hi], dtype=np.float64) for name in CANDLE_COLUMNS}
            starts = np.array(bars.starts_ns[lo:hi])
        else:
            cols = {
                name: np.concatenate([getattr(b, name)[lo:hi] for b, lo, hi in chunks]).astype(np.float64)
                for name in CANDLE_COLUMNS
            }
            starts = np.concatenate([b.starts_ns[lo:hi] for b, lo, hi in chunks])
        return starts, cols

    def _daily_arrays(self, token: int, last_day: date, count: int, tick: float, decimals: int):
        days = [last_day]
        d = last_day
        while len(days) < count:
            d = self.calendar.previous_trading_day(d)
            days.append(d)
        days.reverse()
        rows = np.array([self._daily_row(token, day, tick, decimals) for day in days], dtype=np.float64)
        cols = {name: np.ascontiguousarray(rows[:, i + 1]) for i, name in enumerate(CANDLE_COLUMNS)}
        return rows[:, 0].astype(np.int64), cols

    def ltp(self, instruments: list[InstrumentLike], at: datetime | None = None) -> dict[int, Decimal]:
        at = to_market_time(at) if at is not None else datetime.now(KOLKATA)
        out: dict[int, Decimal] = {}
        for instrument in instruments:
            token = int(instrument.instrument_token)
            tick, decimals = _tick_of(instrument)
            price = self._price_at(token, at, tick, decimals)
            out[token] = Decimal(f"{price:.{decimals}f}")
        return out

    def _price_at(self, token: int, at: datetime, tick: float, decimals: int) -> float:
        cal = self.calendar
        if cal.is_open(at):
            d = at.date()
            session_open, _ = cal.session_bounds(d)
            bars = self._minute_day(token, d, tick, decimals)
            elapsed = (at - session_open).total_seconds()
            i = min(int(elapsed // 60), len(bars) - 1)
            frac = (elapsed - 60 * i) / 60.0
            o, c = bars.open[i], bars.close[i]
            return float(_round_to_tick(np.array([o + (c - o) * frac]), tick, decimals)[0])
        last_close = cal.last_bar_close("1m", at)
        if last_close is None:
            raise MarketDataUnavailable(f"no simulated session before {at.isoformat()}")
        d = cal.session_date_of_close(last_close)
        return float(self._minute_day(token, d, tick, decimals).close[-1])

    def clear_cache(self) -> None:
        self._minute_cache.clear()
        self._bar_cache.clear()
        self._daily_cache.clear()


def _ar1(innovations: np.ndarray, phi: float, initial: float, block: int = 256) -> np.ndarray:
    """y[t] = phi * y[t-1] + innovations[t] with y[-1] = initial, vectorised in blocks."""
    n = len(innovations)
    out = np.empty(n)
    k = np.arange(block)
    up, down = phi**k, phi ** (-k)
    carry = initial
    for lo in range(0, n, block):
        x = innovations[lo : lo + block]
        m = len(x)
        y = up[:m] * (phi * carry + np.cumsum(x * down[:m]))
        out[lo : lo + m] = y
        carry = y[-1]
    return out


def _frame(starts_ns: np.ndarray, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    index = pd.DatetimeIndex(starts_ns.astype("datetime64[ns]"), name="start").tz_localize("UTC")
    return pd.DataFrame(cols, index=index.tz_convert(KOLKATA), columns=list(CANDLE_COLUMNS))


def _empty_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], dtype="datetime64[ns, Asia/Kolkata]", name="start")
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in CANDLE_COLUMNS}, index=index)

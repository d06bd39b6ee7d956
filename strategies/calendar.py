"""The market calendar: trading days, session hours and where bars open and close.

Two modes:

* NSE (default): session 09:15 to 15:30 Asia/Kolkata, Monday to Friday, less the holidays given.
  Bars are anchored at the session open: 1m/5m/15m bars close every N minutes from 09:15 + N
  up to 15:30; 1h bars close at 10:15, 11:15, ... 15:15 and a short last bar at 15:30; the
  1d bar opens at 09:15 and closes at 15:30.
* Around the clock (the embedded demo's simulated market): every calendar day is a trading
  day, the session runs 00:00 to 24:00 (the next day's midnight) and bars are anchored at
  00:00; 1h bars close on each whole hour and the 1d bar closes at midnight. Holidays are
  ignored in this mode.

This module is pure Python: it takes plain inputs (the holiday dates) and never reads the
database. Every datetime it takes must be tz-aware (any zone); every datetime it returns is
in Asia/Kolkata. Asia/Kolkata has no daylight saving, so wall-clock arithmetic is exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

KOLKATA = ZoneInfo("Asia/Kolkata")

#: Bar length in minutes per timeframe. For "1d" this is the nominal length; in NSE mode the
#: daily bar covers the session (375 minutes).
TIMEFRAME_MINUTES: dict[str, int] = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "1d": 1440}
TIMEFRAMES: tuple[str, ...] = tuple(TIMEFRAME_MINUTES)

NSE_OPEN = time(9, 15)
NSE_CLOSE = time(15, 30)

#: How far (in calendar days) a search for a trading day may go before giving up.
_MAX_SEARCH_DAYS = 3660
_EPSILON = timedelta(microseconds=1)


def to_market_time(dt: datetime) -> datetime:
    """Convert a tz-aware datetime (any zone, or a pandas Timestamp) to Asia/Kolkata."""
    if hasattr(dt, "to_pydatetime"):
        dt = dt.to_pydatetime()
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: market times must be tz-aware")
    return dt.astimezone(KOLKATA)


def _check_timeframe(timeframe: str) -> int:
    try:
        return TIMEFRAME_MINUTES[timeframe]
    except KeyError:
        expected = ", ".join(TIMEFRAMES)
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of {expected}") from None


@lru_cache(maxsize=64)
def _close_offsets(session_minutes: int, bar_minutes: int) -> tuple[int, ...]:
    """Minutes after the session open at which bars close: every bar_minutes, then the session close."""
    offsets = list(range(bar_minutes, session_minutes, bar_minutes))
    offsets.append(session_minutes)
    return tuple(offsets)


class MarketCalendar:
    def __init__(self, holidays: Iterable[date] = frozenset(), around_the_clock: bool = False) -> None:
        self.holidays: frozenset[date] = frozenset(holidays)
        self.around_the_clock = bool(around_the_clock)
        self.tz = KOLKATA

    def __repr__(self) -> str:
        mode = "around the clock" if self.around_the_clock else f"NSE, {len(self.holidays)} holidays"
        return f"<MarketCalendar {mode}>"

    # ------------------------------------------------------------------ days and sessions

    @property
    def session_minutes(self) -> int:
        """Length of one session in minutes (375 for NSE, 1440 around the clock)."""
        return 1440 if self.around_the_clock else 375

    def is_trading_day(self, d: date) -> bool:
        if isinstance(d, datetime):
            d = to_market_time(d).date()
        if self.around_the_clock:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        for _ in range(_MAX_SEARCH_DAYS):
            d = d - timedelta(days=1)
            if self.is_trading_day(d):
                return d
        raise ValueError(f"no trading day within {_MAX_SEARCH_DAYS} days before {d}")

    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after ``d``."""
        for _ in range(_MAX_SEARCH_DAYS):
            d = d + timedelta(days=1)
            if self.is_trading_day(d):
                return d
        raise ValueError(f"no trading day within {_MAX_SEARCH_DAYS} days after {d}")

    def _bounds(self, d: date) -> tuple[datetime, datetime]:
        if self.around_the_clock:
            start = datetime(d.year, d.month, d.day, tzinfo=KOLKATA)
            return start, start + timedelta(days=1)
        return (
            datetime.combine(d, NSE_OPEN, tzinfo=KOLKATA),
            datetime.combine(d, NSE_CLOSE, tzinfo=KOLKATA),
        )

    def session_bounds(self, d: date) -> tuple[datetime, datetime]:
        """(open, close) of the session on trading day ``d``; ValueError if ``d`` is not one."""
        if not self.is_trading_day(d):
            raise ValueError(f"{d} is not a trading day")
        return self._bounds(d)

    def is_open(self, at: datetime) -> bool:
        at = to_market_time(at)
        if self.around_the_clock:
            return True
        d = at.date()
        if not self.is_trading_day(d):
            return False
        opens, closes = self._bounds(d)
        return opens <= at < closes

    def session_date_of_close(self, bar_close: datetime) -> date:
        """The trading day whose session a bar closing at ``bar_close`` belongs to."""
        return (to_market_time(bar_close) - _EPSILON).date()

    # ------------------------------------------------------------------ bars

    def bar_length(self, timeframe: str) -> timedelta:
        return timedelta(minutes=_check_timeframe(timeframe))

    def _offsets(self, timeframe: str) -> tuple[int, ...]:
        return _close_offsets(self.session_minutes, _check_timeframe(timeframe))

    def day_bar_closes(self, timeframe: str, d: date) -> list[datetime]:
        """Every bar close of the session on ``d`` (empty if ``d`` is not a trading day)."""
        if not self.is_trading_day(d):
            return []
        opens, _ = self._bounds(d)
        return [opens + timedelta(minutes=m) for m in self._offsets(timeframe)]

    def day_bar_starts(self, timeframe: str, d: date) -> list[datetime]:
        """Every bar start of the session on ``d`` (empty if ``d`` is not a trading day)."""
        if not self.is_trading_day(d):
            return []
        opens, _ = self._bounds(d)
        offsets = self._offsets(timeframe)
        return [opens] + [opens + timedelta(minutes=m) for m in offsets[:-1]]

    def last_bar_close(self, timeframe: str, at: datetime) -> datetime | None:
        """The latest bar close at or before ``at``, searching back over non-trading days."""
        minutes = _check_timeframe(timeframe)
        at = to_market_time(at)
        d = at.date()
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_trading_day(d):
                opens, closes = self._bounds(d)
                if at >= closes:
                    return closes
                if at >= opens:
                    k = int((at - opens) // timedelta(minutes=minutes))
                    if k >= 1:
                        return opens + timedelta(minutes=k * minutes)
            d -= timedelta(days=1)
        return None

    def next_bar_close(self, timeframe: str, at: datetime) -> datetime:
        """The earliest bar close strictly after ``at``."""
        minutes = _check_timeframe(timeframe)
        at = to_market_time(at)
        d = at.date() - timedelta(days=1)
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_trading_day(d):
                opens, closes = self._bounds(d)
                if at < closes:
                    if at < opens:
                        k = 1
                    else:
                        k = int((at - opens) // timedelta(minutes=minutes)) + 1
                    return min(opens + timedelta(minutes=k * minutes), closes)
            d += timedelta(days=1)
        raise ValueError(f"no trading day within {_MAX_SEARCH_DAYS} days after {at}")

    def _check_close(self, timeframe: str, bar_close: datetime) -> tuple[datetime, int]:
        """Validate a bar close; return its session open and its minute offset from it."""
        minutes = _check_timeframe(timeframe)
        bar_close = to_market_time(bar_close)
        d = self.session_date_of_close(bar_close)
        if not self.is_trading_day(d):
            raise ValueError(f"{bar_close.isoformat()} is not a {timeframe} bar close (not a trading day)")
        opens, closes = self._bounds(d)
        offset = bar_close - opens
        if not (opens < bar_close <= closes) or (
            bar_close != closes and offset % timedelta(minutes=minutes) != timedelta(0)
        ):
            raise ValueError(f"{bar_close.isoformat()} is not a {timeframe} bar close")
        return opens, int(offset // timedelta(minutes=1))

    def is_bar_close(self, timeframe: str, at: datetime) -> bool:
        try:
            self._check_close(timeframe, at)
        except ValueError:
            return False
        return True

    def bar_start(self, timeframe: str, bar_close: datetime) -> datetime:
        """Opening time of the bar that closes at ``bar_close`` (ValueError if it is not a close)."""
        minutes = _check_timeframe(timeframe)
        opens, offset = self._check_close(timeframe, bar_close)
        k = -(-offset // minutes) - 1  # ceil(offset / minutes) - 1
        return opens + timedelta(minutes=k * minutes)

    def bar_close(self, timeframe: str, bar_start: datetime) -> datetime:
        """Closing time of the bar that opens at ``bar_start``.

        For "1d" any start on the day (Kite stamps daily candles at 00:00, this calendar at the
        session open) gives that day's session close. Intraday starts must lie in a session.
        """
        minutes = _check_timeframe(timeframe)
        bar_start = to_market_time(bar_start)
        d = bar_start.date()
        if not self.is_trading_day(d):
            raise ValueError(f"{bar_start.isoformat()} is not on a trading day")
        opens, closes = self._bounds(d)
        if timeframe == "1d":
            return closes
        if not opens <= bar_start < closes:
            raise ValueError(f"{bar_start.isoformat()} is outside the session")
        return min(bar_start + timedelta(minutes=minutes), closes)

    def bar_closes(self, timeframe: str, start: datetime, end: datetime) -> list[datetime]:
        """Every bar close ``c`` with ``start <= c <= end``, ascending."""
        _check_timeframe(timeframe)
        start, end = to_market_time(start), to_market_time(end)
        if end < start:
            return []
        out: list[datetime] = []
        d = start.date() - timedelta(days=1)
        last = end.date()
        while d <= last:
            for c in self.day_bar_closes(timeframe, d):
                if start <= c <= end:
                    out.append(c)
            d += timedelta(days=1)
        return out

    def bar_starts_before(self, timeframe: str, end: datetime, count: int) -> list[datetime]:
        """Start times of the last ``count`` completed bars closing at or before ``end``, ascending."""
        minutes = _check_timeframe(timeframe)
        if count <= 0:
            return []
        last_close = self.last_bar_close(timeframe, end)
        if last_close is None:
            return []
        d = self.session_date_of_close(last_close)
        opens, _ = self._bounds(d)
        offsets = self._offsets(timeframe)
        n_done = -(-int((last_close - opens) // timedelta(minutes=1)) // minutes)  # bars closed today
        chunks: list[list[datetime]] = []
        remaining = count
        while remaining > 0:
            starts = [0, *offsets[: n_done - 1]]
            take = starts[-remaining:] if remaining < len(starts) else starts
            chunks.append([opens + timedelta(minutes=m) for m in take])
            remaining -= len(take)
            if remaining <= 0:
                break
            d = self.previous_trading_day(d)
            opens, _ = self._bounds(d)
            n_done = len(offsets)
        out: list[datetime] = []
        for chunk in reversed(chunks):
            out.extend(chunk)
        return out

"""Deterministic historical candles on the NSE session calendar (09:15-15:30 IST, weekdays)."""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from functools import lru_cache

from .errors import input_error
from .instruments import Instrument
from .market import default_price
from .util import IST, num, stable_int

INTERVAL_MINUTES = {
    "minute": 1,
    "3minute": 3,
    "5minute": 5,
    "10minute": 10,
    "15minute": 15,
    "30minute": 30,
    "60minute": 60,
    "day": None,
}
MAX_DAYS = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}
SESSION_OPEN = dt.time(9, 15)
SESSION_CLOSE = dt.time(15, 30)
SESSION_MINUTES = 375  # 09:15 .. 15:30
CANDLE_TS = "%Y-%m-%dT%H:%M:%S%z"


def parse_when(raw: str | None, field: str) -> dt.datetime:
    if not raw:
        raise input_error(f"Missing or empty field `{field}`")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(raw, fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    raise input_error(f"invalid {field} date format: {raw!r} (expected yyyy-mm-dd hh:mm:ss)")


def check_range(interval: str, frm: dt.datetime, to: dt.datetime) -> None:
    if interval not in INTERVAL_MINUTES:
        raise input_error("invalid interval")
    if to < frm:
        raise input_error("invalid from-to dates: `from` is after `to`")
    limit = MAX_DAYS[interval]
    if (to - frm).days > limit:
        raise input_error(f"interval exceeds max limit: {limit} days")


def _level(base: float, token: int, day_ordinal: float) -> float:
    ph1 = (stable_int("ph1", token) % 628) / 100
    ph2 = (stable_int("ph2", token) % 628) / 100
    return base * math.exp(
        0.15 * math.sin(2 * math.pi * day_ordinal / 250 + ph1) + 0.05 * math.sin(2 * math.pi * day_ordinal / 37 + ph2)
    )


def _unit(*parts: object) -> float:
    """Deterministic float in [-1, 1)."""
    return (stable_int(*parts) % 2_000_000) / 1_000_000 - 1


def _day_open_close(base: float, token: int, day: dt.date) -> tuple[float, float]:
    o = day.toordinal()
    close = _level(base, token, o) * (1 + 0.01 * _unit("c", token, o))
    open_ = _level(base, token, o - 1) * (1 + 0.004 * _unit("o", token, o))
    return open_, close


@lru_cache(maxsize=2048)
def _minute_path(base: float, token: int, day: dt.date) -> tuple[tuple[float, float, float, float, int], ...]:
    """375 one-minute bars for one session: a Brownian bridge from the day's open to its close."""
    open_, close = _day_open_close(base, token, day)
    rng = random.Random(stable_int("path", token, day.toordinal()))
    sigma = base * 0.0008
    walk = [0.0]
    for _ in range(SESSION_MINUTES):
        walk.append(walk[-1] + rng.gauss(0, sigma))
    end = walk[-1]
    pts = [open_ + w - end * i / SESSION_MINUTES + (close - open_) * i / SESSION_MINUTES for i, w in enumerate(walk)]
    bars = []
    for i in range(SESSION_MINUTES):
        o, c = pts[i], pts[i + 1]
        h = max(o, c) + abs(rng.gauss(0, sigma * 0.5))
        lo = min(o, c) - abs(rng.gauss(0, sigma * 0.5))
        bars.append((o, h, lo, c, rng.randint(200, 5000)))
    return tuple(bars)


def _round(value: float, tick: Decimal) -> float | int:
    return num(Decimal(round(value / float(tick))) * tick)


def _sessions(frm: dt.date, to: dt.date, holidays: frozenset[dt.date]):
    day = frm
    while day <= to:
        if day.weekday() < 5 and day not in holidays:
            yield day
        day += dt.timedelta(days=1)


def candles(
    inst: Instrument,
    interval: str,
    frm: dt.datetime,
    to: dt.datetime,
    *,
    now: dt.datetime,
    oi: bool = False,
    holidays: frozenset[dt.date] = frozenset(),
) -> list[list]:
    """Candles with start time in [frm, to], none starting after ``now``."""
    check_range(interval, frm, to)
    base = float(default_price(inst))
    token = inst.instrument_token
    tick = inst.tick_size
    to = min(to, now)
    out: list[list] = []
    step = INTERVAL_MINUTES[interval]
    for day in _sessions(frm.date(), to.date(), holidays):
        if step is None:
            o, c = _day_open_close(base, token, day)
            h = max(o, c) * (1 + 0.006 * (1 + _unit("h", token, day.toordinal())))
            lo = min(o, c) * (1 - 0.006 * (1 + _unit("l", token, day.toordinal())))
            vol = 500_000 + stable_int("dv", token, day.toordinal()) % 5_000_000
            start = dt.datetime.combine(day, dt.time(0, 0), IST)
            if frm.date() <= day <= to.date():
                out.append(_candle(start, o, h, lo, c, vol, tick, oi))
            continue
        path = _minute_path(base, token, day)
        session_start = dt.datetime.combine(day, SESSION_OPEN, IST)
        for first in range(0, SESSION_MINUTES, step):
            start = session_start + dt.timedelta(minutes=first)
            if start < frm or start > to:
                continue
            chunk = path[first : first + step]
            out.append(
                _candle(
                    start,
                    chunk[0][0],
                    max(b[1] for b in chunk),
                    min(b[2] for b in chunk),
                    chunk[-1][3],
                    sum(b[4] for b in chunk),
                    tick,
                    oi,
                )
            )
    return out


def _candle(start, o, h, lo, c, vol, tick, oi) -> list:
    row = [start.strftime(CANDLE_TS), _round(o, tick), _round(h, tick), _round(lo, tick), _round(c, tick), vol]
    if oi:
        row.append(0)
    return row

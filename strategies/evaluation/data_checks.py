"""Candle checks: a bar is evaluated only on candles that are exactly the market calendar's bars."""

from __future__ import annotations

from datetime import datetime

import numpy as np

_DAY_NS = 86_400_000_000_000
_IST_OFFSET_NS = 19_800_000_000_000  # +05:30: day bars compare by their India date


def candle_problem(starts_ns: np.ndarray, expected_ns: np.ndarray, timeframe: str, needed: int) -> str:
    """'' when the candles are exactly the expected bars (a tail of them), else why not.

    ``starts_ns``: the candles' start times as given by the source; ``expected_ns``: the market
    calendar's bar starts up to the bar being evaluated. Kite stamps day candles at 00:00 and the
    calendar at the session open, so "1d" compares India dates.
    """
    if len(starts_ns) == 0:
        return "no candles"
    got, want = starts_ns, expected_ns
    if timeframe == "1d":
        got, want = (got + _IST_OFFSET_NS) // _DAY_NS, (want + _IST_OFFSET_NS) // _DAY_NS
    steps = np.diff(got)
    if (steps == 0).any():
        at = int(np.flatnonzero(steps == 0)[0]) + 1
        return f"duplicated candle at {_when(starts_ns[at])}"
    if (steps < 0).any():
        at = int(np.flatnonzero(steps < 0)[0]) + 1
        return f"candles out of order at {_when(starts_ns[at])}"
    if got[-1] < want[-1]:
        last, wanted = _when(starts_ns[-1]), _when(expected_ns[-1])
        return f"stale: the last candle starts {last}, the bar starting {wanted} is missing"
    if got[-1] > want[-1]:
        return f"a candle starts {_when(starts_ns[-1])}, after the bar being evaluated"
    take = min(len(got), len(want))
    if not np.array_equal(got[-take:], want[-take:]):
        missing = np.setdiff1d(want[-take:], got)
        if missing.size:
            first = int(missing[0]) if timeframe != "1d" else _day_start(int(missing[0]), expected_ns)
            return f"{missing.size} candle(s) missing, the first starting {_when(first)}"
        odd = np.setdiff1d(got[-take:], want)
        first = int(odd[0]) if timeframe != "1d" else int(starts_ns[-take:][np.isin(got[-take:], odd)][0])
        return f"a candle starts {_when(first)}, which is no bar of the market calendar"
    if take < needed:
        return f"only {take} candles stored, {needed} needed for the warm-up"
    return ""


def _day_start(day: int, expected_ns: np.ndarray) -> int:
    days = (expected_ns + _IST_OFFSET_NS) // _DAY_NS
    return int(expected_ns[np.searchsorted(days, day)])


def _when(ns: int) -> str:
    from ..calendar import KOLKATA

    return datetime.fromtimestamp(int(ns) / 1e9, tz=KOLKATA).strftime("%Y-%m-%d %H:%M")


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000

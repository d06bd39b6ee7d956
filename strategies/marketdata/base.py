"""One interface for market data, whatever the source.

``candles`` returns the last ``count`` *completed* bars ending at or before ``end`` as a
DataFrame indexed by tz-aware bar start (Asia/Kolkata), ascending, with float64 columns
``open high low close volume``. ``ltp`` returns the last traded price per instrument token.
Every source carries a ``label`` that is shown wherever its numbers are ("simulated" above all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import numpy as np
import pandas as pd

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


class InstrumentLike(Protocol):
    instrument_token: int
    exchange: str
    tradingsymbol: str
    tick_size: Decimal


class MarketDataUnavailable(RuntimeError):
    """The source cannot give the data asked for (no session, no candles stored, ...)."""


class CandlesError(ValueError):
    """A candle frame that is not in the candle shape (a column missing)."""


@dataclass(frozen=True)
class Candles:
    """A candle series as arrays; ``start`` in int64 ns since the epoch (UTC), ascending."""

    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def tail(self, count: int) -> Candles:
        if count >= len(self.start):
            return self
        return Candles(*(getattr(self, name)[-count:] for name in ("start", *CANDLE_COLUMNS)))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Candles:
        """From a candle DataFrame indexed by tz-aware bar start (the market-data sources' shape)."""
        missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
        if missing:
            raise CandlesError(f"candles lack columns {missing}")
        index = frame.index
        start = index.as_unit("ns").asi8 if isinstance(index, pd.DatetimeIndex) else np.arange(len(frame))
        return cls(start, *(frame[name].to_numpy(dtype=np.float64) for name in CANDLE_COLUMNS))


class MarketDataSource:
    label: str = "unknown"
    #: True when the source follows the NSE calendar; the simulated demo market may not.
    follows_exchange_calendar: bool = True

    def candles(self, instrument: InstrumentLike, timeframe: str, end: datetime, count: int) -> pd.DataFrame:
        raise NotImplementedError

    def candle_arrays(
        self, instruments: Sequence[InstrumentLike], timeframe: str, end: datetime, counts: Mapping[int, int]
    ) -> dict[int, Candles | str]:
        """``candles`` for many instruments at once, as arrays: instrument token -> the last
        ``counts[token]`` completed bars, or why there are none. Sources override it to read in bulk."""
        out: dict[int, Candles | str] = {}
        for instrument in instruments:
            token = int(instrument.instrument_token)
            try:
                out[token] = Candles.from_frame(self.candles(instrument, timeframe, end, counts[token]))
            except MarketDataUnavailable as exc:
                out[token] = f"no data: {exc}"
        return out

    def ltp(self, instruments: list[InstrumentLike], at: datetime | None = None) -> dict[int, Decimal]:
        raise NotImplementedError

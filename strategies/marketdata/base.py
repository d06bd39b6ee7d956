"""One interface for market data, whatever the source.

``candles`` returns the last ``count`` *completed* bars ending at or before ``end`` as a
DataFrame indexed by tz-aware bar start (Asia/Kolkata), ascending, with float64 columns
``open high low close volume``. ``ltp`` returns the last traded price per instrument token.
Every source carries a ``label`` that is shown wherever its numbers are ("simulated" above all).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

import pandas as pd


class InstrumentLike(Protocol):
    instrument_token: int
    exchange: str
    tradingsymbol: str
    tick_size: Decimal


class MarketDataUnavailable(RuntimeError):
    """The source cannot give the data asked for (no session, no candles stored, ...)."""


class MarketDataSource:
    label: str = "unknown"
    #: True when the source follows the NSE calendar; the simulated demo market may not.
    follows_exchange_calendar: bool = True

    def candles(self, instrument: InstrumentLike, timeframe: str, end: datetime, count: int) -> pd.DataFrame:
        raise NotImplementedError

    def ltp(self, instruments: list[InstrumentLike], at: datetime | None = None) -> dict[int, Decimal]:
        raise NotImplementedError

"""Market-data sources behind one interface."""

from .base import InstrumentLike, MarketDataSource, MarketDataUnavailable
from .database import DatabaseMarketData
from .simulated import SimulatedMarketData

__all__ = [
    "DatabaseMarketData",
    "InstrumentLike",
    "MarketDataSource",
    "MarketDataUnavailable",
    "SimulatedMarketData",
]

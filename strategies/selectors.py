"""Reads for strategies, instruments and market data."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from .models import Instrument, MarketHoliday, Signal, Strategy


def market_holidays() -> frozenset:
    return frozenset(MarketHoliday.objects.values_list("date", flat=True))


def exchange_calendar():
    """The NSE calendar with the holidays an operator keeps in the admin."""
    from .calendar import MarketCalendar

    return MarketCalendar(holidays=market_holidays())


def market_data_source():
    """The configured market-data source; the simulated one may run around the clock."""
    from .calendar import MarketCalendar
    from .marketdata import DatabaseMarketData, SimulatedMarketData

    source = settings.MARKET_DATA_SOURCE
    if source == "simulated":
        around_the_clock = settings.SIMULATED_MARKET_24X7
        calendar = MarketCalendar(around_the_clock=True) if around_the_clock else exchange_calendar()
        return SimulatedMarketData(calendar=calendar)
    if source == "database":
        return DatabaseMarketData(calendar=exchange_calendar())
    if source == "kite":
        from .marketdata.kite import KiteMarketData

        return KiteMarketData(calendar=exchange_calendar())
    raise ValueError(f"Unknown MARKET_DATA_SOURCE {source!r}: use simulated, database or kite")


def active_strategies(*, timeframe: str | None = None) -> QuerySet[Strategy]:
    qs = Strategy.objects.filter(active=True).prefetch_related("instruments")
    return qs.filter(timeframe=timeframe) if timeframe else qs


def instrument_by_symbol(symbol: str) -> Instrument:
    """Find "NSE:INFY" or "INFY" (NSE assumed)."""
    exchange, _, tradingsymbol = symbol.rpartition(":")
    return Instrument.objects.get(exchange=(exchange or "NSE").upper(), tradingsymbol=tradingsymbol.upper())


def recent_signals(*, limit: int = 50) -> QuerySet[Signal]:
    return Signal.objects.select_related("strategy", "instrument").order_by("-created_at")[:limit]

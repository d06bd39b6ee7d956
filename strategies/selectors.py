"""Reads for strategies, instruments and market data."""

from __future__ import annotations

from functools import lru_cache

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
    """The configured market-data source; the simulated one may run around the clock.

    Sources are kept per process (keyed by their configuration and the holiday list) so their
    caches of generated or fetched candles survive from one bar to the next.
    """
    source = settings.MARKET_DATA_SOURCE
    around_the_clock = source == "simulated" and settings.SIMULATED_MARKET_24X7
    holidays = frozenset() if around_the_clock else market_holidays()
    return _market_data_source(source, around_the_clock, holidays)


@lru_cache(maxsize=8)
def _market_data_source(source: str, around_the_clock: bool, holidays: frozenset):
    from .calendar import MarketCalendar
    from .marketdata import DatabaseMarketData, SimulatedMarketData

    calendar = MarketCalendar(holidays=holidays, around_the_clock=around_the_clock)
    if source == "simulated":
        return SimulatedMarketData(calendar=calendar)
    if source == "database":
        return DatabaseMarketData(calendar=calendar)
    if source == "kite":
        from .marketdata.kite import KiteMarketData

        return KiteMarketData(calendar=calendar)
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


def strategy_run_summary() -> dict:
    """How many strategies there are and are active, when the engine last evaluated one, and
    which failed on their last evaluation. Two queries."""
    from django.db.models import Count, Max, Q

    summary = Strategy.objects.aggregate(
        total=Count("id"), active=Count("id", filter=Q(active=True)), last_evaluated_at=Max("last_evaluated_at")
    )
    summary["failing"] = list(
        Strategy.objects.filter(active=True).exclude(last_error="").order_by("name").values_list("name", flat=True)
    )
    return summary

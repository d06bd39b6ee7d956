"""When today's intraday (MIS) square-off starts: shared by the square-off itself and the entry check."""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from strategies.calendar import MarketCalendar, to_market_time


def square_off_time() -> time:
    """``MIS_SQUARE_OFF_TIME`` (HH:MM, India time) as a time."""
    value = settings.MIS_SQUARE_OFF_TIME
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"MIS_SQUARE_OFF_TIME must be HH:MM in India time (e.g. 15:15), got {value!r}")


def square_off_cutoff(*, calendar: MarketCalendar, now: datetime | None = None) -> tuple[datetime | None, str]:
    """Today's square-off time (India time), or None and why there is none today.

    The around-the-clock simulated market has no end of day: none there unless
    ``MIS_SQUARE_OFF_AROUND_THE_CLOCK`` is on.
    """
    if calendar.around_the_clock and not settings.MIS_SQUARE_OFF_AROUND_THE_CLOCK:
        return None, "around-the-clock simulated market (MIS_SQUARE_OFF_AROUND_THE_CLOCK is off)"
    local = to_market_time(now or timezone.now())
    if not calendar.is_trading_day(local.date()):
        return None, "not a trading day"
    return datetime.combine(local.date(), square_off_time(), tzinfo=local.tzinfo), ""


def intraday_entries_closed(*, now: datetime | None = None) -> bool:
    """From the square-off time on, a new MIS position would be squared off within the minute."""
    from strategies.selectors import market_data_source

    now = now or timezone.now()
    cutoff, _ = square_off_cutoff(calendar=market_data_source().calendar, now=now)
    return cutoff is not None and now >= cutoff

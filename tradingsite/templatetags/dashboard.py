"""Template helpers for the dashboard: rupees, signed P&L colours, order status badges, labels."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse

from risk.sizing import format_inr, format_qty

register = template.Library()

# Blocked and rejected orders are failures and look like failures: never a green "success".
_STATUS_BADGES = {
    "COMPLETE": "text-bg-success",
    "OPEN": "text-bg-primary",
    "SUBMITTED": "text-bg-info",
    "PENDING": "text-bg-secondary",
    "UNKNOWN": "text-bg-warning",
    "CANCELLED": "text-bg-dark",
    "REJECTED": "text-bg-danger",
    "BLOCKED": "text-bg-danger",
}


@register.filter
def inr(value) -> str:
    """₹1,00,000.00, or an en dash for no value."""
    if value is None or value == "":
        return "–"
    return format_inr(Decimal(value))


@register.filter
def qty(value) -> str:
    if value is None or value == "":
        return "–"
    return format_qty(int(value))


@register.filter
def signed_qty(value) -> str:
    """+75 long, -20 short, 0 flat."""
    number = int(value or 0)
    return ("+" if number > 0 else "") + format_qty(number)


@register.filter
def pnl_class(value) -> str:
    """Bootstrap text colour for a P&L figure: green gain, red loss, grey nothing."""
    number = Decimal(value or 0)
    if number > 0:
        return "text-success"
    if number < 0:
        return "text-danger"
    return "text-body-secondary"


@register.filter
def status_badge(status: str) -> str:
    return _STATUS_BADGES.get(status, "text-bg-secondary")


@register.filter
def percent_bar(value) -> str:
    """Progress bar colour for a share of a limit used: green, then amber at 60 %, red at 85 %."""
    number = Decimal(value or 0)
    if number >= 85:
        return "bg-danger"
    if number >= 60:
        return "bg-warning"
    return "bg-success"


@register.filter
def clamp_percent(value) -> str:
    """A width for a progress bar: 0 to 100."""
    number = max(Decimal("0"), min(Decimal("100"), Decimal(value or 0)))
    return f"{number:.0f}"


@register.simple_tag
def market_data_source() -> str:
    return settings.MARKET_DATA_SOURCE


@register.simple_tag
def market_is_simulated() -> bool:
    return settings.MARKET_DATA_SOURCE == "simulated"


@register.simple_tag
def optional_url(name: str, *args) -> str:
    """The URL of a named route, or "" when that route does not exist (yet) in this deployment."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def failed_checks(checks) -> list[dict]:
    """The risk checks an order failed, from its decision record's per-check results."""
    return [c for c in (checks or []) if not c.get("passed")]

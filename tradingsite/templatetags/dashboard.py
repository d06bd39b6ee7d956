"""Template helpers for the dashboard: rupees, signed P&L colours, order status badges, labels."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from execution.models import OperationState
from risk.sizing import format_inr, format_qty
from strategies.calendar import to_market_time

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


# --- Per-row pieces, built in Python: a table of a hundred accounts renders them hundreds of times,
# and an {% include %} per cell costs several times more than these few lines.


@register.simple_tag
def usage_bar(pct, label: str = "", limit: str = "", neutral: bool = False) -> str:
    """A share of a limit used, as a bar with its percentage and, optionally, "label of limit"."""
    width = clamp_percent(pct)
    pct_text = percent(pct)
    colour = "bg-primary" if neutral else percent_bar(pct)
    bar = format_html(
        '<div class="d-flex align-items-center gap-2"><div class="progress usage flex-grow-1" role="progressbar" '
        'aria-valuenow="{}" aria-valuemin="0" aria-valuemax="100" aria-label="{}% used">'
        '<div class="progress-bar {}" style="width: {}%"></div></div><span class="small num">{}%</span></div>',
        width,
        pct_text,
        colour,
        width,
        pct_text,
    )
    if label:
        bar += format_html(
            '<div class="small text-body-secondary num text-start text-wrap">{} of {}</div>', label, limit
        )
    # One block: in a phone's stacked row the cell is a flex row, which set the bar and its label side
    # by side and ran the label off the screen.
    return format_html('<div class="usage-cell">{}</div>', bar)


@register.simple_tag
def account_state(account) -> str:
    """The account's state in words: halted, needs login, trading off. Never green when it cannot trade."""
    if account.status == "halted":
        parts = [format_html('<span class="badge text-bg-danger" title="{}">Halted</span>', account.status_reason)]
    elif account.status == "needs_login":
        parts = [
            format_html('<span class="badge text-bg-warning" title="{}">Needs Kite login</span>', account.status_reason)
        ]
    elif not account.is_logged_in:
        parts = [mark_safe('<span class="badge text-bg-warning">Not logged in</span>')]  # noqa: S308 (constant)
    else:
        parts = [mark_safe('<span class="badge text-bg-success">Active</span>')]  # noqa: S308 (constant)
    if account.is_paper:
        parts.append(mark_safe(' <span class="badge text-bg-light border">Paper</span>'))  # noqa: S308 (constant)
    elif account.is_logged_in:
        expires = timezone.localtime(account.access_token_expires_at).strftime("%d %b %H:%M")
        parts.append(
            format_html(
                ' <span class="badge text-bg-light border" title="Session valid until {}">Logged in</span>', expires
            )
        )
    if not account.trading_enabled:
        parts.append(mark_safe(' <span class="badge text-bg-secondary">Trading off</span>'))  # noqa: S308 (constant)
    if account.status_reason and account.status != "active":
        parts.append(format_html('<div class="small text-body-secondary">{}</div>', account.status_reason))
    return mark_safe("".join(parts))  # noqa: S308 (every part escaped above)


@register.simple_tag
def order_status(order) -> str:
    """An order's status as it is: blocked and rejected are red."""
    return format_html('<span class="badge {}">{}</span>', status_badge(order.status), order.get_status_display())


_TARGETS = {1: ("text-bg-success", "LONG"), -1: ("text-bg-danger", "SHORT"), 0: ("text-bg-secondary", "FLAT")}


@register.simple_tag
def signal_badges(signal) -> str:
    """Direction, source, and where its price came from (simulated prices are labelled so)."""
    colour, word = _TARGETS[signal.target]
    html = format_html(
        '<span class="badge {}">{}</span> <span class="badge text-bg-light border">{}</span>',
        colour,
        word,
        signal.get_source_display(),
    )
    if signal.data_source == "simulated":
        html += mark_safe(  # noqa: S308 (constant)
            ' <span class="badge text-bg-warning" title="Priced from the simulated market feed">simulated</span>'
        )
    elif signal.data_source:
        html += format_html(' <span class="badge text-bg-light border">{}</span>', signal.data_source)
    return html


@register.filter(name="pct")
def percent(value) -> str:
    """A percentage without localisation's cost or trailing zeros: 50.00 -> "50", 1.50 -> "1.5"."""
    if value is None or value == "":
        return "–"
    text = f"{Decimal(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


@register.simple_tag
def chart_url(instrument_id: int, strategy=None) -> str:
    """The instrument's price chart, with ``strategy``'s lines and signals on its timeframe when given."""
    from tradingsite.dashboard.charts import chart_url as build

    return build(instrument_id=instrument_id, strategy=strategy or None)


@register.simple_tag
def target_badge(target) -> str:
    """A strategy's target (+1, 0, -1) as the word a trader reads; unknown (None) says so."""
    if target is None:
        return mark_safe('<span class="badge text-bg-light border">unknown</span>')  # noqa: S308 (constant)
    colour, word = _TARGETS[int(target)]
    return format_html('<span class="badge {}">{}</span>', colour, word)


_VERDICT_BADGES = {
    "signalled": "text-bg-primary",
    "no_change": "text-bg-light border",
    "overridden": "text-bg-info",
    "not_signalled": "text-bg-warning",
    "skipped": "text-bg-secondary",
    "data_missing": "text-bg-warning",
    "error": "text-bg-danger",
}


@register.simple_tag
def verdict_badge(verdict: str) -> str:
    """What a bar did on an instrument (strategies.selectors.VERDICTS) as a badge."""
    from strategies.selectors import VERDICTS

    if not verdict:
        return mark_safe('<span class="badge text-bg-light border">Not evaluated yet</span>')  # noqa: S308 (constant)
    return format_html(
        '<span class="badge {}">{}</span>', _VERDICT_BADGES.get(verdict, "text-bg-secondary"), VERDICTS[verdict]
    )


@register.filter
def number(value) -> str:
    """An indicator value or a price from the ledger (a float), to two decimals; – for none."""
    if value is None or value == "":
        return "–"
    return f"{float(value):,.2f}"


@register.simple_tag
def last_report(operation) -> str:
    """A running operation's last sign of life: "last report 12 s ago", its IST time on hover. The
    operations sweep fails and replaces a run silent longer than OPERATION_STALL_SECONDS, so past that
    it is flagged: its worker is lost, or the sweep itself is not running."""
    if operation.state != OperationState.RUNNING:
        return ""
    moment = operation.heartbeat_at or operation.running_since or operation.created_at
    silent = max(0, int((timezone.now() - moment).total_seconds()))
    ago = f"{silent} s" if silent < 120 else f"{silent // 60} min"
    stalled = silent > settings.OPERATION_STALL_SECONDS
    note = (
        f" · silent longer than {settings.OPERATION_STALL_SECONDS} s: the sweep fails it and starts a replacement"
        if stalled
        else ""
    )
    return format_html(
        '<time class="operation-last-report small {}" datetime="{}" title="Last report at {} IST">'
        "last report {} ago{}</time>",
        "text-danger" if stalled else "text-body-secondary",
        moment.isoformat(),
        to_market_time(moment).strftime("%d %b %Y %H:%M:%S"),
        ago,
        note,
    )

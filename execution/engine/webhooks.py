"""Alerts from charting tools (TradingView, Chartink, Amibroker) into signals.

A request to ``/api/webhooks/<public id>`` carries a JSON body naming the instrument, the action
(BUY: go long, SELL: go short, EXIT: go flat), a stop or a stop rule, and the webhook's secret. It
becomes a signal through ``external_signal_submit``, the manual signal's own path, and so through
``signal_submit`` like every other signal. Every request is recorded (``WebhookRequest``) with what
became of it; the secret is never stored or logged.

Repeats make one signal: an ``alert_id`` seen before on the webhook answers with that signal, and
the signal's bar (``bar_time`` from the alert, or the current ``WEBHOOK_REPEAT_WINDOW_SECONDS``
window) is unique per strategy and instrument. An alert on a bar that already has a signal (an
earlier alert's, the strategy's own or a manual one) is answered with that signal (200) when it asks
for the same target, and refused (409, naming that signal) when it asks for another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from strategies.calendar import to_market_time
from strategies.models import Signal, SignalSource, StrategyWebhook, WebhookOutcome, WebhookRequest
from strategies.services import webhook_secret_hash

from .signals import ManualSignalError, external_signal_submit

logger = logging.getLogger(__name__)

BODY_KEPT = 2000


@dataclass
class WebhookAnswer:
    status: int
    outcome: str
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    signal_id: int | None = None


@dataclass(frozen=True)
class Alert:
    """A validated alert (see ``tradingsite.api`` for the JSON it is parsed from)."""

    instrument: object  # strategies.models.Instrument
    target: int
    stop_price: Decimal | None = None
    stop_percent: Decimal | None = None
    alert_id: str = ""
    bar_time: datetime | None = None
    note: str = ""


def webhook_find(*, public_id: str) -> StrategyWebhook | None:
    return StrategyWebhook.objects.select_related("strategy").filter(public_id=public_id).first()


def webhook_secret_matches(*, webhook: StrategyWebhook, secret: str) -> bool:
    return hmac.compare_digest(webhook.secret_sha256, webhook_secret_hash(secret or ""))


def webhook_rate_limited(*, public_id: str, now: datetime | None = None) -> bool:
    """Whether this request goes over ``WEBHOOK_RATE_LIMIT`` (requests per minute per webhook URL).

    Counted in the shared cache (Redis in production, like the API throttles), so every web process
    counts against one limit; Redis's INCR makes the count exact under concurrent requests.
    """
    now = now or timezone.now()
    # The id comes from the URL as sent: hashed, so any text makes a valid cache key.
    key = f"webhook-rate:{hashlib.sha256(public_id.encode()).hexdigest()[:32]}:{int(now.timestamp() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count > settings.WEBHOOK_RATE_LIMIT


def webhook_request_record(
    *,
    public_id: str,
    webhook: StrategyWebhook | None,
    remote_addr: str,
    body: str,
    answer: WebhookAnswer,
    alert_id: str = "",
) -> WebhookRequest:
    return WebhookRequest.objects.create(
        webhook=webhook,
        public_id=public_id[:64],
        remote_addr=remote_addr[:64],
        status_code=answer.status,
        outcome=answer.outcome,
        message=answer.message[:2000],
        alert_id=alert_id[:100],
        body=redact_secret(body)[:BODY_KEPT],
        signal_id=answer.signal_id,
    )


def redact_secret(body: str) -> str:
    """The body as received, its ``secret`` replaced, so the log never holds a usable secret."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and "secret" in data:
        data["secret"] = "(removed)"
        return json.dumps(data)
    return body


def _repeat_window_start(now: datetime) -> datetime:
    window = settings.WEBHOOK_REPEAT_WINDOW_SECONDS
    seconds = int(now.timestamp()) // window * window
    return datetime.fromtimestamp(seconds, tz=now.tzinfo or timezone.get_current_timezone())


def webhook_alert_submit(*, webhook: StrategyWebhook, alert: Alert, now: datetime | None = None) -> WebhookAnswer:
    """The alert as a signal on every account mapped to the webhook's strategy (once)."""
    strategy = webhook.strategy
    if alert.alert_id:
        earlier = (
            WebhookRequest.objects.filter(webhook=webhook, alert_id=alert.alert_id, signal__isnull=False)
            .order_by("id")
            .first()
        )
        if earlier is not None:
            return WebhookAnswer(
                200,
                WebhookOutcome.DUPLICATE,
                f"Alert {alert.alert_id!r} was received before: it made signal #{earlier.signal_id}; nothing new.",
                signal_id=earlier.signal_id,
            )
    bar_time = alert.bar_time or _repeat_window_start(now or timezone.now())
    try:
        signal, created = external_signal_submit(
            strategy=strategy,
            instrument=alert.instrument,
            target=alert.target,
            source=SignalSource.WEBHOOK,
            bar_time=bar_time,
            stop_price=alert.stop_price,
            stop_percent=alert.stop_percent,
            note=alert.note or f"Webhook alert {alert.alert_id}".strip(),
        )
    except ManualSignalError as exc:
        return WebhookAnswer(400, WebhookOutcome.INVALID, str(exc), fields={exc.field: [str(exc)]})
    if created:
        return WebhookAnswer(
            201,
            WebhookOutcome.ACCEPTED,
            f"Signal #{signal.id}: {signal}, sent to every account mapped to {strategy}.",
            signal_id=signal.id,
        )
    held = (
        f"signal #{signal.id} ({_origin(signal)}) already says {_WANTS[signal.target]} on {alert.instrument} "
        f"for the {to_market_time(signal.bar_time):%Y-%m-%d %H:%M} IST bar"
    )
    if signal.target == alert.target:
        # What the alert asks for is what the bar's signal already does, whoever made it: answered
        # with that signal, so a charting tool that retries (or repeats the strategy) sees success.
        return WebhookAnswer(
            200,
            WebhookOutcome.DUPLICATE,
            f"Nothing new: {held}; one signal per strategy, instrument and bar.",
            signal_id=signal.id,
        )
    if alert.bar_time is None:
        window = settings.WEBHOOK_REPEAT_WINDOW_SECONDS
        next_window = to_market_time(bar_time + timedelta(seconds=window))
        retry = (
            f"An alert without bar_time takes the bar of the {window}-second window it arrives in: send it again from "
            f"{next_window:%H:%M:%S} IST, or with the bar_time of the bar it is about."
        )
    else:
        retry = "If it is about another bar, send it with the bar_time of the bar it is about."
    # Not recorded on a key of its own: a strategy has one signal per instrument and bar, so the
    # accounts never get two contradicting targets for one bar. The request log keeps no signal
    # (so a retry of this alert_id is not taken for a repeat of the other signal).
    return WebhookAnswer(
        409,
        WebhookOutcome.CONFLICT,
        f"{held[0].upper()}{held[1:]}, and a strategy has one signal per instrument and bar: "
        f"this alert ({_WANTS[alert.target]}) was not applied. {retry}",
        signal_id=None,
    )


_WANTS = {1: "go long", 0: "go flat", -1: "go short"}


def _origin(signal: Signal) -> str:
    """Who made the signal, in a trader's words."""
    if signal.source == SignalSource.STRATEGY:
        return "the strategy's own"
    if signal.source == SignalSource.WEBHOOK:
        return "from an earlier alert"
    return "a manual signal"

"""Webhook alerts: the one API endpoint that authenticates by a secret instead of a login.

Charting tools cannot log in or fetch a CSRF token, so this view has no authentication classes
(and so no CSRF check: DRF enforces CSRF only inside session authentication, which the rest of the
API keeps); the webhook's secret, checked against its stored hash, is the credential. Its own
rate limit replaces the API's per-address throttle, and every request is recorded with its outcome.
"""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.engine import webhooks
from execution.serializers import WebhookAlertSerializer
from strategies.models import WebhookOutcome

from ..errors import NON_FIELD, _flatten, _validation_message, error_body
from ..schema import ErrorSerializer

MAX_BODY_BYTES = 10_000

WebhookAnswerSerializer = inline_serializer(
    "WebhookAnswer",
    fields={
        "outcome": serializers.ChoiceField(choices=WebhookOutcome.choices),
        "message": serializers.CharField(),
        "signal": serializers.IntegerField(allow_null=True, help_text="The signal the alert made (or repeated)."),
    },
)


def _error(code: str, status: int, message: str, fields: dict | None = None) -> webhooks.WebhookAnswer:
    return webhooks.WebhookAnswer(status, code, message, fields=fields or {})


class WebhookView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []  # its own limit per webhook, below
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["webhooks"],
        summary="Receive a charting tool's alert (TradingView, Chartink, Amibroker) as a signal",
        description=(
            "No login: the request proves itself with the webhook's `secret` (in the body, or the "
            "`X-Webhook-Secret` header), shown once when the webhook is created or rotated. The alert "
            "becomes a signal of the webhook's strategy on every mapped account, like a manual signal. "
            "A repeat (the same `alert_id`, or the same action on an instrument and bar that already has "
            "a signal, whoever made it) makes no new signal and answers 200 `duplicate` with that signal. "
            "Another action on such a bar answers 409 naming the signal that holds it: one signal per "
            "strategy, instrument and bar. Every request is recorded under *Strategies → Webhook requests*."
        ),
        auth=[],
        parameters=[
            OpenApiParameter("public_id", str, OpenApiParameter.PATH, description="The webhook's id in its URL.")
        ],
        request=WebhookAlertSerializer,
        responses={
            201: WebhookAnswerSerializer,
            200: OpenApiResponse(
                WebhookAnswerSerializer, description="A repeat: the bar's signal already does what the alert asks."
            ),
            403: OpenApiResponse(ErrorSerializer, description="Wrong secret, or the webhook is disabled."),
            404: OpenApiResponse(ErrorSerializer, description="No webhook at this URL."),
            409: OpenApiResponse(
                ErrorSerializer, description="A signal with another action already holds this bar (named)."
            ),
        },
    )
    def post(self, request, public_id: str):
        raw = request.body
        text = raw[:MAX_BODY_BYTES].decode("utf-8", errors="replace")
        webhook = None
        alert_id = ""
        if webhooks.webhook_rate_limited(public_id=public_id):
            answer = _error("rate_limited", 429, "Too many requests to this webhook; retry in a minute.")
        elif (webhook := webhooks.webhook_find(public_id=public_id)) is None:
            answer = _error("not_found", 404, "No webhook at this URL.")
        else:
            answer, alert_id = self._answer(request, webhook=webhook, raw=raw, text=text)
        webhooks.webhook_request_record(
            public_id=public_id,
            webhook=webhook,
            remote_addr=request.META.get("REMOTE_ADDR", ""),
            body=text,
            answer=answer,
            alert_id=alert_id,
        )
        if answer.status >= 400:
            body = error_body(code=answer.outcome, message=answer.message, fields=answer.fields)
            headers = {"Retry-After": "60"} if answer.status == 429 else {}
            return Response(body, status=answer.status, headers=headers)
        return Response(
            {"outcome": answer.outcome, "message": answer.message, "signal": answer.signal_id}, status=answer.status
        )

    def _answer(self, request, *, webhook, raw: bytes, text: str) -> tuple[webhooks.WebhookAnswer, str]:
        if len(raw) > MAX_BODY_BYTES:
            return _error("invalid", 400, f"The body is over {MAX_BODY_BYTES:,} bytes.", {"body": ["Too large."]}), ""
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError as exc:
            message = f'The body is not JSON ({exc}). Send a JSON object, e.g. {{"symbol": "NSE:INFY", ...}}.'
            return _error("invalid", 400, message, {"body": [message]}), ""
        if not isinstance(data, dict):
            message = "The body must be a JSON object with symbol, action, a stop and the secret."
            return _error("invalid", 400, message, {"body": [message]}), ""
        alert_id = str(data.get("alert_id") or "")[:100]
        secret = request.headers.get("X-Webhook-Secret") or data.get("secret")
        if not isinstance(secret, str) or not webhooks.webhook_secret_matches(webhook=webhook, secret=secret):
            return _error("unauthorized", 403, "Wrong or missing secret for this webhook."), alert_id
        if not webhook.enabled:
            return _error("disabled", 403, f"The webhook of {webhook.strategy} is disabled."), alert_id
        data.setdefault("secret", secret)
        params = WebhookAlertSerializer(data=data)
        if not params.is_valid():
            fields = _flatten(params.errors)
            return _error("invalid", 400, _validation_message(fields), fields), alert_id
        values = dict(params.validated_data)
        values.pop("secret")
        answer = webhooks.webhook_alert_submit(webhook=webhook, alert=webhooks.Alert(**values))
        if answer.fields.get("instrument"):  # the service names the instrument; the alert calls it symbol
            answer.fields = {"symbol": answer.fields["instrument"]}
        answer.fields = {(k if k != NON_FIELD else "body"): v for k, v in answer.fields.items()}
        return answer, alert_id

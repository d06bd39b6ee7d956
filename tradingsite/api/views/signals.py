"""Manual signals: the operator's target for a strategy on one instrument, through the normal pipeline."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.engine.signals import manual_signal_submit
from execution.serializers import ManualSignalSerializer, SignalDeliveriesSerializer


class ManualSignalView(APIView):
    @extend_schema(
        tags=["signals"],
        summary="Send a manual signal to every account mapped to the strategy",
        description="Priced at the instrument's last traded price and fanned out like a strategy's own "
        "signal: sized per account, risk-checked, then placed. Entries need `stop_price`. The answer "
        "lists one pending delivery per mapped account; `GET /api/signals/<id>` shows how each ended "
        "(ordered, refused, nothing_to_do or expired) with its orders and reason. The signal and its "
        "deliveries are recorded before the answer, even when the queue (Redis) is down.",
        request=ManualSignalSerializer,
        responses={201: SignalDeliveriesSerializer},
    )
    def post(self, request):
        params = ManualSignalSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            # The answer is read in the signal's own transaction: once the signal has committed, nothing
            # is left that the database could fail (a restart right after the commit), so a recorded
            # signal is always answered 201 and a client never retries it into a second signal.
            with transaction.atomic():
                signal = manual_signal_submit(**params.validated_data)
                answer = SignalDeliveriesSerializer(signal).data
        except ValueError as exc:
            # The service's own refusals name their field (the stop's side); the others are about the
            # instrument (e.g. no last price for it).
            raise serializers.ValidationError({getattr(exc, "field", "instrument"): [str(exc)]})
        return Response(answer, status=status.HTTP_201_CREATED)

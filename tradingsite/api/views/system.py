"""The engine: status, start, stop, emergency stop and kill-switch reset."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import account_state_counts
from execution import selectors as execution_selectors
from execution.engine import switch as engine_switch
from execution.models import Operation
from execution.operations.emergency import kill_switch_reset
from execution.operations.runs import emergency_stop_start
from execution.serializers import OperationSerializer
from risk import services as risk_services
from risk.selectors import engine_state
from risk.serializers import (
    EmergencyStopSerializer,
    EngineCommandSerializer,
    EngineStateSerializer,
    KillSwitchResetSerializer,
)
from strategies.selectors import market_data_source, strategy_run_summary

from ..errors import Conflict
from ..filters import OperationFilter
from ..schema import ErrorSerializer

SystemStatusSerializer = inline_serializer(
    "SystemStatus",
    fields={
        "as_of": serializers.DateTimeField(),
        "engine": EngineStateSerializer(),
        "trading": serializers.BooleanField(help_text="Running and the kill switch is off: new entries go out."),
        "accounts": inline_serializer(
            "AccountStateCounts",
            fields={
                "total": serializers.IntegerField(),
                "active": serializers.IntegerField(),
                "halted": serializers.IntegerField(),
                "needs_login": serializers.IntegerField(),
                "trading_disabled": serializers.IntegerField(help_text="Accounts whose own kill switch is off."),
            },
        ),
        "strategies": inline_serializer(
            "StrategyRunSummary",
            fields={
                "total": serializers.IntegerField(),
                "active": serializers.IntegerField(),
                "last_evaluated_at": serializers.DateTimeField(
                    allow_null=True, help_text="The last bar run: when the engine last evaluated a strategy."
                ),
                "failing": serializers.ListField(
                    child=serializers.CharField(), help_text="Active strategies whose last evaluation raised."
                ),
            },
        ),
        "open_positions": serializers.IntegerField(),
        "market_data": inline_serializer(
            "MarketDataSource",
            fields={"source": serializers.CharField(), "simulated": serializers.BooleanField()},
        ),
    },
)


def system_status() -> dict:
    state = engine_state()
    source_label = market_data_source().label
    return {
        "as_of": timezone.now(),
        "engine": EngineStateSerializer(state).data,
        "trading": state.running and not state.kill_switch,
        "accounts": account_state_counts(),
        "strategies": strategy_run_summary(),
        "open_positions": execution_selectors.open_positions().count(),
        "market_data": {"source": source_label, "simulated": source_label == "simulated"},
    }


class SystemStatusView(APIView):
    @extend_schema(
        tags=["system"], summary="Engine state, account states and the last bar run", responses=SystemStatusSerializer
    )
    def get(self, request):
        return Response(system_status())


class SystemStartView(APIView):
    @extend_schema(
        tags=["system"],
        summary="Start the engine",
        description="Refused with 409 `kill_switch_active` while the emergency stop's kill switch is on.",
        request=EngineCommandSerializer,
        responses={200: SystemStatusSerializer, 409: ErrorSerializer},
    )
    def post(self, request):
        params = EngineCommandSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            engine_switch.engine_start(actor=request.user, reason=params.validated_data["reason"])
        except PermissionError as exc:
            raise Conflict(detail=str(exc), code="kill_switch_active")
        return Response(system_status())


class SystemStopView(APIView):
    @extend_schema(
        tags=["system"],
        summary="Stop the engine",
        description="No new bars are evaluated. Open positions and orders stay as they are; use the "
        "emergency stop to flatten everything.",
        request=EngineCommandSerializer,
        responses=SystemStatusSerializer,
    )
    def post(self, request):
        params = EngineCommandSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        risk_services.engine_stop(actor=request.user, reason=params.validated_data["reason"])
        return Response(system_status())


EmergencyStopResponse = inline_serializer(
    "EmergencyStopStarted",
    fields={
        "operation": OperationSerializer(),
        "status_url": serializers.CharField(help_text="Poll it: the operation's state and, once done, its report."),
        "status": SystemStatusSerializer,
    },
)


OperationStarted = inline_serializer(
    "OperationStarted",
    fields={
        "operation": OperationSerializer(),
        "status_url": serializers.CharField(help_text="Poll it: the operation's state and, once done, its report."),
    },
)


def operation_started(request, operation) -> Response:
    """202: the operation is under way; its status link says how it ends."""
    return Response(
        {
            "operation": OperationSerializer(operation).data,
            "status_url": request.build_absolute_uri(reverse("api:system-operation", args=[operation.id])),
        },
        status=202,
    )


def _client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "an unknown address"


class EmergencyStopView(APIView):
    @extend_schema(
        tags=["system"],
        summary="Emergency stop: kill switch, then cancel open orders and square off every position",
        description="At once: trips the global kill switch and stops the engine (no new entry passes the "
        "risk checks, and the engine cannot be started until the kill switch is reset) and disables the "
        "strategy schedules. Then, in a task: cancels every open order and sends a MARKET exit for every "
        "position the system holds, on every account. Answers 202 with the operation and its status link "
        "right away; the body may be empty (the reason then says who pressed it and from where). Safe to "
        "repeat: a second call retries only refused exits.",
        request=EmergencyStopSerializer,
        responses={202: EmergencyStopResponse},
    )
    def post(self, request):
        params = EmergencyStopSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        operation = emergency_stop_start(
            actor=request.user,
            reason=params.validated_data.get("reason", ""),
            origin=f"the API ({_client_address(request)})",
        )
        response = operation_started(request, operation)
        response.data["status"] = system_status()
        return response


class OperationListView(generics.ListAPIView):
    """Every operation, newest first: what the emergency stops, flattens and square-offs did."""

    serializer_class = OperationSerializer
    filterset_class = OperationFilter

    def get_queryset(self):
        return execution_selectors.operations_filtered()

    @extend_schema(
        tags=["system"],
        summary="List operations (emergency stops, flattens, strategy stops, MIS square-offs), newest first",
        description="Each as `GET /api/system/operations/{id}` answers it. Filter by `kind` and `state`.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class OperationView(APIView):
    @extend_schema(
        tags=["system"],
        summary="An operation's state (an emergency stop's cancels and exits) and, once done, its report",
        responses={200: OperationSerializer, 404: ErrorSerializer},
    )
    def get(self, request, operation_id: int):
        return Response(OperationSerializer(get_object_or_404(Operation, pk=operation_id)).data)


class KillSwitchResetView(APIView):
    @extend_schema(
        tags=["system"],
        summary="Reset the kill switch after an emergency stop",
        description="The kill switch goes off and the strategy schedules come back; the engine stays "
        "stopped until an operator starts it.",
        request=KillSwitchResetSerializer,
        responses=SystemStatusSerializer,
    )
    def post(self, request):
        params = KillSwitchResetSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        kill_switch_reset(actor=request.user, reason=params.validated_data["reason"])
        return Response(system_status())

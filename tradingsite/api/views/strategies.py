"""Strategies (list, detail, create, update, stop) and the instruments they trade (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from execution.operations.runs import strategy_stop_start
from execution.serializers import FlattenRequestSerializer
from strategies import services as strategy_services
from strategies.models import Instrument, Strategy
from strategies.selectors import strategy_instrument_states
from strategies.serializers import InstrumentSerializer, InstrumentStateSerializer, StrategySerializer

from ..filters import InstrumentFilter, StrategyFilter
from .system import OperationStarted, operation_started


class _StateQuery(serializers.Serializer):
    instrument = serializers.IntegerField(required=False, min_value=1)
    bars = serializers.IntegerField(required=False, default=5, min_value=1, max_value=50)


@extend_schema_view(
    list=extend_schema(summary="List strategies"),
    retrieve=extend_schema(summary="One strategy"),
    create=extend_schema(summary="Create a strategy (parameters are validated against its type)"),
    update=extend_schema(summary="Replace a strategy's settings"),
    partial_update=extend_schema(summary="Change some of a strategy's settings"),
)
@extend_schema(tags=["strategies"])
class StrategyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Strategy.objects.prefetch_related("instruments").order_by("name")
    serializer_class = StrategySerializer
    filterset_class = StrategyFilter
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer):
        fields = dict(serializer.validated_data)
        serializer.instance = strategy_services.strategy_create(instruments=fields.pop("instruments"), **fields)

    def perform_update(self, serializer):
        fields = dict(serializer.validated_data)
        serializer.instance = strategy_services.strategy_update(
            strategy=serializer.instance, instruments=fields.pop("instruments", None), **fields
        )

    @extend_schema(
        summary="The strategy's state per instrument: target, stop, indicators, last signal, last bars, why",
        description="Read from the evaluation ledger (the last `bars` rows, default 5, at most 50) and the "
        "strategy's signals. `instrument` (an id) narrows it to one instrument.",
        parameters=[
            OpenApiParameter("instrument", int, required=False),
            OpenApiParameter("bars", int, required=False),
        ],
        responses=InstrumentStateSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def state(self, request, pk=None):
        strategy = self.get_object()
        params = _StateQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        states = strategy_instrument_states(
            strategy=strategy, instrument_id=params.validated_data.get("instrument"), bars=params.validated_data["bars"]
        )
        return Response(InstrumentStateSerializer(states, many=True).data)

    @extend_schema(
        summary="Stop the strategy: no new entries, and close its positions on every account",
        description="Turns the strategy's kill switch off and flattens only its own positions; other "
        "strategies' positions in the same instruments stay. The kill switch goes off at once; the exits "
        "run in a task: answers 202 with its `status_url` (check its report's `failed_exits`).",
        request=FlattenRequestSerializer,
        responses={202: OperationStarted},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def stop(self, request, pk=None):
        strategy = self.get_object()
        params = FlattenRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        operation = strategy_stop_start(strategy=strategy, actor=request.user, reason=params.validated_data["reason"])
        return operation_started(request, operation)


@extend_schema_view(
    list=extend_schema(summary="List instruments"),
    retrieve=extend_schema(summary="One instrument"),
)
@extend_schema(tags=["instruments"])
class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Instrument.objects.order_by("exchange", "tradingsymbol")
    serializer_class = InstrumentSerializer
    filterset_class = InstrumentFilter
    lookup_value_regex = "[0-9]+"

"""Read-only lists of what the system did: orders, fills, positions, signals, risk decisions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from execution.models import Fill, Order, Position
from execution.serializers import FillSerializer, OrderSerializer, PositionSerializer, SignalDeliveriesSerializer
from risk.models import RiskDecisionRecord
from risk.serializers import RiskDecisionSerializer
from strategies.models import Evaluation, Signal
from strategies.serializers import EvaluationSerializer, SignalSerializer

from ..filters import EvaluationFilter, FillFilter, OrderFilter, PositionFilter, RiskDecisionFilter, SignalFilter


def _read_only(tag: str, noun: str):
    return extend_schema_view(
        list=extend_schema(tags=[tag], summary=f"List {noun}, newest first"),
        retrieve=extend_schema(tags=[tag], summary=f"One of the {noun}"),
    )


@_read_only("orders", "orders")
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Order.objects.select_related("account", "strategy", "instrument", "risk_decision").order_by(
        "-created_at", "-id"
    )
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = "[0-9]+"


@_read_only("fills", "fills")
class FillViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Fill.objects.select_related("account", "order__instrument").order_by("-filled_at", "-id")
    serializer_class = FillSerializer
    filterset_class = FillFilter
    lookup_value_regex = "[0-9]+"


@_read_only("positions", "positions (open and flat)")
class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Position.objects.select_related("account", "strategy", "instrument").order_by(
        "account__name", "instrument__tradingsymbol", "id"
    )
    serializer_class = PositionSerializer
    filterset_class = PositionFilter
    lookup_value_regex = "[0-9]+"


@_read_only("signals", "signals")
class SignalViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Signal.objects.select_related("strategy", "instrument").order_by("-created_at", "-id")
    serializer_class = SignalSerializer
    filterset_class = SignalFilter
    lookup_value_regex = "[0-9]+"

    def get_serializer_class(self):
        # One signal comes with each mapped account's delivery: its state, its orders and why.
        return SignalDeliveriesSerializer if self.action == "retrieve" else SignalSerializer


@_read_only("risk", "pre-trade risk decisions, approved or not, with each check's result")
class RiskDecisionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = RiskDecisionRecord.objects.select_related("account", "strategy", "instrument").order_by(
        "-created_at", "-id"
    )
    serializer_class = RiskDecisionSerializer
    filterset_class = RiskDecisionFilter
    lookup_value_regex = "[0-9]+"


@_read_only("evaluations", "evaluation ledger rows (one per strategy and bar: evaluated or skipped with its reason)")
class EvaluationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Evaluation.objects.select_related("strategy").order_by("-bar_close", "strategy_id")
    serializer_class = EvaluationSerializer
    filterset_class = EvaluationFilter
    lookup_value_regex = "[0-9]+"

"""Account-strategy mappings; every write goes through ``mapping_save`` and its 100% rule."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from execution.mappings import mapping_save
from execution.models import AccountStrategy
from execution.serializers import MappingSerializer

from ..filters import MappingFilter


@extend_schema_view(
    list=extend_schema(summary="List account-strategy mappings"),
    retrieve=extend_schema(summary="One mapping"),
    create=extend_schema(
        summary="Map a strategy onto an account",
        description="An account's enabled mappings may allocate at most 100% of its capital; a request "
        "beyond that is refused with 400 on `allocation_pct`, naming the other mappings.",
    ),
    update=extend_schema(summary="Replace a mapping"),
    partial_update=extend_schema(summary="Change a mapping's allocation, risk per trade or enabled flag"),
)
@extend_schema(tags=["mappings"])
class MappingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = AccountStrategy.objects.select_related("account", "strategy").order_by("account__name", "strategy__name")
    serializer_class = MappingSerializer
    filterset_class = MappingFilter
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer):
        serializer.instance = mapping_save(**serializer.validated_data)

    def perform_update(self, serializer):
        mapping = serializer.instance
        data = serializer.validated_data
        serializer.instance = mapping_save(
            mapping=mapping,
            account=data.get("account", mapping.account),
            strategy=data.get("strategy", mapping.strategy),
            allocation_pct=data.get("allocation_pct", mapping.allocation_pct),
            risk_per_trade_pct=data.get("risk_per_trade_pct", mapping.risk_per_trade_pct),
            enabled=data.get("enabled", mapping.enabled),
        )

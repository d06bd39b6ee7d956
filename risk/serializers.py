"""API shapes for the engine's safety state and the risk audit records."""

from __future__ import annotations

from rest_framework import serializers

from accounts.api_base import StrictSerializer

from .models import EngineState, RiskDecisionRecord, RiskEvent


class EngineStateSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = EngineState
        fields = ("running", "kill_switch", "reason", "changed_by", "changed_at")
        read_only_fields = fields


class EngineCommandSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Why, for the audit log."
    )


class EmergencyStopSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Why the operator stopped everything, for the audit log. Optional: by default it says who "
        "pressed it and from where.",
    )


class KillSwitchResetSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, help_text="Why trading may resume, for the audit log.")


class CheckResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)


class RiskDecisionSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, allow_null=True, default=None)
    instrument_symbol = serializers.CharField(source="instrument.kite_symbol", read_only=True)
    checks = CheckResultSerializer(many=True, read_only=True)
    sizing = serializers.DictField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RiskDecisionRecord
        fields = (
            "id",
            "account",
            "account_name",
            "strategy",
            "strategy_name",
            "signal",
            "instrument",
            "instrument_symbol",
            "side",
            "quantity",
            "reference_price",
            "is_exit",
            "approved",
            "summary",
            "checks",
            "sizing",
            "created_at",
        )
        read_only_fields = fields


class RiskEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RiskEvent
        fields = ("id", "kind", "account", "strategy", "actor", "message", "created_at")
        read_only_fields = fields

"""API shapes for instruments, strategies and signals."""

from __future__ import annotations

from rest_framework import serializers

from accounts.api_base import StrictModelSerializer

from .library import strategy_choices
from .models import Instrument, Signal, Strategy


class InstrumentSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="kite_symbol", read_only=True, help_text='"EXCHANGE:TRADINGSYMBOL"')

    class Meta:
        model = Instrument
        fields = (
            "id",
            "symbol",
            "instrument_token",
            "exchange",
            "tradingsymbol",
            "name",
            "segment",
            "instrument_type",
            "lot_size",
            "tick_size",
            "expiry",
        )
        read_only_fields = fields


class StrategySerializer(StrictModelSerializer):
    library_key = serializers.ChoiceField(
        choices=(), help_text="Which strategy class of the library runs this (e.g. sma_crossover)."
    )
    instruments = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Instrument.objects.all(), help_text="Ids of the instruments it trades."
    )
    instrument_symbols = serializers.SerializerMethodField()
    parameters = serializers.JSONField(
        required=False, help_text="Parameters of the strategy type; {} for its defaults. Unknown keys are refused."
    )

    class Meta:
        model = Strategy
        fields = (
            "id",
            "name",
            "library_key",
            "timeframe",
            "instruments",
            "instrument_symbols",
            "parameters",
            "product",
            "active",
            "trading_enabled",
            "enter_on_first_bar",
            "max_positions",
            "last_evaluated_at",
            "last_error",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("last_evaluated_at", "last_error", "created_at", "updated_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The registry is filled as the library imports; read it when the serializer is built.
        self.fields["library_key"].choices = strategy_choices()

    def get_instrument_symbols(self, strategy: Strategy) -> list[str]:
        return [instrument.kite_symbol for instrument in strategy.instruments.all()]

    def validate_parameters(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object of parameter names to values.")
        return value

    def validate_instruments(self, value):
        if not value:
            raise serializers.ValidationError("A strategy needs at least one instrument.")
        return value


class SignalSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name", read_only=True)
    instrument_symbol = serializers.CharField(source="instrument.kite_symbol", read_only=True)

    class Meta:
        model = Signal
        fields = (
            "id",
            "strategy",
            "strategy_name",
            "instrument",
            "instrument_symbol",
            "bar_time",
            "target",
            "price",
            "stop_price",
            "source",
            "data_source",
            "note",
            "created_at",
        )
        read_only_fields = fields

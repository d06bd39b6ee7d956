"""API shapes for instruments, strategies and signals."""

from __future__ import annotations

from rest_framework import serializers

from accounts.api_base import StrictModelSerializer

from .library import strategy_choices
from .models import Evaluation, Instrument, Signal, Strategy
from .selectors import VERDICTS


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
            "caught_up_from",
            "created_at",
        )
        read_only_fields = fields


class EvaluationSerializer(serializers.ModelSerializer):
    """One row of the evaluation ledger: a strategy on one bar."""

    strategy_name = serializers.CharField(source="strategy.name", read_only=True)
    instruments = serializers.JSONField(
        read_only=True,
        help_text="Per instrument symbol: target, stop, close (on the tick), indicators (name -> value, "
        "4 decimals), last_signalled, signal (bool), caught_up_from (bar close or null) and note (why). "
        "With detail_trimmed (bars older than EVALUATION_DETAIL_DAYS) only the instruments that "
        "signalled or were caught up.",
    )
    problems = serializers.JSONField(
        read_only=True, help_text="Per instrument symbol: why it was not evaluated (data) or its answer refused."
    )

    class Meta:
        model = Evaluation
        fields = (
            "id",
            "strategy",
            "strategy_name",
            "timeframe",
            "bar_close",
            "outcome",
            "reason_code",
            "reason",
            "instruments_total",
            "instruments_evaluated",
            "signals_made",
            "instruments",
            "problems",
            "detail_trimmed",
            "data_source",
            "duration_ms",
            "recorded_at",
        )
        read_only_fields = fields


_VERDICT_HELP = "What the bar did on the instrument: " + ", ".join(
    f"{code} ({words.lower()})" for code, words in VERDICTS.items()
)


class InstrumentBarSerializer(serializers.Serializer):
    bar_close = serializers.DateTimeField()
    outcome = serializers.CharField()
    verdict = serializers.CharField(help_text=_VERDICT_HELP)
    why = serializers.CharField()
    target = serializers.IntegerField(required=False, allow_null=True)
    stop = serializers.FloatField(required=False, allow_null=True)
    signal = serializers.BooleanField(required=False)


class InstrumentStateSerializer(serializers.Serializer):
    """A strategy's state on one instrument, from the evaluation ledger and its signals."""

    instrument_id = serializers.IntegerField()
    symbol = serializers.CharField()
    target = serializers.IntegerField(allow_null=True, help_text="Desired target on the last evaluated bar.")
    wants = serializers.CharField(allow_null=True, help_text="The target in words: long, short or flat.")
    stop = serializers.FloatField(allow_null=True)
    close = serializers.FloatField(allow_null=True)
    indicators = serializers.DictField(child=serializers.FloatField(allow_null=True))
    last_signal_target = serializers.IntegerField(allow_null=True)
    last_signal_bar = serializers.DateTimeField(allow_null=True)
    last_bar = serializers.DateTimeField(allow_null=True, help_text="The last bar in the ledger.")
    last_outcome = serializers.CharField()
    verdict = serializers.CharField(help_text=_VERDICT_HELP + "; empty before its first bar.")
    why = serializers.CharField(help_text="Why nothing (or something) happened on the last bar.")
    bars = InstrumentBarSerializer(many=True, help_text="The last ledger entries, newest first.")

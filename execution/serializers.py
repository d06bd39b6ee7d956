"""API shapes for mappings, orders, fills, positions, manual signals and P&L."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api_base import StrictModelSerializer, StrictSerializer
from strategies.models import Instrument, Strategy
from strategies.selectors import instrument_by_symbol
from strategies.serializers import SignalSerializer

from .models import AccountStrategy, DeliveryState, Fill, Order, Position
from .selectors.operations import operations_progress
from .selectors.reports import signal_deliveries

MONEY = {"max_digits": 16, "decimal_places": 2}


class MappingSerializer(StrictModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True)
    allocated_capital = serializers.DecimalField(**MONEY, read_only=True, help_text="Rupees this strategy may use.")
    risk_budget = serializers.DecimalField(
        **MONEY, read_only=True, help_text="Rupees lost at most per trade if its stop is hit."
    )

    class Meta:
        model = AccountStrategy
        fields = (
            "id",
            "account",
            "account_name",
            "strategy",
            "strategy_name",
            "allocation_pct",
            "risk_per_trade_pct",
            "enabled",
            "allocated_capital",
            "risk_budget",
            "created_at",
        )
        read_only_fields = ("created_at",)
        # The one-mapping-per-pair rule is the model's, checked by the service with a message naming
        # the account and the strategy (DRF's own says "The fields account, strategy must make a unique set").
        validators: list = []


class OrderSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, allow_null=True, default=None)
    instrument_symbol = serializers.CharField(source="instrument.kite_symbol", read_only=True)
    risk_summary = serializers.CharField(
        source="risk_decision.summary",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="What the pre-trade risk checks said about this order.",
    )

    class Meta:
        model = Order
        fields = (
            "id",
            "account",
            "account_name",
            "strategy",
            "strategy_name",
            "signal",
            "instrument",
            "instrument_symbol",
            "leg",
            "side",
            "quantity",
            "product",
            "order_type",
            "price",
            "trigger_price",
            "reference_price",
            "stop_price",
            "tag",
            "status",
            "status_message",
            "broker_order_id",
            "filled_quantity",
            "average_price",
            "reason",
            "risk_decision",
            "risk_summary",
            "created_at",
            "updated_at",
            "placed_at",
        )
        read_only_fields = fields


class FillSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    instrument_symbol = serializers.CharField(source="order.instrument.kite_symbol", read_only=True)
    side = serializers.CharField(source="order.side", read_only=True)
    strategy = serializers.IntegerField(source="order.strategy_id", read_only=True, allow_null=True)

    class Meta:
        model = Fill
        fields = (
            "id",
            "order",
            "account",
            "account_name",
            "strategy",
            "instrument_symbol",
            "side",
            "broker_trade_id",
            "quantity",
            "price",
            "realised_pnl",
            "charges",
            "charges_estimated",
            "filled_at",
        )
        read_only_fields = fields


class PositionSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, allow_null=True, default=None)
    instrument_symbol = serializers.CharField(source="instrument.kite_symbol", read_only=True)

    class Meta:
        model = Position
        fields = (
            "id",
            "account",
            "account_name",
            "strategy",
            "strategy_name",
            "instrument",
            "instrument_symbol",
            "product",
            "quantity",
            "average_price",
            "last_price",
            "realised_pnl",
            "unrealised_pnl",
            "marked_at",
            "state_unknown",
            "updated_at",
        )
        read_only_fields = fields


# --- manual signals ---------------------------------------------------------------------------

SIDE_TARGETS = {"BUY": 1, "SELL": -1, "EXIT": 0}


class ManualSignalSerializer(StrictSerializer):
    """An operator's signal: the strategy's target on one instrument, or a side that says it."""

    strategy = serializers.PrimaryKeyRelatedField(queryset=Strategy.objects.all())
    instrument = serializers.CharField(
        max_length=60, help_text='Instrument id (e.g. "12") or symbol ("NSE:INFY", or "INFY" for NSE).'
    )
    target = serializers.ChoiceField(
        choices=[(1, "long"), (0, "flat"), (-1, "short")],
        required=False,
        help_text="+1 long, 0 flat, -1 short. Give this or side.",
    )
    side = serializers.ChoiceField(
        choices=list(SIDE_TARGETS),
        required=False,
        help_text="BUY (go long), SELL (go short) or EXIT (go flat). Give this or target.",
    )
    stop_price = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Stop-loss level; every entry (long or short) needs it or stop_percent, so its risk can be sized.",
    )
    stop_percent = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal("50"),
        help_text="Stop rule instead of stop_price: the stop lies this % of the last price away, on the losing side.",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_instrument(self, value: str) -> Instrument:
        value = value.strip()
        try:
            if value.isdigit():
                return Instrument.objects.get(pk=int(value))
            return instrument_by_symbol(value)
        except (ObjectDoesNotExist, ValueError):
            raise serializers.ValidationError(f"No instrument {value!r}: give its id or its symbol, e.g. NSE:INFY.")

    def validate(self, attrs: dict) -> dict:
        target, side = attrs.get("target"), attrs.pop("side", None)
        if target is None and side is None:
            raise serializers.ValidationError({"target": "Give the target (-1, 0 or 1) or the side (BUY, SELL, EXIT)."})
        if target is not None and side is not None and SIDE_TARGETS[side] != target:
            raise serializers.ValidationError({"side": f"side {side} contradicts target {target}: give one of them."})
        target = SIDE_TARGETS[side] if target is None else int(target)
        attrs["target"] = target
        strategy, instrument = attrs["strategy"], attrs["instrument"]
        if not strategy.instruments.filter(pk=instrument.pk).exists():
            raise serializers.ValidationError(
                {"instrument": f"{instrument} is not one of the instruments strategy {strategy.name!r} trades."}
            )
        stop, rule = attrs.get("stop_price"), attrs.get("stop_percent")
        if target != 0 and stop is None and rule is None:
            raise serializers.ValidationError(
                {"stop_price": "An entry (long or short) needs stop_price or stop_percent, so its risk can be sized."}
            )
        if stop is not None and rule is not None:
            raise serializers.ValidationError({"stop_percent": "Send stop_price or stop_percent, not both."})
        if target != 0 and stop is not None and stop <= 0:
            raise serializers.ValidationError({"stop_price": "The stop price must be above zero."})
        if target == 0:
            attrs["stop_price"] = attrs["stop_percent"] = None  # an exit has no stop of its own
        return attrs


# --- webhook alerts ----------------------------------------------------------------------------

ACTION_TARGETS = {"BUY": 1, "SELL": -1, "EXIT": 0}


class WebhookAlertSerializer(StrictSerializer):
    """A charting tool's alert (TradingView, Chartink, Amibroker) for the webhook's strategy."""

    secret = serializers.CharField(
        max_length=200, write_only=True, help_text="The webhook's secret (or send it as the X-Webhook-Secret header)."
    )
    symbol = serializers.CharField(
        max_length=60, help_text='The instrument: "NSE:INFY", or "INFY" with `exchange` (NSE when omitted).'
    )
    exchange = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    action = serializers.CharField(
        max_length=10, help_text="BUY (go long), SELL (go short) or EXIT (go flat); any case, as TradingView sends it."
    )
    stop_price = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        required=False,
        allow_null=True,
        min_value=0,
        help_text="The entry's stop-loss level. An entry needs this or stop_percent.",
    )
    stop_percent = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal("50"),
        help_text="Stop rule: the stop lies this % of the last price away, on the losing side.",
    )
    alert_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your alert's id; a repeat with the same id makes no new signal.",
    )
    bar_time = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The bar the alert is about (TradingView: {{time}}); repeats of one bar make one signal.",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_action(self, value: str) -> int:
        action = value.strip().upper()
        if action not in ACTION_TARGETS:
            raise serializers.ValidationError(f"Unknown action {value!r}: send BUY, SELL or EXIT.")
        return ACTION_TARGETS[action]

    def validate(self, attrs: dict) -> dict:
        symbol, exchange = attrs.pop("symbol").strip(), attrs.pop("exchange").strip()
        if exchange and ":" not in symbol:
            symbol = f"{exchange}:{symbol}"
        try:
            attrs["instrument"] = instrument_by_symbol(symbol)
        except ObjectDoesNotExist:
            raise serializers.ValidationError({"symbol": f"No instrument {symbol!r}: send e.g. NSE:INFY."})
        target = attrs["target"] = attrs.pop("action")
        stop, rule = attrs.get("stop_price"), attrs.get("stop_percent")
        if target != 0 and stop is None and rule is None:
            raise serializers.ValidationError(
                {"stop_price": "An entry (BUY or SELL) needs stop_price or stop_percent, so its risk can be sized."}
            )
        if stop is not None and rule is not None:
            raise serializers.ValidationError({"stop_percent": "Send stop_price or stop_percent, not both."})
        if target != 0 and stop is not None and stop <= 0:
            raise serializers.ValidationError({"stop_price": "The stop price must be above zero."})
        return attrs


# --- P&L --------------------------------------------------------------------------------------


class _PnlFigures(serializers.Serializer):
    realised = serializers.DecimalField(**MONEY, help_text="Realised today (the market day, IST), rupees.")
    unrealised = serializers.DecimalField(**MONEY, help_text="Unrealised on open positions at their last mark.")
    total = serializers.DecimalField(**MONEY)
    charges = serializers.DecimalField(
        **MONEY,
        help_text="Today's fills' brokerage, STT, exchange charges, SEBI fee, stamp duty and GST (the charges model's "
        "figure until the broker's own is known).",
    )
    net = serializers.DecimalField(**MONEY, help_text="Total net of charges: total - charges.")
    open_positions = serializers.IntegerField()


class AccountPnlSerializer(_PnlFigures):
    account_id = serializers.IntegerField()
    account = serializers.CharField(help_text="Account name.")


class StrategyPnlSerializer(_PnlFigures):
    strategy_id = serializers.IntegerField(allow_null=True, help_text="Null: orders of no strategy.")
    strategy = serializers.CharField(help_text="Strategy name.")


class PnlTotalsSerializer(_PnlFigures):
    exposure = serializers.DecimalField(**MONEY, help_text=(
            "Open positions' value at their last mark plus working entries' remaining quantity at the price "
            "they were sized at: the account book's exposure, as the risk checks count it."
        ))


class PnlRealtimeSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    day_start = serializers.DateTimeField(help_text="Where today begins for realised P&L (midnight IST).")
    accounts = AccountPnlSerializer(many=True)
    strategies = StrategyPnlSerializer(many=True)
    totals = PnlTotalsSerializer()


# --- emergency stop, strategy stop, account flatten -----------------------------------------


class FlattenRequestSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, help_text="Why, for the audit log.")


class SignalDeliveriesSerializer(SignalSerializer):
    """A signal with each mapped account's delivery: its state, its orders and why."""

    deliveries = serializers.SerializerMethodField()

    class Meta(SignalSerializer.Meta):
        fields = (*SignalSerializer.Meta.fields, "deliveries")
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "account": {"type": "integer"},
                    "account_name": {"type": "string"},
                    "state": {"type": "string", "enum": [s.value for s in DeliveryState]},
                    "orders": {"type": "array", "items": {"type": "object"}},
                    "reason": {"type": "string"},
                },
            },
        }
    )
    def get_deliveries(self, signal) -> list[dict]:
        return [
            {
                "account": row.account_id,
                "account_name": row.account.name,
                "state": row.state,
                "orders": [
                    {"id": o.id, "leg": o.leg, "side": o.side, "quantity": o.quantity, "status": o.status}
                    for o in row.orders
                ],
                "reason": row.reason,
            }
            for row in signal_deliveries(signal_id=signal.id)
        ]


class OperationScopeSerializer(serializers.Serializer):
    """What an operation flattens (``Operation.scope``): one account, one strategy, the MIS
    positions, or everything."""

    account = serializers.IntegerField(allow_null=True, help_text="The one account it flattens, if one.")
    account_name = serializers.CharField(allow_null=True)
    strategy = serializers.IntegerField(allow_null=True, help_text="The one strategy it stops, if one.")
    strategy_name = serializers.CharField(allow_null=True)
    product = serializers.CharField(allow_null=True, help_text="MIS: only intraday positions (the square-off).")
    description = serializers.CharField(help_text="In words, as the Operations page says it.")


class OperationProgressSerializer(serializers.Serializer):
    """What it has done: counted from the orders it sent or cancelled (each carries its id) and its
    report, written as each account finishes; the exits' states are read now."""

    so_far = serializers.BooleanField(help_text="It is queued or running: the figures still grow.")
    exits_sent = serializers.IntegerField()
    exits_filled = serializers.IntegerField(help_text="Exits filled: those positions are flat.")
    exits_working = serializers.IntegerField(help_text="Exits sent and not filled yet.")
    exits_refused = serializers.IntegerField(help_text="Exits refused by the checks or the broker: still open.")
    cancelled = serializers.IntegerField(help_text="Open orders it cancelled.")
    not_cancelled = serializers.IntegerField(help_text="Open orders it could not cancel (its report says why).")
    skipped = serializers.IntegerField(help_text="Positions with an exit already in flight.")
    errors = serializers.IntegerField()
    accounts_done = serializers.IntegerField(help_text="Accounts whose cancels and exits are all done.")


class _OperationListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        # One progress read for the page, not one per operation: the list's queries stay fixed.
        operations = list(data.all() if hasattr(data, "all") else data)
        self._progress = operations_progress(operations)
        return super().to_representation(operations)


class OperationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    actor = serializers.CharField(
        source="actor.get_username",
        allow_null=True,
        default=None,
        help_text="The username who started it; null when the system did (beat, the daily-loss limit, a command).",
    )
    scope = serializers.SerializerMethodField()
    reason = serializers.CharField()
    started = serializers.CharField(help_text="What took effect at once, before the task.")
    summary = serializers.CharField(help_text="What the task did (once done or failed).")
    progress = serializers.SerializerMethodField()
    report = serializers.JSONField(
        help_text="Written as each account finishes: order ids (cancelled, exit_orders, failed_exits), why others "
        "were not done (not_cancelled by order id, skipped by position id), errors as {account_id, message}, "
        "accounts_done."
    )
    created_at = serializers.DateTimeField()
    running_since = serializers.DateTimeField(allow_null=True, help_text="When a worker began its task.")
    finished_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        list_serializer_class = _OperationListSerializer

    @extend_schema_field(OperationScopeSerializer)
    def get_scope(self, operation) -> dict:
        scope = operation.scope
        account = operation.account if "account_id" in scope else None
        strategy = operation.strategy if "strategy_id" in scope else None
        product = scope.get("product")
        if account is not None:
            description = account.name
        elif strategy is not None:
            description = f"Strategy {strategy.name}, every account"
        elif product:
            description = f"{product} positions, every account"
        else:
            description = "Every account"
        return {
            "account": account.id if account else None,
            "account_name": account.name if account else None,
            "strategy": strategy.id if strategy else None,
            "strategy_name": strategy.name if strategy else None,
            "product": product,
            "description": description,
        }

    @extend_schema_field(OperationProgressSerializer)
    def get_progress(self, operation) -> dict:
        known = getattr(self.parent, "_progress", None) or {}
        progress = known.get(operation.id) or operations_progress([operation])[operation.id]
        return OperationProgressSerializer(progress).data

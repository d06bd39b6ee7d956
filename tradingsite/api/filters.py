"""Query filters for the API's lists (django-filter): by account, strategy, status, instrument, dates."""

from __future__ import annotations

from datetime import UTC

import django_filters as filters
from django import forms
from django_filters.fields import IsoDateTimeField

from accounts.models import Account
from execution.models import AccountStrategy, Fill, Operation, OperationKind, OperationState, Order, Position
from risk.models import RiskDecisionRecord
from strategies.models import Evaluation, Instrument, Signal, Strategy


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, with any offset, turned into UTC.

    Python accepts offsets up to ±23:59 and PostgreSQL only up to ±15:59, and a time near year 1
    can leave the calendar once shifted: normalising here refuses those with a 400, not a 500.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This time is out of range.", code="invalid")


class TimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class InstrumentSymbolFilter(filters.CharFilter):
    """``symbol=INFY`` or ``symbol=NSE:INFY``: matched on the trading symbol (and the exchange if given)."""

    def __init__(self, *args, prefix: str = "instrument__", **kwargs):
        self.prefix = prefix
        kwargs.setdefault("label", 'Instrument symbol, "INFY" or "NSE:INFY"')
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        exchange, _, symbol = value.strip().rpartition(":")
        qs = qs.filter(**{f"{self.prefix}tradingsymbol__iexact": symbol})
        return qs.filter(**{f"{self.prefix}exchange__iexact": exchange}) if exchange else qs


class AccountFilter(filters.FilterSet):
    class Meta:
        model = Account
        fields = ("broker", "status", "trading_enabled")


class StrategyFilter(filters.FilterSet):
    class Meta:
        model = Strategy
        fields = ("library_key", "timeframe", "product", "active", "trading_enabled")


class InstrumentFilter(filters.FilterSet):
    symbol = InstrumentSymbolFilter(prefix="")

    class Meta:
        model = Instrument
        fields = ("exchange", "segment", "instrument_type")


class MappingFilter(filters.FilterSet):
    class Meta:
        model = AccountStrategy
        fields = ("account", "strategy", "enabled")


class OrderFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Order._meta.get_field("status").choices)
    symbol = InstrumentSymbolFilter()
    created_after = TimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = TimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ("account", "strategy", "signal", "instrument", "status", "leg", "side", "broker_order_id", "tag")


class FillFilter(filters.FilterSet):
    strategy = filters.ModelChoiceFilter(field_name="order__strategy", queryset=Strategy.objects.all())
    instrument = filters.ModelChoiceFilter(field_name="order__instrument", queryset=Instrument.objects.all())
    symbol = InstrumentSymbolFilter(prefix="order__instrument__")
    filled_after = TimeFilter(field_name="filled_at", lookup_expr="gte")
    filled_before = TimeFilter(field_name="filled_at", lookup_expr="lt")

    class Meta:
        model = Fill
        fields = ("account", "order")


class PositionFilter(filters.FilterSet):
    open = filters.BooleanFilter(method="filter_open", label="Only open (true) or only flat (false) positions")
    symbol = InstrumentSymbolFilter()

    class Meta:
        model = Position
        fields = ("account", "strategy", "instrument", "product", "state_unknown")

    def filter_open(self, qs, name, value):
        if value is None:
            return qs
        return qs.exclude(quantity=0) if value else qs.filter(quantity=0)


class SignalFilter(filters.FilterSet):
    target = filters.TypedChoiceFilter(choices=[(1, "1"), (0, "0"), (-1, "-1")], coerce=int)
    symbol = InstrumentSymbolFilter()
    bar_after = TimeFilter(field_name="bar_time", lookup_expr="gte")
    bar_before = TimeFilter(field_name="bar_time", lookup_expr="lt")

    class Meta:
        model = Signal
        fields = ("strategy", "instrument", "source", "target")


class RiskDecisionFilter(filters.FilterSet):
    symbol = InstrumentSymbolFilter()
    created_after = TimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = TimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RiskDecisionRecord
        fields = ("account", "strategy", "signal", "instrument", "approved", "is_exit")


class EvaluationFilter(filters.FilterSet):
    bar_after = TimeFilter(field_name="bar_close", lookup_expr="gte")
    bar_before = TimeFilter(field_name="bar_close", lookup_expr="lt")
    with_problems = filters.BooleanFilter(
        method="filter_with_problems", label="Only bars where some instrument was not evaluated or refused (true)"
    )

    class Meta:
        model = Evaluation
        fields = ("strategy", "timeframe", "outcome", "reason_code")

    def filter_with_problems(self, qs, name, value):
        if value is None:
            return qs
        return qs.exclude(problems={}) if value else qs.filter(problems={})


class OperationFilter(filters.FilterSet):
    """``kind=emergency_stop&state=running``: a value that is not one of the choices is a 400."""

    kind = filters.ChoiceFilter(choices=OperationKind.choices)
    state = filters.ChoiceFilter(choices=OperationState.choices)

    class Meta:
        model = Operation
        fields = ("kind", "state")

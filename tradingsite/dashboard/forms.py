"""Forms of the dashboard: they parse and validate; the services do the work."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from execution.models import OrderStatus
from strategies.models import Instrument, Strategy

DIRECTIONS = [("1", "Long (+1)"), ("0", "Flat (0)"), ("-1", "Short (-1)")]


class InstrumentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Instrument) -> str:
        return obj.kite_symbol


class ManualSignalForm(forms.Form):
    """An operator's signal: a strategy's target on one of its instruments, with the stop that sizes it."""

    strategy = forms.ModelChoiceField(queryset=Strategy.objects.filter(active=True).order_by("name"))
    instrument = InstrumentChoiceField(
        queryset=Instrument.objects.filter(strategies__active=True).distinct().order_by("exchange", "tradingsymbol")
    )
    direction = forms.TypedChoiceField(choices=DIRECTIONS, coerce=int, initial="1")
    stop_price = forms.DecimalField(
        required=False,
        min_value=Decimal("0.05"),
        max_digits=14,
        decimal_places=4,
        help_text="Where the trade is wrong: below the price for a long, above it for a short. "
        "Quantity is sized so that hitting it loses at most the mapping's risk per trade.",
    )
    note = forms.CharField(required=False, max_length=200)

    def clean(self) -> dict:
        data = super().clean()
        strategy, instrument = data.get("strategy"), data.get("instrument")
        if strategy and instrument and not strategy.instruments.filter(pk=instrument.pk).exists():
            symbols = ", ".join(i.kite_symbol for i in strategy.instruments.all())
            self.add_error("instrument", f"{instrument.kite_symbol} is not traded by {strategy}; it trades {symbols}.")
        if data.get("direction") in (1, -1) and data.get("stop_price") is None:
            self.add_error(
                "stop_price",
                "A long or short signal needs a stop price: the risk checks size the position from it "
                "and refuse an entry without one.",
            )
        return data


class EmergencyStopForm(forms.Form):
    reason = forms.CharField(max_length=200, initial="Emergency stop from the dashboard")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False)


class OrderFilterForm(forms.Form):
    """The orders page's filters; bad values are ignored rather than failing the page."""

    status = forms.ChoiceField(choices=[("", "Any status"), *OrderStatus.choices], required=False)
    account = forms.IntegerField(required=False, min_value=1)
    strategy = forms.IntegerField(required=False, min_value=1)

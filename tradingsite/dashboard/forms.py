"""Forms of the dashboard: they parse and validate; the services do the work."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from execution.models import OperationKind, OperationState, OrderStatus
from execution.selectors.charts import DEFAULT_BARS, MAX_BARS
from strategies.models import Instrument, Strategy, Timeframe

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
    # Optional: by default the audit log says who pressed it and from where.
    reason = forms.CharField(max_length=200, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False)


class OrderFilterForm(forms.Form):
    """The orders page's filters; bad values are ignored rather than failing the page."""

    status = forms.ChoiceField(choices=[("", "Any status"), *OrderStatus.choices], required=False)
    account = forms.IntegerField(required=False, min_value=1)
    strategy = forms.IntegerField(required=False, min_value=1)
    operation = forms.IntegerField(required=False, min_value=1)  # the orders an operation cancelled or sent


class OperationFilterForm(forms.Form):
    """The operations page's filters; bad values are ignored rather than failing the page."""

    kind = forms.ChoiceField(choices=[("", "Any kind"), *OperationKind.choices], required=False)
    state = forms.ChoiceField(choices=[("", "Any state"), *OperationState.choices], required=False)


class ChartQueryForm(forms.Form):
    """A price chart's choices: timeframe, the strategy whose lines and signals to draw, how many bars.

    With no ``strategy`` in the query at all, the first active strategy trading the instrument is
    drawn; an empty one means prices and fills only. The timeframe defaults to the strategy's.
    """

    timeframe = forms.ChoiceField(choices=Timeframe.choices, required=False)
    strategy = forms.ModelChoiceField(
        queryset=Strategy.objects.none(),
        required=False,
        error_messages={"invalid_choice": "That strategy does not trade this instrument: pick one that does."},
    )
    bars = forms.IntegerField(
        min_value=10, max_value=MAX_BARS, required=False, help_text=f"Bars shown, 10 to {MAX_BARS}."
    )

    def __init__(self, data, *, strategies: list[Strategy]) -> None:
        super().__init__(data)
        self.strategies = strategies
        self.fields["strategy"].queryset = Strategy.objects.filter(pk__in=[s.pk for s in strategies])
        self._strategy_asked = "strategy" in data

    def clean(self) -> dict:
        data = super().clean()
        if not self._strategy_asked:
            data["strategy"] = self.defaults()["strategy"]
        if not data.get("timeframe"):
            data["timeframe"] = data["strategy"].timeframe if data.get("strategy") else Timeframe.M5
        data["bars"] = data.get("bars") or DEFAULT_BARS
        return data

    def defaults(self) -> dict:
        """What the chart shows when the query is unusable: the first active strategy, its timeframe."""
        strategy = next((s for s in self.strategies if s.active), None)
        timeframe = strategy.timeframe if strategy else Timeframe.M5
        return {"strategy": strategy, "timeframe": timeframe, "bars": DEFAULT_BARS}


class StrategySettingsForm(forms.Form):
    """A strategy's parameters, field by field from its type's parameter model, and how it sizes and enters."""

    max_positions = forms.IntegerField(
        required=False,
        min_value=1,
        label="Maximum positions",
        help_text="Most positions it holds at once on an account; each entry may use the mapping's allocated "
        "capital ÷ this. Empty: one per instrument.",
    )
    enter_on_first_bar = forms.BooleanField(
        required=False,
        help_text="On its first bar on an instrument, take the position it holds now instead of waiting for a change.",
    )

    def __init__(self, *args, strategy: Strategy, **kwargs) -> None:
        from strategies.library import get_strategy_class
        from strategies.parameter_forms import add_parameter_fields

        super().__init__(*args, **kwargs)
        self.strategy = strategy
        self.strategy_class = get_strategy_class(strategy.library_key)
        self.fields["max_positions"].initial = strategy.max_positions
        self.fields["enter_on_first_bar"].initial = strategy.enter_on_first_bar
        self.parameter_names = add_parameter_fields(self, self.strategy_class, strategy.parameters)

    def parameter_fields(self) -> list:
        return [self[name] for name in self.parameter_names]

    def setting_fields(self) -> list:
        return [self["max_positions"], self["enter_on_first_bar"]]

    def clean(self) -> dict:
        from strategies.parameter_forms import clean_parameters

        data = super().clean()
        parameters = clean_parameters(self, self.strategy_class)
        if parameters is not None:
            data["parameters"] = parameters
        return data

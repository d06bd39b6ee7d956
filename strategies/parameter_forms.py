"""Strategy parameters as a form, generated from the strategy class's parameter model.

Each strategy type declares its parameters as a pydantic model (``strategies/library``): types,
bounds, defaults and help text. This module turns that model into Django form fields, so the
dashboard and the admin edit parameters field by field instead of as raw JSON, and validates the
whole set with the model itself: a field's error goes to that field, a cross-field rule's error
(``fast_period`` must be smaller than ``slow_period``) is shown once, above the fields.
"""

from __future__ import annotations

import math
from typing import Any

import annotated_types
from django import forms
from pydantic import ValidationError

from .library import Strategy, StrategyParameterError

PREFIX = "param_"


def _bounds(metadata: list) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["min_value"] = item.ge
        elif isinstance(item, annotated_types.Gt):
            bounds["min_value"], bounds["gt"] = item.gt, True
        elif isinstance(item, annotated_types.Le):
            bounds["max_value"] = item.le
        elif isinstance(item, annotated_types.Lt):
            bounds["max_value"], bounds["lt"] = item.lt, True
    return bounds


ACRONYMS = {"atr": "ATR", "rsi": "RSI", "sma": "SMA", "ema": "EMA"}


def _label(name: str) -> str:
    words = name.split("_")
    text = " ".join(ACRONYMS.get(word, word) for word in words)
    return text[:1].upper() + text[1:]


def parameter_field(name: str, info) -> forms.Field:
    """One form field for one parameter of the model: its type, bounds, default and help text."""
    annotation = info.annotation
    help_text = info.description or ""
    # Blank means the model's default: a strategy whose type just changed keeps working.
    common = {"label": _label(name), "help_text": help_text, "initial": info.default, "required": False}
    if annotation is bool:
        return forms.BooleanField(**common)
    common["help_text"] = f"{help_text} Default {info.default}.".strip()
    bounds = _bounds(info.metadata)
    strict = [f"above {bounds['min_value']}"] if bounds.pop("gt", False) else []
    strict += [f"below {bounds['max_value']}"] if bounds.pop("lt", False) else []
    if strict:  # the form checks ">=" and "<=": the model checks the strict bound, on this field
        common["help_text"] = f"{common['help_text']} Must be {' and '.join(strict)}."
    if annotation is int:
        return forms.IntegerField(**common, **_finite(bounds))
    if annotation is float:
        field = forms.FloatField(**common, **_finite(bounds))
        field.widget.attrs.setdefault("step", "any")
        return field
    return forms.CharField(**common)


def _finite(bounds: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bounds.items() if not (isinstance(v, float) and math.isinf(v))}


def add_parameter_fields(form: forms.BaseForm, strategy_class: type[Strategy], values: dict | None) -> list[str]:
    """Add the class's parameter fields to ``form`` (initial: ``values``, else the defaults); their names."""
    names = []
    for name, info in strategy_class.Parameters.model_fields.items():
        field = parameter_field(name, info)
        if values and name in values:
            field.initial = values[name]
        form.fields[PREFIX + name] = field
        names.append(PREFIX + name)
    return names


def clean_parameters(form: forms.BaseForm, strategy_class: type[Strategy]) -> dict | None:
    """The validated parameter set (JSON-safe, defaults filled in), or None with errors on the form.

    A field's own error is reported by its form field; the model's errors go where they belong: to
    the field they name, or, for a rule across fields, once to the form as a whole.
    """
    values = {}
    for name in strategy_class.Parameters.model_fields:
        key = PREFIX + name
        if key in form.errors:
            return None
        value = form.cleaned_data.get(key)
        if value is not None:
            values[name] = value
    try:
        return strategy_class.Parameters.model_validate(values).model_dump(mode="json")
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            target = PREFIX + str(loc[0]) if loc and PREFIX + str(loc[0]) in form.fields else None
            form.add_error(target, error["msg"])
        return None
    except StrategyParameterError as exc:  # pragma: no cover - the model raises ValidationError
        form.add_error(None, str(exc))
        return None

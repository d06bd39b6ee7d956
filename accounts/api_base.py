"""The one rule for API input: a field the endpoint does not know is refused, never dropped.

A client that misspells a field, or sends one the endpoint does not take (``"quantity"`` on a
manual signal), must not see its request half-applied: it gets a 400 that names each unknown field.
Every input serializer of every app derives from ``StrictSerializer`` or ``StrictModelSerializer``;
they live here, in the lowest app, so that every app can import them (``tests/api`` checks every
write endpoint in the OpenAPI schema against this rule).

Read-only fields are known: a client may send back what it read (``id``, ``created_at``), and they
are ignored as DRF ignores them.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ValidationError


def unknown_field_message(known: list[str]) -> str:
    taken = ", ".join(known) if known else "none"
    return f"Unknown field: this endpoint does not take it. The fields it takes: {taken}."


class StrictInputMixin:
    """Refuse unknown keys of a JSON object with one error per key, beside the fields' own errors."""

    def to_internal_value(self, data):
        unknown: list[str] = []
        if isinstance(data, Mapping):
            known = set(self.fields)  # type: ignore[attr-defined]
            unknown = sorted(str(key) for key in data if key not in known)
        errors: dict = {}
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors = dict(exc.detail)
            value = None
        if unknown:
            writable = [name for name, field in self.fields.items() if not field.read_only]  # type: ignore[attr-defined]
            for key in unknown:
                errors[key] = [unknown_field_message(writable)]
        if errors:
            raise ValidationError(errors)
        return value


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    pass

"""Plain SQL on the order path: what the selectors and services that use it share.

The per-account order path runs on every mapped account for every signal, and the ORM spent
several times longer building its statements than PostgreSQL spent running them. Its hottest
reads and the fill's ledger writes are therefore written out in SQL that PostgreSQL and SQLite
(the embedded default) both run; the rest of the app stays on the ORM. Table and column names
are the models' own, so a migration that renames one breaks these statements and the tests
over them, loudly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.utils.functional import cached_property

ZERO = Decimal("0")


def decimal_from_db(value, places: int, default: Decimal | None = ZERO) -> Decimal | None:
    """A numeric column or sum as a Decimal with the field's places.

    PostgreSQL returns Decimal; SQLite returns int or float for numeric columns and their sums.
    """
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places)) if value is not None else default


def datetime_to_db(value: datetime):
    """An aware datetime as the database compares it (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def for_update() -> str:
    """`` FOR UPDATE`` where rows can be locked (PostgreSQL); SQLite serialises whole writes instead."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


class ModelColumns:
    """One model's columns in a plain-SQL SELECT, and the rows read back as model instances.

    The instances are what the ORM would have built: each column passes through the same
    converters (the backend's and the field's ``from_db_value``) and ``Model.from_db``, so they
    behave like any other (``refresh_from_db``, ``save(update_fields=...)``). What is saved is the
    ORM's statement building, most of a single-row read's cost (see the module's docstring).
    Declared at import; the fields are looked at on first use, once every model is loaded.
    """

    def __init__(self, model: type[Model], alias: str):
        self.model = model
        self.alias = alias
        self._converters_by_vendor: dict[str, list[list]] = {}

    @cached_property
    def fields(self) -> list:
        return list(self.model._meta.concrete_fields)

    @cached_property
    def _columns(self) -> list:
        return [field.get_col(self.alias) for field in self.fields]  # what the converters are given

    @cached_property
    def _attnames(self) -> list[str]:
        return [field.attname for field in self.fields]

    def select(self) -> str:
        """``alias."column", ...`` in the model's field order, as ``build`` reads them."""
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def build(self, row: Sequence, start: int = 0) -> Model:
        """The instance from ``row[start:start + len(self.fields)]``."""
        values = []
        for column, converters, value in zip(self._columns, self._converters(), row[start:], strict=False):
            for converter in converters:
                value = converter(value, column, connection)
            values.append(value)
        return self.model.from_db(connection.alias, self._attnames, values)

    def _converters(self) -> list[list]:
        converters = self._converters_by_vendor.get(connection.vendor)
        if converters is None:  # once per database backend
            converters = [
                connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                for column in self._columns
            ]
            self._converters_by_vendor[connection.vendor] = converters
        return converters

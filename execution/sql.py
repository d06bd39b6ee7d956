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


def returning_id() -> str:
    """`` RETURNING id`` where the database has it (PostgreSQL; SQLite from 3.35); see ``inserted_id``."""
    return " RETURNING id" if connection.features.can_return_columns_from_insert else ""


def inserted_id(cursor) -> int | None:
    """The id of the row an INSERT ending in ``returning_id()`` wrote, or None if it wrote none
    (ON CONFLICT DO NOTHING). Without RETURNING, SQLite's last row id."""
    if connection.features.can_return_columns_from_insert:
        row = cursor.fetchone()
        return row[0] if row else None
    return cursor.lastrowid if cursor.rowcount else None


_INSERT_SQL = "INSERT INTO {table} ({columns}) VALUES ({values})"
_UPDATE_SQL = "UPDATE {table} SET {assignments} WHERE {pk} = %s{conditions}"


class ModelColumns:
    """One model's row in plain SQL: rows read back as model instances, and new instances inserted.

    Both do what the ORM does, without its statement building (most of a single-row statement's
    cost, see the module's docstring). A row read passes each column through the ORM's own
    converters (the backend's and the field's ``from_db_value``) and ``Model.from_db``; an insert
    takes each field's ``pre_save`` (``auto_now``) and ``get_db_prep_save``. The instances behave
    like any other (``refresh_from_db``, ``save(update_fields=...)``); model signals are not sent
    (the project connects none to these models). Declared at import; the fields are looked at on
    first use, once every model is loaded.
    """

    def __init__(self, model: type[Model], alias: str = ""):
        self.model = model
        self.alias = alias or model._meta.db_table
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

    def insert(self, instance: Model) -> None:
        """INSERT a new instance as ``save()`` would, and give it its id."""
        fields = self._insert_fields
        values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(self._insert_sql() + returning_id(), values)
            instance.pk = inserted_id(cursor)
        instance._state.adding = False
        instance._state.db = connection.alias

    def update(self, instance: Model, fields: Sequence[str], **where) -> int:
        """UPDATE the instance's row with its values of ``fields`` (by name, each with its
        ``pre_save``, so ``auto_now`` moves) where the row still has the values in ``where``.
        Returns the number of rows changed: 0 if the row no longer matched."""
        meta, quote = self.model._meta, connection.ops.quote_name
        changed = [meta.get_field(name) for name in fields]
        conditions = [meta.get_field(name) for name in where]
        sql = _UPDATE_SQL.format(
            table=quote(meta.db_table),
            pk=quote(meta.pk.column),
            assignments=", ".join(f"{quote(field.column)} = %s" for field in changed),
            conditions="".join(f" AND {quote(field.column)} = %s" for field in conditions),
        )
        values = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in changed]
        values.append(instance.pk)
        values.extend(field.get_db_prep_save(where[field.name], connection) for field in conditions)
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            return cursor.rowcount

    @cached_property
    def _insert_fields(self) -> list:
        return [field for field in self.fields if not field.primary_key]

    def _insert_sql(self) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self._insert_fields)
        placeholders = ", ".join(["%s"] * len(self._insert_fields))
        return _INSERT_SQL.format(table=quote(self.model._meta.db_table), columns=columns, values=placeholders)

    def _converters(self) -> list[list]:
        converters = self._converters_by_vendor.get(connection.vendor)
        if converters is None:  # once per database backend
            converters = [
                connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                for column in self._columns
            ]
            self._converters_by_vendor[connection.vendor] = converters
        return converters

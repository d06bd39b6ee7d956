"""Plain SQL on the order path: what the selectors and services that use it share.

The per-account order path runs on every mapped account for every signal, and the ORM spent
several times longer building its statements than PostgreSQL spent running them. Its hottest
reads and the fill's ledger writes are therefore written out in SQL that PostgreSQL and SQLite
(the embedded default) both run; the rest of the app stays on the ORM. Table and column names
are the models' own, so a migration that renames one breaks these statements and the tests
over them, loudly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection

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

"""Every SQL statement of the order path, owned by the account book: the one data-access style
from a delivery to a fill.

The order path runs on every mapped account for every signal, and the ORM spent several times
longer building its statements than PostgreSQL spent running them. So its statements are written
out here, in SQL that PostgreSQL and SQLite (the embedded default) both run, and PostgreSQL
prepares each once per connection (``DATABASE_PREPARED_STATEMENTS``). Everything else in the app
stays on the ORM.

Rules that keep this module small and honest:

- only this app's tables (``execution_*``). Another app's rows are read or locked through that app:
  the account lock is ``accounts.locks``, the engine's switches ``risk.selectors.engine_flags``,
  the signal with its strategy and instrument ``execution.selectors.signal_for_execution`` (ORM,
  once per order message). Rows are written through ``ModelColumns``, from the model's own fields;
- table and column names are the models' own, so a migration that renames one breaks these
  statements and the tests over them, loudly;
- functions here run statements and hand back plain rows; the book, the decision, deliveries and
  fills give them their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.utils.functional import cached_property

ZERO = Decimal("0")


# --- mechanics ---------------------------------------------------------------------------------


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


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


_INSERT_SQL = "INSERT INTO {table} ({columns}) VALUES ({values})"
_UPDATE_SQL = "UPDATE {table} SET {assignments} WHERE {pk} = %s{conditions}"


class ModelColumns:
    """One model's row in plain SQL: new instances inserted, and instances' fields updated.

    Both do what the ORM does, without its statement building (most of a single-row statement's
    cost, see the module's docstring): an insert takes each field's ``pre_save`` (``auto_now``) and
    ``get_db_prep_save``, and gives the instance its id, so it behaves like any other
    (``refresh_from_db``, ``save(update_fields=...)``); model signals are not sent (the project
    connects none to these models). Declared at import; the fields are looked at on first use.
    """

    def __init__(self, model: type[Model]):
        self.model = model

    @cached_property
    def _insert_fields(self) -> list:
        return [field for field in self.model._meta.concrete_fields if not field.primary_key]

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

    def _insert_sql(self) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self._insert_fields)
        return _INSERT_SQL.format(
            table=quote(self.model._meta.db_table), columns=columns, values=_placeholders(len(self._insert_fields))
        )


# --- the account book ---------------------------------------------------------------------------
# One decision reads its account in two statements: (1) its delivery of the signal, the strategy's
# mapping, today's realised P&L and the open positions, joined on one row that always exists;
# (2) the orders that are working, sent in the last minute, or of the signal.

_BOOK_SQL = """
SELECT d.id, d.state, d.reason, m.enabled, m.allocation_pct, m.risk_per_trade_pct,
       (SELECT SUM(f.realised_pnl) FROM execution_fill f WHERE f.account_id = %s AND f.filled_at >= %s),
       p.strategy_id, p.instrument_id, p.product, p.quantity, p.average_price, p.last_price, p.unrealised_pnl
FROM (SELECT 1 AS one) book
LEFT JOIN execution_delivery d ON d.signal_id = %s AND d.account_id = %s
LEFT JOIN execution_accountstrategy m ON m.account_id = %s AND m.strategy_id = %s
LEFT JOIN execution_position p ON p.account_id = %s AND p.quantity <> 0
"""
_BOOK_ORDERS_SQL = """
SELECT strategy_id, instrument_id, product, leg, side, quantity, filled_quantity, reference_price, status,
       placed_at >= %s, placed_at >= %s, signal_id = %s
FROM execution_order
WHERE account_id = %s AND (status IN ({working}) OR placed_at >= %s OR signal_id = %s)
"""


def book_rows(
    *,
    account_id: int,
    signal_id: int | None,
    strategy_id: int | None,
    today_start: datetime,
    minute_ago: datetime,
    second_ago: datetime,
    working: Sequence[str],
) -> tuple[list[tuple], list[tuple]]:
    """The two statements of one account's book: (delivery, mapping, realised, position) rows, at
    least one, and the order rows."""
    minute, second = datetime_to_db(minute_ago), datetime_to_db(second_ago)
    with connection.cursor() as cursor:
        cursor.execute(
            _BOOK_SQL,
            [account_id, datetime_to_db(today_start), signal_id, account_id, account_id, strategy_id, account_id],
        )
        book = cursor.fetchall()
        cursor.execute(
            _BOOK_ORDERS_SQL.format(working=_placeholders(len(working))),
            [minute, second, signal_id, account_id, *working, minute, signal_id],
        )
        orders = cursor.fetchall()
    return book, orders


# Many accounts' books at once, for the pages and checks that show or watch every account (the risk
# page, the daily-loss check): the same figures, three statements whatever the number of accounts.
_MANY_POSITIONS_SQL = """
SELECT account_id, strategy_id, instrument_id, product, quantity, average_price, last_price, unrealised_pnl
FROM execution_position WHERE quantity <> 0{accounts}
"""
_MANY_WORKING_SQL = """
SELECT account_id, strategy_id, instrument_id, product, leg, side, quantity, filled_quantity, reference_price
FROM execution_order WHERE status IN ({working}){accounts}
"""
# Today's fills per (account, strategy): realised P&L and charges. A strategy's P&L is its orders'.
_MANY_TODAY_SQL = """
SELECT f.account_id, o.strategy_id, SUM(f.realised_pnl), SUM(f.charges)
FROM execution_fill f JOIN execution_order o ON o.id = f.order_id
WHERE f.filled_at >= %s{accounts} GROUP BY f.account_id, o.strategy_id
"""


def many_books_rows(
    *, account_ids: Sequence[int] | None, today_start: datetime, working: Sequence[str]
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Position, working-order and today's (account, strategy, realised P&L, charges) rows of the
    accounts asked for (all if None)."""
    where, params = "", []
    if account_ids is not None:
        where, params = f" AND account_id IN ({_placeholders(len(account_ids))})", list(account_ids)
    with connection.cursor() as cursor:
        cursor.execute(_MANY_POSITIONS_SQL.format(accounts=where), params)
        positions = cursor.fetchall()
        cursor.execute(
            _MANY_WORKING_SQL.format(working=_placeholders(len(working)), accounts=where), [*working, *params]
        )
        orders = cursor.fetchall()
        cursor.execute(
            _MANY_TODAY_SQL.format(accounts=where.replace("account_id", "f.account_id")),
            [datetime_to_db(today_start), *params],
        )
        today = cursor.fetchall()
    return positions, orders, today


# --- deliveries ---------------------------------------------------------------------------------
# No row lock of their own: every writer of a delivery's state (the decision, the sweeper's expiry)
# holds its account's lock first, so they cannot interleave.

_DELIVERY_SQL = "SELECT id, state, reason FROM execution_delivery WHERE signal_id = %s AND account_id = %s"
_DELIVERY_INSERT_SQL = (
    "INSERT INTO execution_delivery (signal_id, account_id, state, reason, created_at)"
    " VALUES (%s, %s, %s, '', %s) ON CONFLICT (signal_id, account_id) DO NOTHING"
)
_DELIVERY_DECIDED_SQL = (
    "UPDATE execution_delivery SET state = %s, reason = %s, decided_at = %s WHERE id = %s AND state = %s"
)


def delivery_insert(*, signal_id: int, account_id: int, state: str, now: datetime) -> tuple[int, str, str]:
    """Write a delivery that is missing (a signal sent straight to an account, or mapped since) and
    return it as ``(id, state, reason)``; one that exists already is returned as it is."""
    with connection.cursor() as cursor:
        cursor.execute(_DELIVERY_INSERT_SQL, [signal_id, account_id, state, datetime_to_db(now)])
        cursor.execute(_DELIVERY_SQL, [signal_id, account_id])
        return cursor.fetchone()


def delivery_decided(*, delivery_id: int, state: str, reason: str, now: datetime, pending: str) -> int:
    """Mark a pending delivery decided; the number of rows changed (0 if it was not pending)."""
    with connection.cursor() as cursor:
        cursor.execute(_DELIVERY_DECIDED_SQL, [state, reason, datetime_to_db(now), delivery_id, pending])
        return cursor.rowcount


# --- fills into the position ledger ---------------------------------------------------------------

# The position's row, locked, and the order's fills so far (all fills of one order share this lock).
_POSITION_SQL = """
SELECT p.id, p.quantity, p.average_price, p.realised_pnl,
       (SELECT SUM(f.quantity) FROM execution_fill f WHERE f.order_id = %s),
       (SELECT SUM(f.quantity * f.price) FROM execution_fill f WHERE f.order_id = %s)
FROM execution_position p
WHERE p.account_id = %s AND p.instrument_id = %s AND p.product = %s AND p.strategy_id {strategy}
"""
_FILL_INSERT_SQL = (
    "INSERT INTO execution_fill"
    " (order_id, account_id, broker_trade_id, quantity, price, realised_pnl, charges, charges_estimated,"
    " filled_at, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    # A trade already recorded (postback and reconciliation both saw it) inserts nothing.
    " ON CONFLICT (account_id, broker_trade_id) DO NOTHING"
)
_POSITION_UPDATE_SQL = (
    "UPDATE execution_position SET quantity = %s, average_price = %s, realised_pnl = %s, last_price = %s,"
    " unrealised_pnl = %s, state_unknown = %s, updated_at = %s WHERE id = %s"
)


def position_for_update(
    cursor, *, order_id: int, account_id: int, instrument_id: int, product: str, strategy_id: int | None
) -> tuple | None:
    """Lock one position's row: ``(id, quantity, average_price, realised_pnl, order's filled
    quantity, order's filled value)``, or None if the position has no row yet."""
    strategy = "IS NULL" if strategy_id is None else "= %s"
    params = [order_id, order_id, account_id, instrument_id, product]
    if strategy_id is not None:
        params.append(strategy_id)
    cursor.execute(_POSITION_SQL.format(strategy=strategy) + for_update(), params)
    return cursor.fetchone()


def fill_insert(cursor, *, values: Sequence) -> int | None:
    """INSERT one fill (the columns of ``_FILL_INSERT_SQL``); its id, or None if the trade is known."""
    cursor.execute(_FILL_INSERT_SQL + returning_id(), values)
    return inserted_id(cursor)


def position_update(cursor, *, values: Sequence) -> None:
    """UPDATE a locked position with a fill's effect (the columns of ``_POSITION_UPDATE_SQL``)."""
    cursor.execute(_POSITION_UPDATE_SQL, values)

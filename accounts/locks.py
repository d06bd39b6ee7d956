"""The account lock: every write that decides on an account's risk or changes its standing takes
it here, and nowhere else.

**The lock order of the whole system** (one place; the README's "Locks" section repeats it):

1. the engine state row (``risk.locks.lock_engine_state``), when an operation changes the engine's
   switches;
2. a strategy's row (``risk.locks.lock_strategy``), when its trading switch changes;
3. accounts, in ascending id order (``lock_accounts``; ``lock_account`` for one);
4. then the rows under an account: a position's ledger row (a fill), an order's row (a broker's
   answer, a postback, reconciliation).

Whoever needs several takes them in that order, so two writers never wait on each other in a
circle. Order decisions, mapping changes, halts, logins and square-offs on one account queue up on
its lock, so the risk snapshot each of them reads cannot change under it until it has committed.
A test can swap ``lock_account`` out to show what it prevents (tests/execution/test_races.py).

The lock is one plain-SQL statement of this app's own table (``SELECT ... FOR UPDATE`` in id
order), its rows built into instances through the ORM's own converters and ``Account.from_db``: the
order path runs it first in every decision, and the ORM's ``select_for_update()`` cost three times
as much (``Account.objects.raw`` half as much again, working its columns out on every call).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from django.db import connection
from django.db.transaction import TransactionManagementError

from .models import Account

_LOCK_SQL = "SELECT {columns} FROM accounts_account WHERE id IN ({ids}) ORDER BY id"


@cache
def _lock_sql(vendor: str, count: int) -> str:  # vendor: the cache key (FOR UPDATE only where rows lock)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in Account._meta.concrete_fields)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return _LOCK_SQL.format(columns=columns, ids=", ".join(["%s"] * count)) + lock


@cache
def _converters(vendor: str) -> list[tuple]:  # vendor: the cache key (SQLite converts more)
    """Each column's converters, as the ORM applies them to a row it reads (the backend's, then the
    field's ``from_db_value``): worked out once per backend instead of on every lock."""
    columns = [field.get_col(Account._meta.db_table) for field in Account._meta.concrete_fields]
    return [
        (column, connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        for column in columns
    ]


def _account(row) -> Account:
    values = []
    for (column, converters), value in zip(_converters(connection.vendor), row, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        values.append(value)
    return Account.from_db(connection.alias, _ATTNAMES, values)


_ATTNAMES = [field.attname for field in Account._meta.concrete_fields]


def lock_accounts(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts' rows in ascending id order until the surrounding transaction ends, and
    return them fresh, by id (a missing account is simply absent)."""
    if not connection.in_atomic_block:  # as select_for_update() refuses: a lock outside one ends at once
        raise TransactionManagementError("lock_accounts() must run inside a transaction.")
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(connection.vendor, len(ids)), ids)
        rows = cursor.fetchall()
    return {account.id: account for account in map(_account, rows)}


def lock_account(*, account_id: int) -> Account:
    """Lock one account's row until the surrounding transaction ends and return it fresh."""
    account = lock_accounts([account_id]).get(account_id)
    if account is None:
        raise Account.DoesNotExist(f"Account {account_id} does not exist.")
    return account

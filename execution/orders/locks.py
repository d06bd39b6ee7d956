"""Named row locks. Every write that decides on an account's risk takes the account lock here.

One helper instead of scattered ``select_for_update`` calls, so the lock order stays the same
everywhere (engine state first, then accounts by id) and a test can swap the lock out to show
what it prevents.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.transaction import TransactionManagementError

from accounts.models import Account

from ..sql import ModelColumns, for_update

_ACCOUNT_COLUMNS = ModelColumns(Account, "a")
_LOCK_ACCOUNT_SQL = """SELECT {columns} FROM accounts_account a WHERE a.id = %s"""


@cache
def _lock_account_sql(vendor: str) -> str:  # vendor: the cache key (FOR UPDATE only where rows lock)
    return _LOCK_ACCOUNT_SQL.format(columns=_ACCOUNT_COLUMNS.select()) + for_update()


def lock_account(*, account_id: int) -> Account:
    """Lock one account's row until the surrounding transaction ends and return it fresh.

    Order decisions, mapping changes and square-offs on one account queue up here, so the risk
    snapshot each of them reads cannot be changed by another until it has committed.
    """
    if not connection.in_atomic_block:  # as select_for_update() refuses: a lock outside one ends at once
        raise TransactionManagementError("lock_account() must run inside a transaction.")
    # Plain SQL: this runs first in every order decision (see execution/sql.py).
    with connection.cursor() as cursor:
        cursor.execute(_lock_account_sql(connection.vendor), [account_id])
        row = cursor.fetchone()
    if row is None:
        raise Account.DoesNotExist(f"Account {account_id} does not exist.")
    return _ACCOUNT_COLUMNS.build(row)

"""The account lock: one helper, accounts locked in ascending id order (accounts/locks.py)."""

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from accounts.locks import lock_account, lock_accounts
from accounts.models import Account
from tests.factories import AccountFactory

# Each lock holder needs its own connection and committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def _locked_elsewhere(account_id: int) -> bool:
    """Whether another transaction holds the account's row lock (this one would have to wait)."""
    with transaction.atomic():
        try:
            list(Account.objects.select_for_update(nowait=True).filter(pk=account_id))
        except OperationalError:
            return True
    return False


def test_accounts_are_locked_in_id_order_whatever_order_they_are_asked_in():
    if not connection.features.has_select_for_update_nowait:
        pytest.skip("row locks need PostgreSQL")
    first, second = AccountFactory(), AccountFactory()
    holding_first, release, waiter_done = threading.Event(), threading.Event(), threading.Event()

    def hold_first():
        with transaction.atomic():
            lock_account(account_id=first.id)
            holding_first.set()
            release.wait(timeout=10)
        connection.close()

    def ask_second_then_first():
        holding_first.wait(timeout=10)
        with transaction.atomic():
            lock_accounts([second.id, first.id])  # waits for ``first`` before it takes ``second``
        waiter_done.set()
        connection.close()

    threads = [threading.Thread(target=hold_first), threading.Thread(target=ask_second_then_first)]
    for thread in threads:
        thread.start()
    try:
        holding_first.wait(timeout=10)
        time.sleep(0.3)  # the waiter is queued on the first account's lock by now
        assert not waiter_done.is_set()
        # In id order the waiter holds nothing yet: a writer of the second account goes on. Taken in
        # the order asked, it would hold the second while waiting for the first, and two such callers
        # could each hold what the other waits for.
        assert not _locked_elsewhere(second.id)
        assert _locked_elsewhere(first.id)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=10)
    assert waiter_done.is_set()


def test_locking_returns_the_accounts_by_id_and_leaves_out_the_missing():
    accounts = [AccountFactory() for _ in range(3)]
    ids = [a.id for a in reversed(accounts)]
    with transaction.atomic():
        locked = lock_accounts([*ids, 987654])
    assert list(locked) == sorted(ids)
    assert {a.name for a in locked.values()} == {a.name for a in accounts}

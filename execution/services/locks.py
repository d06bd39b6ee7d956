"""Named row locks. Every write that decides on an account's risk takes the account lock here.

One helper instead of scattered ``select_for_update`` calls, so the lock order stays the same
everywhere (engine state first, then accounts by id) and a test can swap the lock out to show
what it prevents.
"""

from __future__ import annotations

from accounts.models import Account


def lock_account(*, account_id: int) -> Account:
    """Lock one account's row until the surrounding transaction ends and return it fresh.

    Order decisions, mapping changes and square-offs on one account queue up here, so the risk
    snapshot each of them reads cannot be changed by another until it has committed.
    """
    return Account.objects.select_for_update().get(pk=account_id)

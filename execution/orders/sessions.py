"""When a broker session is lost: stop the account's work visibly, and stop trusting its positions."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import Account
from accounts.services import account_mark_needs_login

from ..models import Order, OrderStatus, Position
from .state import order_transition

logger = logging.getLogger(__name__)


def account_session_lost(*, account: Account, reason: str) -> Account:
    """Kite said 403 TokenException: the account needs a login before anything else is sent.

    - the account is marked "needs login" (risk blocks its new orders until someone logs in);
    - its orders not yet sent are REJECTED with a message saying why, so the signal's batch on
      this account ends visibly instead of waiting; orders already sent are left as they are;
    - its positions become "unknown": an expired session says nothing about what is held, and
      must never read as flat. The next successful reconciliation clears the flag.
    Other accounts are untouched.
    """
    account = account_mark_needs_login(account=account, reason=reason)
    with transaction.atomic():
        Position.objects.filter(account=account).update(state_unknown=True)
        # Locking the rows makes a worker that is about to claim one of them wait and then find it
        # no longer PENDING, so nothing is sent after this point.
        pending = Order.objects.select_for_update().filter(
            account=account, status=OrderStatus.PENDING, placed_at__isnull=True
        )
        for order in pending:
            order_transition(
                order=order,
                status=OrderStatus.REJECTED,
                message="Not sent: the account's Kite session expired; it needs a login.",
            )
    logger.warning("account %s: Kite session lost (%s); marked needs login", account.pk, reason)
    return account

"""Writes for accounts."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .models import Account, AccountStatus


@transaction.atomic
def account_mark_needs_login(*, account: Account, reason: str) -> Account:
    """The broker session is gone: stop this account's work visibly until someone logs in."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status != AccountStatus.NEEDS_LOGIN:
        account.status = AccountStatus.NEEDS_LOGIN
        account.status_reason = f"Kite session expired or invalid: {reason}"[:200]
        account.status_changed_at = timezone.now()
        account.set_access_token("", expires_at=None)
        account.save()
    return account

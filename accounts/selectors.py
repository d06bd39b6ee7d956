"""Reads for accounts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import Account, AccountStatus, Broker


def account_state_counts() -> dict[str, int]:
    """How many accounts there are, by status, and how many have their kill switch off. One query."""
    counts = Account.objects.aggregate(
        total=Count("id"),
        trading_disabled=Count("id", filter=Q(trading_enabled=False)),
        **{status.value: Count("id", filter=Q(status=status)) for status in AccountStatus},
    )
    return counts


def kite_accounts() -> QuerySet[Account]:
    """Every Kite account, for the morning login page."""
    return Account.objects.filter(broker=Broker.KITE).order_by("name")


def kite_accounts_not_logged_in(*, at: datetime | None = None) -> QuerySet[Account]:
    """Kite accounts without an access token valid at ``at`` (default now)."""
    at = at or timezone.now()
    return kite_accounts().exclude(Q(access_token_encrypted__gt="") & Q(access_token_expires_at__gt=at))


def data_account() -> Account | None:
    """The one Kite account whose session fetches market data, if one is designated."""
    return Account.objects.filter(broker=Broker.KITE, is_data_account=True).first()

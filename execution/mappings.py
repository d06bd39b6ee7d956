"""Account-strategy mappings; the 100% allocation rule holds under a lock on the account."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import locks
from accounts.models import Account
from strategies.models import Strategy

from .models import AccountStrategy


@transaction.atomic
def mapping_save(
    *,
    account: Account,
    strategy: Strategy,
    allocation_pct: Decimal,
    risk_per_trade_pct: Decimal,
    enabled: bool = True,
    mapping: AccountStrategy | None = None,
) -> AccountStrategy:
    """Create or update a mapping. Raises ValidationError naming the other mappings if the
    account's enabled allocations would exceed 100%."""
    locks.lock_account(account_id=account.pk)  # two saves on one account queue up here
    mapping = mapping or AccountStrategy(account=account, strategy=strategy)
    mapping.account, mapping.strategy = account, strategy
    mapping.allocation_pct, mapping.risk_per_trade_pct, mapping.enabled = (
        Decimal(allocation_pct),
        Decimal(risk_per_trade_pct),
        enabled,
    )
    mapping.full_clean()
    mapping.save()
    return mapping


def mappings_total_allocation(*, account: Account) -> Decimal:
    from django.db.models import Sum

    total = AccountStrategy.objects.filter(account=account, enabled=True).aggregate(t=Sum("allocation_pct"))["t"]
    return total or Decimal("0")


__all__ = ["ValidationError", "mapping_save", "mappings_total_allocation"]

"""Writes for accounts."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Account, AccountStatus, Broker


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


# --- creating and editing accounts (the API and the admin's forms) ------------------------------

# What ``account_update`` may change; status moves only through halt/resume and the Kite login.
ACCOUNT_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "broker",
        "zerodha_user_id",
        "capital",
        "daily_loss_limit",
        "max_order_quantity",
        "max_order_value",
        "max_open_positions",
        "trading_enabled",
        "auto_flatten_on_daily_loss",
        "api_key",
        "is_data_account",
    }
)


def _validated_save(account: Account, *, api_secret: str | None) -> Account:
    if api_secret:
        account.set_api_secret(api_secret)
    account.full_clean()  # field validators, the model's rules (loss limit vs capital, Kite credentials), uniqueness
    account.save()
    return account


@transaction.atomic
def account_create(*, api_secret: str | None = None, **fields) -> Account:
    """Create an account from ``ACCOUNT_EDITABLE_FIELDS``. Raises ValidationError naming the field."""
    unknown = set(fields) - ACCOUNT_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"account_create() got fields it does not set: {', '.join(sorted(unknown))}")
    return _validated_save(Account(**fields), api_secret=api_secret)


@transaction.atomic
def account_update(*, account: Account, api_secret: str | None = None, **changes) -> Account:
    """Change an account's settings; a blank or missing ``api_secret`` keeps the stored one."""
    unknown = set(changes) - ACCOUNT_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"account_update() got fields it does not change: {', '.join(sorted(unknown))}")
    account = Account.objects.select_for_update().get(pk=account.pk)
    for name, value in changes.items():
        setattr(account, name, value)
    return _validated_save(account, api_secret=api_secret)


@transaction.atomic
def account_create_zerodha(
    *,
    name: str,
    api_key: str,
    api_secret: str,
    zerodha_user_id: str,
    capital: Decimal,
    daily_loss_limit: Decimal,
    max_order_quantity: int,
    max_order_value: Decimal,
    max_open_positions: int | None = None,
    auto_flatten_on_daily_loss: bool = False,
    is_data_account: bool = False,
) -> Account:
    """A Kite account, ready for its first login: it starts in NEEDS_LOGIN until the operator logs in."""
    if not api_secret:
        raise ValidationError({"api_secret": "A Kite account needs the api_secret of its Kite Connect app."})
    account = Account(
        name=name,
        broker=Broker.KITE,
        api_key=api_key,
        zerodha_user_id=zerodha_user_id,
        capital=capital,
        daily_loss_limit=daily_loss_limit,
        max_order_quantity=max_order_quantity,
        max_order_value=max_order_value,
        auto_flatten_on_daily_loss=auto_flatten_on_daily_loss,
        is_data_account=is_data_account,
        status=AccountStatus.NEEDS_LOGIN,
        status_reason="Not logged in to Kite yet.",
        status_changed_at=timezone.now(),
    )
    if max_open_positions is not None:
        account.max_open_positions = max_open_positions
    return _validated_save(account, api_secret=api_secret)


def account_login_url(*, account: Account) -> str:
    """Where the operator logs this Kite account in: the Kite login flow's URL if it is installed,
    else Kite Connect's own login URL for the account's api_key."""
    builder = globals().get("kite_login_url")  # the Kite login flow's, once it lands in this module
    if builder is not None:
        return builder(account=account)
    from kiteconnect import KiteConnect

    return KiteConnect(api_key=account.api_key).login_url()

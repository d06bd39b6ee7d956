"""Writes for accounts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from kiteconnect import exceptions as kite_exceptions

from . import crypto
from .kite import kite_client
from .locks import lock_account
from .models import Account, AccountStatus, Broker

logger = logging.getLogger(__name__)
IST = ZoneInfo("Asia/Kolkata")


@transaction.atomic
def account_mark_needs_login(*, account: Account, reason: str) -> Account:
    """The broker session is gone: stop this account's work visibly until someone logs in."""
    account = lock_account(account_id=account.pk)
    if account.status != AccountStatus.NEEDS_LOGIN:
        account.status = AccountStatus.NEEDS_LOGIN
        account.status_reason = f"Kite session expired or invalid: {reason}"[:200]
        account.status_changed_at = timezone.now()
        account.set_access_token("", expires_at=None)
        account.save()
    return account


# --- creating and editing accounts (the API and the admin's forms) ------------------------------

# What ``account_update`` may change; status moves only through halt/resume and the Kite login.
ACCOUNT_EDITABLE_FIELDS = (
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
    unknown = set(fields) - set(ACCOUNT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"account_create() got fields it does not set: {', '.join(sorted(unknown))}")
    return _validated_save(Account(**fields), api_secret=api_secret)


@transaction.atomic
def account_update(*, account: Account, api_secret: str | None = None, **changes) -> Account:
    """Change an account's settings; a blank or missing ``api_secret`` keeps the stored one."""
    unknown = set(changes) - set(ACCOUNT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"account_update() got fields it does not change: {', '.join(sorted(unknown))}")
    account = lock_account(account_id=account.pk)
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


# --- secrets at rest ------------------------------------------------------------------------------

SECRET_FIELDS = ("api_secret_encrypted", "access_token_encrypted")


@dataclass(frozen=True)
class SecretRotation:
    rotated: int  # secrets now encrypted under the newest key
    failures: list[str]  # "account name: field" that no configured key could read


def account_secrets_rotate() -> SecretRotation:
    """Re-encrypt every stored secret under the newest key of FIELD_ENCRYPTION_KEYS.

    One short transaction per account, so a login storing a fresh token meanwhile is never
    overwritten with a stale one. Safe to re-run: a secret already under the newest key stays readable.
    """
    rotated, failures = 0, []
    pending = Account.objects.exclude(api_secret_encrypted="", access_token_encrypted="")
    for account_id in pending.values_list("pk", flat=True):
        with transaction.atomic():
            account = lock_account(account_id=account_id)
            changed = []
            for field in SECRET_FIELDS:
                if not getattr(account, field):
                    continue
                try:
                    setattr(account, field, crypto.rotate(getattr(account, field)))
                except crypto.SecretDecryptionError:
                    failures.append(f"{account.name}: {field.removesuffix('_encrypted')}")
                else:
                    changed.append(field)
            if changed:
                account.save(update_fields=[*changed, "updated_at"])
                rotated += len(changed)
    return SecretRotation(rotated=rotated, failures=failures)


# --- the daily Kite login ---------------------------------------------------------------------------

KITE_LOGIN_BASE_URL = "https://kite.zerodha.com/connect/login"
# Kite flushes every access token at 06:00 IST: a token is good until the next 06:00.
KITE_SESSION_FLUSH = time(6, 0)


class KiteLoginError(Exception):
    """A Kite login could not be completed; the message tells the operator why and what to do."""


def kite_login_url(account: Account) -> str:
    """Kite's login page for this account's app (or KITE_LOGIN_URL's, e.g. the local emulator's).

    ``redirect_params`` comes back unchanged on Kite's redirect to the callback, so the callback
    knows which account the request_token belongs to.
    """
    if account.broker != Broker.KITE or not account.api_key:
        raise KiteLoginError(f"{account.name} is not a Kite account with an api_key: it has nothing to log in to.")
    base = settings.KITE_LOGIN_URL or KITE_LOGIN_BASE_URL
    query = urlencode({"v": 3, "api_key": account.api_key, "redirect_params": urlencode({"account_id": account.pk})})
    return f"{base}?{query}"


def kite_session_expiry(logged_in_at: datetime) -> datetime:
    """When a token issued at ``logged_in_at`` dies: the next 06:00 IST (the morning after a day's login)."""
    local = logged_in_at.astimezone(IST)
    expiry = datetime.combine(local.date(), KITE_SESSION_FLUSH, tzinfo=IST)
    return expiry if expiry > local else expiry + timedelta(days=1)


def kite_login_complete(*, account: Account, request_token: str) -> Account:
    """Exchange Kite's request_token for the account's access token and store it, encrypted.

    The token is stored only when Kite's profile shows the account's own Zerodha user: logging in
    as someone else in the browser must never attach their session to this account. Network
    calls happen before the short transaction that stores the token.
    """
    if account.broker != Broker.KITE:
        raise KiteLoginError(f"{account.name} is a paper account: it needs no Kite login.")
    if not request_token:
        raise KiteLoginError("Kite sent no request_token: the login was cancelled or failed. Try again.")
    try:
        api_secret = account.get_api_secret()
    except crypto.SecretDecryptionError:
        raise KiteLoginError(
            f"The api_secret stored for {account.name} cannot be decrypted with FIELD_ENCRYPTION_KEYS: "
            "restore the old key or enter the api_secret again in the admin."
        )
    if not api_secret:
        raise KiteLoginError(f"{account.name} has no api_secret: enter its Kite Connect app's api_secret in the admin.")

    client = kite_client(account, with_session=False)
    try:
        session = client.generate_session(request_token, api_secret=api_secret)
    except kite_exceptions.TokenException as exc:
        hint = (
            " The api_secret stored for this account does not match its api_key: enter it again in the admin."
            if "checksum" in str(exc).lower()
            else " A request_token is single-use and expires within minutes: log in again."
        )
        raise KiteLoginError(f"Kite refused the login of {account.name}: {exc}.{hint}")
    except (kite_exceptions.KiteException, requests.RequestException) as exc:
        raise KiteLoginError(f"Kite could not complete the login of {account.name} ({exc}). Log in again.")
    try:
        profile = client.profile()
    except (kite_exceptions.KiteException, requests.RequestException) as exc:
        raise KiteLoginError(f"Kite did not return the profile of {account.name} ({exc}). Log in again.")

    user_id = str(profile.get("user_id") or "")
    if user_id != account.zerodha_user_id:
        _kite_session_discard(client)
        raise KiteLoginError(
            f"Kite logged in user {user_id or '(unknown)'}, but {account.name} is Zerodha user "
            f"{account.zerodha_user_id}: nothing was stored. Log out of Kite, then log in as "
            f"{account.zerodha_user_id}."
        )
    account = _kite_session_store(account=account, access_token=session["access_token"], logged_in_at=timezone.now())
    logger.info(
        "Kite login of %s (%s) stored until %s", account.name, user_id, account.access_token_expires_at.isoformat()
    )
    return account


def _kite_session_discard(client) -> None:
    # A session of the wrong user must not stay alive anywhere: invalidate it, best effort.
    try:
        client.invalidate_access_token()
    except (kite_exceptions.KiteException, requests.RequestException):
        logger.warning("could not invalidate a Kite session refused for a user id mismatch")


@transaction.atomic
def _kite_session_store(*, account: Account, access_token: str, logged_in_at: datetime) -> Account:
    account = lock_account(account_id=account.pk)
    account.set_access_token(access_token, expires_at=kite_session_expiry(logged_in_at))
    fields = ["access_token_encrypted", "access_token_expires_at", "updated_at"]
    if account.status == AccountStatus.NEEDS_LOGIN:
        # A halt is the operator's (or the loss limit's) decision: a login never lifts it.
        account.status, account.status_reason, account.status_changed_at = AccountStatus.ACTIVE, "", logged_in_at
        fields += ["status", "status_reason", "status_changed_at"]
    account.save(update_fields=fields)
    return account

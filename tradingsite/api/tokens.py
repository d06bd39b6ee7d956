"""API tokens (django-rest-knox): hashed at rest, expiring, shown once, revocable one by one or per user.

The database keeps a token's SHA-512 digest and its first characters (knox's lookup key), never the
token: a token is readable only in the answer that created it. A token's public id is the start of
its digest, which says nothing about the token itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from knox.models import AuthToken

TOKEN_ID_LENGTH = 16


@dataclass(frozen=True)
class IssuedToken:
    id: str
    token: str
    expiry: datetime | None


def token_id(token: AuthToken) -> str:
    return token.digest[:TOKEN_ID_LENGTH]


def api_token_issue(*, user: AbstractBaseUser) -> IssuedToken:
    """A new token for ``user``, valid for ``API_TOKEN_DAYS``; the only time its value is known."""
    days = settings.API_TOKEN_DAYS
    instance, token = AuthToken.objects.create(user=user, expiry=timedelta(days=days) if days else None)
    return IssuedToken(id=token_id(instance), token=token, expiry=instance.expiry)


def api_tokens_of(*, user: AbstractBaseUser) -> QuerySet[AuthToken]:
    """Tokens ``user`` may see and revoke: their own, or every user's for staff."""
    tokens = AuthToken.objects.select_related("user").order_by("-created")
    return tokens if user.is_staff else tokens.filter(user=user)


def api_token_revoke(*, tokens: QuerySet[AuthToken], id: str) -> bool:
    if len(id) != TOKEN_ID_LENGTH:
        return False
    deleted, _ = tokens.filter(digest__startswith=id).delete()
    return bool(deleted)


def api_tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted

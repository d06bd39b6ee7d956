"""The one place a ``KiteConnect`` client is built for an account.

Every client points at ``KITE_API_ROOT`` (the real API, or the local emulator in tests and
demos) with the configured timeout, and carries the account's decrypted access token.
"""

from __future__ import annotations

from django.conf import settings
from kiteconnect import KiteConnect

from .models import Account


def kite_client(account: Account, *, with_session: bool = True) -> KiteConnect:
    client = KiteConnect(
        api_key=account.api_key,
        access_token=account.get_access_token() if with_session else None,
        root=settings.KITE_API_ROOT,
        timeout=settings.KITE_TIMEOUT_SECONDS,
    )
    return client

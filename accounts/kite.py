"""The one place a ``KiteConnect`` client is built for an account.

Every client points at ``KITE_API_ROOT`` (the real API, or the local emulator in tests and
demos) with the configured timeout, and carries the account's decrypted access token.
"""

from __future__ import annotations

import os
import threading
from http.cookiejar import DefaultCookiePolicy

import requests
from django.conf import settings
from kiteconnect import KiteConnect

from .models import Account

_local = threading.local()


def _http_session() -> requests.Session:
    """This thread's keep-alive HTTP session, shared by every account's client.

    Each order then goes out on an open (TLS) connection to Kite instead of opening its own: a
    handshake less per order. Safe to share: kiteconnect sends the account's credentials in each
    request's own headers, and no cookie is kept, so nothing of one account rides on another's
    requests. One per thread and per process (a forked worker never reuses its parent's sockets).
    """
    session = getattr(_local, "session", None)
    if session is None or _local.pid != os.getpid():
        session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _local.session, _local.pid = session, os.getpid()
    return session


def kite_client(account: Account, *, with_session: bool = True) -> KiteConnect:
    client = KiteConnect(
        api_key=account.api_key,
        access_token=account.get_access_token() if with_session else None,
        root=settings.KITE_API_ROOT,
        timeout=settings.KITE_TIMEOUT_SECONDS,
    )
    client.reqsession = _http_session()
    return client

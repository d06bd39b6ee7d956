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


class _KiteHttpSession(requests.Session):
    """A session that reads the environment once, when it is made, instead of on every request.

    requests looks at the environment on each call (proxy variables and their exclusions, a CA
    bundle, ``~/.netrc``), which cost about a fifth of a Kite order's own client time. Proxies
    and the CA bundle for ``root`` are taken once here and applied to each request as requests
    would; ``.netrc`` is not read (Kite authenticates by header).
    """

    def __init__(self, root: str):
        super().__init__()
        environment = super().merge_environment_settings(root, {}, None, True, None)
        self.trust_env = False
        self.proxies = environment["proxies"]
        self._verify = environment["verify"]
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if verify is True or verify is None:  # kiteconnect asks for verification: with the CA bundle, if one is set
            verify = self._verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


def _http_session() -> requests.Session:
    """This thread's keep-alive HTTP session, shared by every account's client.

    Each order then goes out on an open (TLS) connection to Kite instead of opening its own: a
    handshake less per order. Safe to share: kiteconnect sends the account's credentials in each
    request's own headers, and no cookie is kept, so nothing of one account rides on another's
    requests. One per thread and per process (a forked worker never reuses its parent's sockets).
    """
    session = getattr(_local, "session", None)
    root = settings.KITE_API_ROOT
    if session is None or _local.pid != os.getpid() or _local.root != root:
        session = _KiteHttpSession(root)
        _local.session, _local.pid, _local.root = session, os.getpid(), root
        _local.clients = {}  # clients of another process or root are not reused either
    return session


def kite_client(account: Account, *, with_session: bool = True) -> KiteConnect:
    """The account's client; ``with_session=False`` (the login) gives one with no access token.

    With its session, the client is this thread's for the account, reused while the stored
    (encrypted) token and the timeout stay the same: building one costs a decryption and a
    ``requests.Session`` that is thrown away, and every order task needs one. A new login stores
    a new token, so the next call builds a new client. The login's client is always new, because
    ``generate_session`` sets its token.
    """
    session = _http_session()
    if not with_session or account.pk is None:
        return _new_client(account, access_token=account.get_access_token() if with_session else None, session=session)
    version = (account.api_key, account.access_token_encrypted, settings.KITE_TIMEOUT_SECONDS)
    cached = _local.clients.get(account.pk)
    if cached is not None and cached[0] == version:
        return cached[1]
    client = _new_client(account, access_token=account.get_access_token(), session=session)
    _local.clients[account.pk] = (version, client)
    return client


def _new_client(account: Account, *, access_token: str | None, session: requests.Session) -> KiteConnect:
    client = KiteConnect(
        api_key=account.api_key,
        access_token=access_token,
        root=settings.KITE_API_ROOT,
        timeout=settings.KITE_TIMEOUT_SECONDS,
    )
    client.reqsession = session
    return client

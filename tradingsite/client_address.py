"""The client's address: the one definition used by the login lockouts and the API throttles.

``X-Forwarded-For`` is written by whoever sends the request, so it is read only when the deployment
says how many proxies of its own stand in front (``TRUSTED_PROXY_COUNT``, 0 by default). Each proxy
appends the address it received the request from; the entry that many places from the right is the
one our outermost proxy saw, and everything to its left is the client's own word.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote  # not through all our proxies: only the connection's address is known
    return forwarded[-proxies]

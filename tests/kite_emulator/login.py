"""Emulation of Kite's hosted login page: GET /connect/login redirects straight back with a request_token."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .protocol import Request, Response

if TYPE_CHECKING:
    from .emulator import KiteEmulator


def _page(status: int, message: str) -> Response:
    body = f"<html><body><h1>Kite emulator login</h1><p>{html.escape(message)}</p></body></html>"
    return Response(status, body.encode(), "text/html; charset=utf-8")


def with_query(url: str, extra: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + extra
    return urlunsplit(parts._replace(query=urlencode(query)))


def connect_login(emu: KiteEmulator, req: Request) -> Response:
    api_key = req.params.get("api_key") or ""
    with emu.lock:
        acc = emu.accounts.get(api_key)
        if acc is None:
            return _page(400, "Invalid `api_key`.")
        target = req.params.get("redirect_url") or acc.redirect_url or emu.default_redirect_url
        if not target:
            return _page(400, "No redirect URL: register one for this account or pass `redirect_url`.")
        token = acc.issue_request_token(emu.request_token_ttl)
    extra = [("request_token", token), ("action", "login"), ("type", "login"), ("status", "success")]
    # Kite passes `redirect_params` (url-encoded) back on the redirect, unchanged.
    extra += parse_qsl(req.params.get("redirect_params") or "", keep_blank_values=True)
    return Response(302, b"", "text/html; charset=utf-8", {"Location": with_query(target, extra)})

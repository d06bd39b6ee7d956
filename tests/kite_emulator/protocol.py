"""Request/response value types shared by the router, API handlers and control surface."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import KiteError
from .util import Params


@dataclass
class Request:
    method: str
    path: str
    params: Params
    headers: dict[str, str]
    client_ip: str
    body: bytes = b""
    client_port: int = 0  # with client_ip, tells one kept-alive connection from a new one
    groups: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None
    access_token: str | None = None

    def json_body(self) -> dict:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"items": data}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _default(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


def json_response(payload, status: int = 200) -> Response:
    return Response(status, json.dumps(payload, default=_default).encode())


def success(data, status: int = 200) -> Response:
    return json_response({"status": "success", "data": data}, status)


def error_response(err: KiteError) -> Response:
    return json_response(err.body(), err.status)


def parse_auth(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """``Authorization: token api_key:access_token`` -> (api_key, access_token)."""
    raw = headers.get("authorization", "")
    scheme, _, cred = raw.partition(" ")
    if scheme.lower() != "token" or ":" not in cred:
        return None, None
    api_key, _, token = cred.strip().partition(":")
    return api_key or None, token or None

"""Switchable faults per account (api_key) and optional route, for the next N requests or until cleared."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .errors import INVALID_TOKEN_MESSAGE, KiteError

# Faults answered instead of processing the request (nothing happens server-side).
PRE_FAULTS = {
    "http_500",
    "http_502",
    "http_503",
    "html_502",
    "connection_reset",
    "expired_token",
    "input_exception",
    "order_exception",
    "ip_not_whitelisted",
}
# Faults applied after the request was processed (e.g. the order IS in the book).
ACCEPT_FAULTS = {"accept_then_hang", "accept_then_reset", "accept_then_500", "accept_then_502", "accept_then_503"}
FAULT_KINDS = PRE_FAULTS | ACCEPT_FAULTS | {"latency"}

ORDER_WRITE = "order_write"  # POST/PUT/DELETE under /orders
ROUTE_ALIASES = {
    "place_order": "POST /orders",
    "modify_order": "PUT /orders",
    "cancel_order": "DELETE /orders",
    "orders": "GET /orders",
    "order_history": "GET /orders",
    "trades": "GET /trades",
    "positions": "GET /portfolio/positions",
    "holdings": "GET /portfolio/holdings",
    "profile": "GET /user/profile",
    "margins": "GET /user/margins",
    "quote": "GET /quote",
    "ltp": "GET /quote/ltp",
    "ohlc": "GET /quote/ohlc",
    "historical": "GET /instruments/historical",
    "instruments": "GET /instruments",
    "session": "/session/token",
    "generate_session": "POST /session/token",
    "login": "GET /connect/login",
}
DEFAULT_ROUTE = {kind: ORDER_WRITE for kind in ACCEPT_FAULTS | {"ip_not_whitelisted", "order_exception"}}
DEFAULT_SECONDS = {"latency": 1.0, "accept_then_hang": 30.0}
DEFAULT_MESSAGES = {
    "http_500": ("GeneralException", 500, "Something went wrong. Please try again later."),
    "http_502": ("NetworkException", 502, "Bad gateway: the order management system is unreachable."),
    "http_503": ("NetworkException", 503, "Service unavailable. Please try again later."),
    "accept_then_500": ("GeneralException", 500, "Something went wrong. Please try again later."),
    "accept_then_502": ("NetworkException", 502, "Bad gateway: the order management system is unreachable."),
    "accept_then_503": ("NetworkException", 503, "Service unavailable. Please try again later."),
    "expired_token": ("TokenException", 403, INVALID_TOKEN_MESSAGE),
    "input_exception": ("InputException", 400, "Invalid input (injected fault)."),
    "order_exception": ("OrderException", 400, "Order rejected (injected fault)."),
}

_ids = itertools.count(1)


def normalise_route(route: str | None) -> str | None:
    if route is None:
        return None
    return ROUTE_ALIASES.get(route, route)


def route_matches(route: str | None, method: str, path: str) -> bool:
    if route is None:
        return True
    if route == ORDER_WRITE:
        return method in ("POST", "PUT", "DELETE") and path.startswith("/orders/")
    want_method, _, want_path = route.partition(" ") if " " in route else ("", "", route)
    if want_method and want_method.upper() != method:
        return False
    want_path = want_path.rstrip("/") or "/"
    return path == want_path or path.startswith(want_path + "/")


@dataclass
class Fault:
    kind: str
    api_key: str | None  # None: every account
    route: str | None = None
    count: int | None = None  # remaining; None = until cleared
    seconds: float | None = None
    message: str | None = None
    fired: int = 0
    id: int = field(default_factory=lambda: next(_ids))

    def matches(self, api_key: str | None, method: str, path: str) -> bool:
        if self.api_key is not None and self.api_key != api_key:
            return False
        return route_matches(self.route, method, path)

    def error(self, client_ip: str = "") -> KiteError:
        if self.kind == "ip_not_whitelisted":
            from .accounts import ip_not_allowed

            err = ip_not_allowed(client_ip or "unknown")
            if self.message:
                err.message = self.message
            return err
        error_type, status, message = DEFAULT_MESSAGES[self.kind]
        return KiteError(error_type, self.message or message, status)

    def public(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "api_key": self.api_key,
            "route": self.route,
            "count": self.count,
            "seconds": self.seconds,
            "message": self.message,
            "fired": self.fired,
        }


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(
        self,
        api_key: str | None,
        kind: str,
        *,
        route: str | None = None,
        count: int | None = None,
        seconds: float | None = None,
        message: str | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if count is not None and count <= 0:
            raise ValueError("count must be positive (or None for until cleared)")
        route = normalise_route(route) if route is not None else DEFAULT_ROUTE.get(kind)
        if seconds is None:
            seconds = DEFAULT_SECONDS.get(kind)
        fault = Fault(kind, api_key, route, count, seconds, message)
        self.faults.append(fault)
        return fault

    def clear(self, api_key: str | None = None) -> None:
        if api_key is None:
            self.faults.clear()
        else:
            self.faults = [f for f in self.faults if f.api_key != api_key]

    def _consume(self, fault: Fault) -> None:
        fault.fired += 1
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)

    def take(self, api_key: str | None, method: str, path: str) -> tuple[float, Fault | None]:
        """Consume the faults for one request: total added latency and at most one other fault."""
        latency = 0.0
        chosen: Fault | None = None
        for fault in list(self.faults):
            if not fault.matches(api_key, method, path):
                continue
            if fault.kind == "latency":
                latency += fault.seconds or 0.0
                self._consume(fault)
            elif chosen is None:
                chosen = fault
                self._consume(fault)
        return latency, chosen

"""The Kite Connect v3 routes the project uses, served from emulator state."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from .accounts import Account, margins_segment, profile_payload, session_payload
from .errors import KiteError, input_error, token_error
from .historical import SESSION_CLOSE, SESSION_OPEN, candles, parse_when
from .instruments import Instrument
from .orders import render
from .positions import compute_positions
from .protocol import Request, Response, error_response, success
from .util import fmt_ts

if TYPE_CHECKING:
    from .emulator import KiteEmulator

Handler = Callable[["KiteEmulator", Request], object]


class Route:
    def __init__(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        auth: bool = True,
        locked: bool = True,
        order_write: bool = False,
    ):
        self.method = method
        self.regex = re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.handler = handler
        self.auth = auth
        self.locked = locked
        self.order_write = order_write


# ---- session ------------------------------------------------------------------------------------
def session_create(emu: KiteEmulator, req: Request):
    api_key = req.params.required("api_key")
    acc = emu.accounts.get(api_key)
    if acc is None:
        raise token_error("Invalid `api_key`.")
    token = acc.redeem_request_token(req.params.required("request_token"), req.params.get("checksum") or "")
    login_time = fmt_ts(emu.clock())
    acc.last_login = login_time
    return session_payload(acc, token, login_time)


def session_delete(emu: KiteEmulator, req: Request):
    acc = req_account(emu, req)
    token = req.params.get("access_token") or req.access_token
    acc.access_tokens.discard(token)
    return True


# ---- user ---------------------------------------------------------------------------------------
def profile(emu: KiteEmulator, req: Request):
    return profile_payload(req_account(emu, req))


def _debits(emu: KiteEmulator, acc: Account) -> Decimal:
    pos = compute_positions(acc.trades, emu.instruments, emu.market.ltp)["net"]
    return sum((abs(Decimal(str(p["quantity"]))) * Decimal(str(p["average_price"])) for p in pos), Decimal(0))


def margins(emu: KiteEmulator, req: Request):
    acc = req_account(emu, req)
    equity = margins_segment(acc.cash, _debits(emu, acc))
    commodity = margins_segment(Decimal(0), Decimal(0))
    segment = req.groups.get("segment")
    if segment is None:
        return {"equity": equity, "commodity": commodity}
    if segment not in ("equity", "commodity"):
        raise input_error("Invalid segment.")
    return equity if segment == "equity" else commodity


# ---- orders -------------------------------------------------------------------------------------
MARKETS_CLOSED = "Markets are closed right now. Use GTT for placing long standing orders instead."


def _market_open(emu: KiteEmulator) -> bool:
    now = emu.clock()
    return now.weekday() < 5 and now.date() not in emu.holidays and SESSION_OPEN <= now.time() < SESSION_CLOSE


def place_order(emu: KiteEmulator, req: Request):
    if emu.enforce_market_hours and req.groups["variety"] != "amo" and not _market_open(emu):
        raise input_error(MARKETS_CLOSED)
    order = emu.engine.place(req_account(emu, req), req.groups["variety"], req.params)
    return {"order_id": order.order_id}


def modify_order(emu: KiteEmulator, req: Request):
    order = emu.engine.modify(req_account(emu, req), req.groups["variety"], req.groups["order_id"], req.params)
    return {"order_id": order.order_id}


def cancel_order(emu: KiteEmulator, req: Request):
    order = emu.engine.cancel(req_account(emu, req), req.groups["variety"], req.groups["order_id"])
    return {"order_id": order.order_id}


def list_orders(emu: KiteEmulator, req: Request):
    return [render(o.data) for o in emu.engine.orders_for(req_account(emu, req))]


def order_history(emu: KiteEmulator, req: Request):
    return render(emu.engine.get_for(req_account(emu, req), req.groups["order_id"]).history)


def order_trades(emu: KiteEmulator, req: Request):
    return render(emu.engine.get_for(req_account(emu, req), req.groups["order_id"]).trades)


def list_trades(emu: KiteEmulator, req: Request):
    return render(req_account(emu, req).trades)


def positions(emu: KiteEmulator, req: Request):
    return compute_positions(req_account(emu, req).trades, emu.instruments, emu.market.ltp)


def holdings(emu: KiteEmulator, req: Request):
    return emu.holdings_payload(req_account(emu, req))


# ---- market data --------------------------------------------------------------------------------
def _instruments_from(emu: KiteEmulator, req: Request) -> list[tuple[str, Instrument]]:
    out = []
    for key in req.params.getlist("i"):
        inst = emu.instruments.by_token(int(key)) if key.isdigit() else emu.instruments.by_key(key)
        if inst is not None:
            out.append((key, inst))
    return out


def _quote_route(builder: str) -> Handler:
    def handler(emu: KiteEmulator, req: Request):
        req_account(emu, req)
        return {key: getattr(emu.market, builder)(inst) for key, inst in _instruments_from(emu, req)}

    return handler


def instruments_dump(emu: KiteEmulator, req: Request):
    exchange = req.groups.get("exchange")
    return Response(200, emu.instruments.to_csv(exchange), "text/csv")


def historical(emu: KiteEmulator, req: Request):
    with emu.lock:
        req_account(emu, req)
        token = req.groups["instrument_token"]
        inst = emu.instruments.by_token(int(token)) if token.isdigit() else None
        now = emu.clock()
    if inst is None:
        raise input_error("invalid token")
    frm = parse_when(req.params.get("from"), "from")
    to = parse_when(req.params.get("to"), "to")
    oi = req.params.get("oi") in ("1", "true")
    return {"candles": candles(inst, req.groups["interval"], frm, to, now=now, oi=oi, holidays=frozenset(emu.holidays))}


ROUTES = [
    Route("POST", "/session/token", session_create, auth=False),
    Route("DELETE", "/session/token", session_delete),
    Route("GET", "/user/profile", profile),
    Route("GET", "/user/margins", margins),
    Route("GET", "/user/margins/{segment}", margins),
    Route("POST", "/orders/{variety}", place_order, order_write=True),
    Route("PUT", "/orders/{variety}/{order_id}", modify_order, order_write=True),
    Route("DELETE", "/orders/{variety}/{order_id}", cancel_order, order_write=True),
    Route("GET", "/orders", list_orders),
    Route("GET", "/orders/{order_id}", order_history),
    Route("GET", "/orders/{order_id}/trades", order_trades),
    Route("GET", "/trades", list_trades),
    Route("GET", "/portfolio/positions", positions),
    Route("GET", "/portfolio/holdings", holdings),
    Route("GET", "/quote", _quote_route("quote_payload")),
    Route("GET", "/quote/ohlc", _quote_route("ohlc_payload")),
    Route("GET", "/quote/ltp", _quote_route("ltp_payload")),
    Route("GET", "/instruments/historical/{instrument_token}/{interval}", historical, locked=False),
    Route("GET", "/instruments", instruments_dump, auth=False),
    Route("GET", "/instruments/{exchange}", instruments_dump, auth=False),
]


def req_account(emu: KiteEmulator, req: Request) -> Account:
    acc = emu.accounts.get(req.api_key or "")
    if acc is None:
        raise token_error()
    acc.check_access_token(req.access_token)
    return acc


def dispatch(emu: KiteEmulator, req: Request) -> Response:
    """Route a Kite API request; every failure becomes a Kite error body."""
    allowed = []
    for route in ROUTES:
        m = route.regex.match(req.path)
        if not m:
            continue
        if route.method != req.method:
            allowed.append(route.method)
            continue
        req.groups = m.groupdict()
        try:
            if req.headers.get("x-kite-version") != "3":
                raise input_error("Invalid or missing `X-Kite-Version` header (expected 3).")
            result = _run(emu, route, req)
        except KiteError as err:
            return error_response(err)
        return result if isinstance(result, Response) else success(result)
    if allowed:
        return error_response(KiteError("InputException", "Method not allowed.", 405))
    return error_response(KiteError("GeneralException", "Route not found", 404))


def _run(emu: KiteEmulator, route: Route, req: Request):
    if not route.locked:
        return route.handler(emu, req)
    with emu.lock:
        if route.auth:
            acc = req_account(emu, req)
            if route.order_write:
                acc.check_ip(req.client_ip)
        return route.handler(emu, req)

"""HTTP control surface under /_emulator/ for standalone mode (JSON or form/query parameters)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .protocol import Request, Response, json_response

if TYPE_CHECKING:
    from .emulator import KiteEmulator

ACCOUNT_FIELDS = (
    "api_key",
    "api_secret",
    "user_id",
    "user_name",
    "email",
    "redirect_url",
    "postback_url",
    "app_id",
    "allowed_ips",
    "cash",
    "fill_mode",
)


def _args(req: Request) -> dict:
    args = req.params.flat()
    args.update(req.json_body())
    return args


def _num(value, cast):
    return None if value in (None, "") else cast(value)


def accounts(emu: KiteEmulator, req: Request, args: dict):
    if req.method == "GET":
        return [a.public() for a in emu.accounts.values()]
    kwargs = {k: v for k, v in args.items() if k in ACCOUNT_FIELDS}
    return emu.add_account(**kwargs).public()


def request_token(emu: KiteEmulator, req: Request, args: dict):
    return {"request_token": emu.issue_request_token(args["api_key"])}


def login(emu: KiteEmulator, req: Request, args: dict):
    return {"access_token": emu.login(args["api_key"])}


def expire_token(emu: KiteEmulator, req: Request, args: dict):
    emu.expire_token(args["api_key"])
    return True


def faults(emu: KiteEmulator, req: Request, args: dict):
    if req.method == "GET":
        return [f.public() for f in emu.faults.faults]
    if req.method == "DELETE":
        emu.clear_faults(args.get("api_key"))
        return True
    fault = emu.inject_fault(
        args.get("api_key"),
        args["kind"],
        route=args.get("route"),
        count=_num(args.get("count"), int),
        seconds=_num(args.get("seconds"), float),
        message=args.get("message"),
    )
    return fault.public()


def fill(emu: KiteEmulator, req: Request, args: dict):
    return emu.fill_order(req.groups["order_id"], quantity=_num(args.get("quantity"), int), price=args.get("price"))


def reject(emu: KiteEmulator, req: Request, args: dict):
    return emu.reject_order(req.groups["order_id"], message=args.get("message"))


def fill_mode(emu: KiteEmulator, req: Request, args: dict):
    emu.set_fill_mode(
        args["mode"],
        api_key=args.get("api_key"),
        tradingsymbol=args.get("tradingsymbol"),
        message=args.get("message"),
        fraction=float(args.get("fraction") or 0.5),
    )
    return True


def ltp(emu: KiteEmulator, req: Request, args: dict):
    prices = args.get("prices") or {args["instrument"]: args["price"]}
    for key, price in prices.items():
        emu.set_ltp(key, price)
    return True


def instruments(emu: KiteEmulator, req: Request, args: dict):
    inst = emu.add_instrument(
        args["tradingsymbol"],
        exchange=args.get("exchange", "NSE"),
        instrument_token=_num(args.get("instrument_token"), int),
        tick_size=args.get("tick_size", "0.05"),
        lot_size=int(args.get("lot_size", 1)),
        name=args.get("name"),
    )
    return {"instrument_token": inst.instrument_token, "key": inst.key}


def config(emu: KiteEmulator, req: Request, args: dict):
    if "postback_url" in args:
        emu.postback_url = args["postback_url"] or None
    if "rate_limits_enabled" in args:
        emu.rate_limits_enabled = str(args["rate_limits_enabled"]).lower() in ("1", "true", "yes", "on")
    if "default_redirect_url" in args:
        emu.default_redirect_url = args["default_redirect_url"] or None
    return {
        "postback_url": emu.postback_url,
        "rate_limits_enabled": emu.rate_limits_enabled,
        "default_redirect_url": emu.default_redirect_url,
    }


def holdings(emu: KiteEmulator, req: Request, args: dict):
    if req.method == "POST":
        emu.set_holding(
            args["api_key"],
            args["instrument"],
            quantity=int(args.get("quantity") or 0),
            t1_quantity=int(args.get("t1_quantity") or 0),
            average_price=args.get("average_price"),
        )
    return emu.holdings(args["api_key"])


def roll_day(emu: KiteEmulator, req: Request, args: dict):
    emu.roll_day(args.get("api_key"))
    return True


def state(emu: KiteEmulator, req: Request, args: dict):
    return emu.state()


def requests_log(emu: KiteEmulator, req: Request, args: dict):
    return [r.public() for r in emu.requests]


def postbacks(emu: KiteEmulator, req: Request, args: dict):
    return list(emu.postbacks)


def reset(emu: KiteEmulator, req: Request, args: dict):
    emu.reset()
    return True


CONTROL_ROUTES = [
    ("GET|POST", r"/_emulator/accounts", accounts),
    ("GET|POST", r"/_emulator/request-token", request_token),
    ("POST", r"/_emulator/login", login),
    ("POST", r"/_emulator/expire-token", expire_token),
    ("GET|POST|DELETE", r"/_emulator/faults", faults),
    ("POST", r"/_emulator/fill/(?P<order_id>\d+)", fill),
    ("POST", r"/_emulator/reject/(?P<order_id>\d+)", reject),
    ("POST", r"/_emulator/fill-mode", fill_mode),
    ("POST", r"/_emulator/ltp", ltp),
    ("POST", r"/_emulator/instruments", instruments),
    ("GET|POST", r"/_emulator/config", config),
    ("GET|POST", r"/_emulator/holdings", holdings),
    ("POST", r"/_emulator/roll-day", roll_day),
    ("GET", r"/_emulator/state", state),
    ("GET", r"/_emulator/requests", requests_log),
    ("GET", r"/_emulator/postbacks", postbacks),
    ("POST", r"/_emulator/reset", reset),
]


def dispatch(emu: KiteEmulator, req: Request) -> Response:
    for methods, pattern, handler in CONTROL_ROUTES:
        m = re.fullmatch(pattern, req.path.rstrip("/"))
        if not m or req.method not in methods.split("|"):
            continue
        req.groups = m.groupdict()
        try:
            data = handler(emu, req, _args(req))
        except KeyError as exc:
            return json_response({"status": "error", "message": f"missing or unknown: {exc}"}, 400)
        except (ValueError, TypeError) as exc:
            return json_response({"status": "error", "message": str(exc)}, 400)
        return json_response({"status": "success", "data": data})
    return json_response({"status": "error", "message": "unknown control endpoint"}, 404)

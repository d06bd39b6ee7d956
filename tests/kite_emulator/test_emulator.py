"""The emulator, driven only through the real kiteconnect client (raw HTTP only where the client can't)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.kite_emulator import FAULT_KINDS, KiteEmulator, run_standalone

SECRET_A, SECRET_B = "secret_a", "secret_b"


@pytest.fixture
def emu():
    with KiteEmulator(rate_limits_enabled=False) as e:
        e.add_account(api_key="key_a", api_secret=SECRET_A, user_id="AB1234", user_name="Alice Able")
        e.add_account(api_key="key_b", api_secret=SECRET_B, user_id="CD5678", user_name="Bob Baker")
        yield e


def connect(emu: KiteEmulator, api_key: str = "key_a", secret: str = SECRET_A, timeout: float = 3) -> KiteConnect:
    kite = KiteConnect(api_key, root=emu.root, timeout=timeout)
    kite.generate_session(emu.issue_request_token(api_key), api_secret=secret)
    return kite


@pytest.fixture
def kite(emu):
    return connect(emu)


def place(kite: KiteConnect, **overrides) -> str:
    fields = dict(
        variety="regular",
        exchange="NSE",
        tradingsymbol="INFY",
        transaction_type="BUY",
        quantity=1,
        product="MIS",
        order_type="LIMIT",
        price=1500,
    )
    fields.update(overrides)
    return kite.place_order(**fields)


def market(kite: KiteConnect, **overrides) -> str:
    fields = dict(order_type="MARKET", price=None, market_protection=-1)
    fields.update(overrides)
    return place(kite, **fields)


# ---- session --------------------------------------------------------------------------------------
def test_session_exchange_and_logout(emu):
    kite = KiteConnect("key_a", root=emu.root, timeout=3)
    session = kite.generate_session(emu.issue_request_token("key_a"), api_secret=SECRET_A)
    assert session["user_id"] == "AB1234" and session["api_key"] == "key_a"
    assert isinstance(session["login_time"], dt.datetime)
    assert kite.access_token == session["access_token"]
    assert kite.profile()["user_name"] == "Alice Able"
    assert kite.invalidate_access_token() is True
    with pytest.raises(kex.TokenException):
        kite.profile()


def test_session_bad_checksum_and_single_use_token(emu):
    kite = KiteConnect("key_a", root=emu.root, timeout=3)
    token = emu.issue_request_token("key_a")
    with pytest.raises(kex.TokenException, match="checksum"):
        kite.generate_session(token, api_secret="wrong")
    kite.generate_session(token, api_secret=SECRET_A)  # a failed checksum does not burn the token
    with pytest.raises(kex.TokenException):
        kite.generate_session(token, api_secret=SECRET_A)  # but a used one is gone


def test_expire_token_gives_403_token_exception(emu, kite):
    emu.expire_token("key_a")
    with pytest.raises(kex.TokenException) as err:
        kite.positions()
    assert err.value.code == 403


def test_headers_are_checked(emu, kite):
    r = requests.get(emu.root + "/user/profile", headers={"Authorization": f"token key_a:{kite.access_token}"})
    assert r.status_code == 400 and r.json()["error_type"] == "InputException"
    r = requests.get(
        emu.root + "/user/profile", headers={"X-Kite-Version": "3", "Authorization": f"token key_b:{kite.access_token}"}
    )
    assert r.status_code == 403 and r.json()["error_type"] == "TokenException"


def test_profile_and_margins(kite):
    assert kite.profile()["user_id"] == "AB1234"
    margins = kite.margins()
    assert margins["equity"]["available"]["cash"] == 1_000_000
    assert kite.margins("equity")["enabled"] is True


# ---- order validation -----------------------------------------------------------------------------
def test_limit_order_registered(kite):
    order_id = place(kite, tag="strat1", algo_id="ALGO42")
    assert order_id.isdigit() and len(order_id) == 15
    [order] = kite.orders()
    assert order["order_id"] == order_id and order["tag"] == "strat1" and order["status"] == "COMPLETE"
    assert isinstance(order["order_timestamp"], dt.datetime)


def test_algo_id_reaches_the_server(emu, kite):
    place(kite, algo_id="ALGO42")
    [rec] = [r for r in emu.requests if r.method == "POST" and r.path == "/orders/regular"]
    assert rec.params["algo_id"] == "ALGO42" and rec.api_key == "key_a" and rec.status == 200


@pytest.mark.parametrize("order_type", ["MARKET", "SL-M"])
@pytest.mark.parametrize("protection", [None, 0])
def test_market_and_slm_need_market_protection(kite, order_type, protection):
    with pytest.raises(kex.OrderException, match="market protection"):
        place(
            kite,
            order_type=order_type,
            price=None,
            trigger_price=1490 if order_type == "SL-M" else None,
            market_protection=protection,
            transaction_type="SELL",
        )


def test_market_protection_accepted(kite):
    market(kite, market_protection=-1)
    market(kite, market_protection=2.5)
    place(kite, order_type="SL-M", price=None, trigger_price=1510, market_protection=3)
    with pytest.raises(kex.InputException):
        market(kite, market_protection=150)


def test_stoploss_orders(emu, kite):
    emu.set_fill_mode("open")
    oid = place(kite, order_type="SL", price=1510, trigger_price=1505)
    assert kite.order_history(oid)[-1]["status"] == "TRIGGER PENDING"
    with pytest.raises(kex.InputException, match="trigger_price"):
        place(kite, order_type="SL", price=1510)
    with pytest.raises(kex.InputException, match="Trigger price"):
        place(kite, order_type="SL", price=1500, trigger_price=1505.5)


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"tradingsymbol": "NOSUCH"}, "tradingsymbol"),
        ({"exchange": "XYZ"}, "exchange"),
        ({"transaction_type": "HOLD"}, "transaction_type"),
        ({"quantity": 0}, "quantity"),
        ({"product": "BO"}, "product"),
        ({"order_type": "STOP"}, "order_type"),
        ({"price": 1500.03}, "Tick size"),
        ({"price": None}, "price"),
        ({"tag": "a" * 21}, "Tag length"),
        ({"tag": "bad-tag"}, "alphanumeric"),
        ({"variety": "bogus"}, "variety"),
        ({"validity": "TTL"}, "validity_ttl"),
    ],
)
def test_order_field_validation(kite, overrides, pattern):
    with pytest.raises(kex.InputException, match=pattern):
        place(kite, **overrides)


def test_lot_size_multiple(emu, kite):
    emu.add_instrument("NIFTYFUT", exchange="NFO", lot_size=25, tick_size="0.1")
    place(kite, exchange="NFO", tradingsymbol="NIFTYFUT", quantity=50, price=100.1, product="NRML")
    with pytest.raises(kex.InputException, match="lot size"):
        place(kite, exchange="NFO", tradingsymbol="NIFTYFUT", quantity=30, price=100.1, product="NRML")


def test_tag_of_twenty_alphanumerics_is_fine(kite):
    place(kite, tag="A" * 10 + "1" * 10)


# ---- fills ------------------------------------------------------------------------------------------
def test_immediate_fill_at_ltp_with_trade(emu, kite):
    emu.set_ltp("NSE:INFY", 1490.5)
    oid = market(kite, quantity=3)
    history = [h["status"] for h in kite.order_history(oid)]
    assert history == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN", "COMPLETE"]
    [trade] = kite.order_trades(oid)
    assert trade["average_price"] == 1490.5 and trade["quantity"] == 3
    assert kite.trades()[0]["trade_id"] != oid
    order = kite.orders()[0]
    assert order["filled_quantity"] == 3 and order["pending_quantity"] == 0 and order["average_price"] == 1490.5


def test_partial_fill_then_manual_fill(emu, kite):
    emu.set_fill_mode("partial", api_key="key_a")
    oid = place(kite, quantity=10)
    order = kite.orders()[0]
    assert (order["status"], order["filled_quantity"], order["pending_quantity"]) == ("OPEN", 5, 5)
    emu.fill_order(oid, price=1499)
    order = kite.orders()[0]
    assert order["status"] == "COMPLETE" and order["average_price"] == 1499.5
    assert len(kite.order_trades(oid)) == 2


def test_open_mode_modify_cancel(emu, kite):
    emu.set_fill_mode("open")
    oid = place(kite, quantity=4, price=1400)
    assert kite.orders()[0]["status"] == "OPEN"
    assert kite.modify_order(variety="regular", order_id=oid, price=1401.5, quantity=6) == oid
    order = kite.orders()[0]
    assert order["modified"] is True and order["price"] == 1401.5 and order["quantity"] == 6
    assert "MODIFY PENDING" in [h["status"] for h in kite.order_history(oid)]
    emu.fill_order(oid, quantity=2)
    assert kite.cancel_order(variety="regular", order_id=oid) == oid
    order = kite.orders()[0]
    assert (order["status"], order["filled_quantity"], order["cancelled_quantity"]) == ("CANCELLED", 2, 4)
    with pytest.raises(kex.InputException):
        kite.cancel_order(variety="regular", order_id=oid)


def test_reject_mode_per_symbol(emu, kite):
    emu.set_fill_mode("reject", tradingsymbol="SBIN", message="RMS:Blocked")
    ok = place(kite)
    bad = place(kite, tradingsymbol="SBIN", price=800)
    statuses = {o["order_id"]: o for o in kite.orders()}
    assert statuses[ok]["status"] == "COMPLETE"
    assert statuses[bad]["status"] == "REJECTED" and statuses[bad]["status_message"] == "RMS:Blocked"


def test_orders_are_per_account(emu, kite):
    place(kite)
    other = connect(emu, "key_b", SECRET_B)
    assert other.orders() == []
    with pytest.raises(kex.InputException):
        other.order_history(kite.orders()[0]["order_id"])


def test_positions_math(emu, kite):
    emu.set_ltp("NSE:INFY", 1500)
    market(kite, quantity=10)
    emu.set_ltp("NSE:INFY", 1510)
    place(kite, transaction_type="SELL", quantity=4, price=1520)  # marketable limit: fills at 1520
    [net] = kite.positions()["net"]
    assert net["quantity"] == 6 and net["average_price"] == 1500
    assert (net["buy_quantity"], net["buy_value"], net["sell_quantity"], net["sell_value"]) == (10, 15000, 4, 6080)
    assert net["value"] == 6080 - 15000
    assert net["pnl"] == pytest.approx(-8920 + 6 * 1510)
    assert kite.positions()["day"] == kite.positions()["net"]
    market(kite, transaction_type="SELL", quantity=6, product="CNC")
    products = {p["product"]: p["quantity"] for p in kite.positions()["net"]}
    assert products == {"MIS": 6, "CNC": -6}


def quantities(held: dict) -> tuple[int, int, int, int]:
    return held["quantity"], held["t1_quantity"], held["realised_quantity"], held["opening_quantity"]


def test_a_cnc_buy_is_a_position_today_a_t1_holding_tomorrow_then_delivered(emu, kite):
    """Kite's delivery cycle: the day's CNC buy is a position; at the next day's open it is a holding
    with t1_quantity, one day later delivered (quantity); a sale today is a negative CNC position and
    the holding's used_quantity, and leaves the holding at the next roll."""
    market(kite, quantity=10, product="CNC")
    market(kite, quantity=3)  # MIS: squared off by Kite, never a holding
    assert kite.holdings() == []
    assert {p["product"]: p["quantity"] for p in kite.positions()["net"]} == {"CNC": 10, "MIS": 3}

    emu.roll_day()
    assert kite.positions() == {"net": [], "day": []} and kite.orders() == [] and kite.trades() == []
    [held] = kite.holdings()
    assert (held["tradingsymbol"], held["product"], held["average_price"]) == ("INFY", "CNC", 1500)
    assert quantities(held) == (0, 10, 0, 10)
    assert connect(emu, "key_b", SECRET_B).holdings() == []

    emu.roll_day("key_a")
    [held] = kite.holdings()
    assert quantities(held) == (10, 0, 10, 10)

    market(kite, transaction_type="SELL", quantity=4, product="CNC")
    [position] = kite.positions()["net"]
    assert (position["product"], position["quantity"], position["day_sell_quantity"]) == ("CNC", -4, 4)
    [held] = kite.holdings()
    assert (held["quantity"], held["used_quantity"], held["opening_quantity"]) == (10, 4, 10)

    market(kite, quantity=2, product="CNC")  # bought back today: T1 tomorrow, on top of the 6 kept
    emu.roll_day()
    [held] = kite.holdings()
    assert (held["quantity"], held["t1_quantity"], held["used_quantity"], held["opening_quantity"]) == (8, 0, 0, 8)
    market(kite, transaction_type="SELL", quantity=8, product="CNC")
    emu.roll_day()
    assert kite.holdings() == []


def test_a_holding_can_be_set_directly_and_over_the_control_endpoint(emu, kite):
    emu.set_holding("key_a", "NSE:SBIN", quantity=5, t1_quantity=2, average_price=790)
    [held] = kite.holdings()
    assert (held["exchange"], held["tradingsymbol"], held["instrument_token"]) == ("NSE", "SBIN", 779521)
    assert (held["quantity"], held["t1_quantity"], held["opening_quantity"], held["average_price"]) == (5, 2, 7, 790)
    answer = requests.post(
        f"{emu.root}/_emulator/holdings",
        json={"api_key": "key_a", "instrument": "NSE:SBIN", "quantity": 0},
        timeout=3,
    )
    assert answer.json() == {"status": "success", "data": []}
    market(kite, quantity=1, product="CNC")
    assert requests.post(f"{emu.root}/_emulator/roll-day", json={"api_key": "key_a"}, timeout=3).ok
    assert [h["t1_quantity"] for h in kite.holdings()] == [1]


# ---- market data -----------------------------------------------------------------------------------
def test_quotes(emu, kite):
    emu.set_ltp("NSE:INFY", 1234.55)
    ltp = kite.ltp("NSE:INFY", "NSE:SBIN", "NSE:NOSUCH")
    assert set(ltp) == {"NSE:INFY", "NSE:SBIN"}
    assert ltp["NSE:INFY"] == {"instrument_token": 408065, "last_price": 1234.55}
    ohlc = kite.ohlc(["NSE:INFY"])["NSE:INFY"]
    assert set(ohlc["ohlc"]) == {"open", "high", "low", "close"}
    quote = kite.quote("NSE:INFY")["NSE:INFY"]
    assert quote["last_price"] == 1234.55 and len(quote["depth"]["buy"]) == 5
    assert isinstance(quote["timestamp"], dt.datetime)


def test_instruments_csv(emu, kite):
    nse = kite.instruments("NSE")
    by_symbol = {i["tradingsymbol"]: i for i in nse}
    assert {"INFY", "SBIN", "RELIANCE", "TCS", "HDFCBANK", "BANKBEES"} <= set(by_symbol)
    assert by_symbol["INFY"]["instrument_token"] == 408065
    assert by_symbol["INFY"]["lot_size"] == 1 and by_symbol["INFY"]["tick_size"] == 0.05
    assert len(kite.instruments()) == len(nse)
    r = requests.get(emu.root + "/instruments/NSE", headers={"X-Kite-Version": "3"})
    assert r.headers["content-type"].startswith("text/csv")


def test_historical_candles(kite):
    frm, to = dt.datetime(2026, 4, 10, 9, 0), dt.datetime(2026, 4, 13, 15, 30)  # Fri + Mon
    bars = kite.historical_data(408065, frm, to, "5minute")
    assert len(bars) == 2 * 75
    assert bars[0]["date"].isoformat() == "2026-04-10T09:15:00+05:30"
    assert bars[1]["date"].isoformat() == "2026-04-10T09:20:00+05:30"
    assert bars[75]["date"].isoformat() == "2026-04-13T09:15:00+05:30"
    assert all(b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"] for b in bars)
    assert bars == kite.historical_data(408065, frm, to, "5minute")  # deterministic
    hourly = kite.historical_data(408065, "2026-04-13 00:00:00", "2026-04-13 23:59:59", "60minute")
    assert [b["date"].strftime("%H:%M") for b in hourly] == [
        "09:15",
        "10:15",
        "11:15",
        "12:15",
        "13:15",
        "14:15",
        "15:15",
    ]
    days = kite.historical_data(408065, "2026-04-06 00:00:00", "2026-04-12 00:00:00", "day", oi=True)
    assert [d["date"].weekday() for d in days] == [0, 1, 2, 3, 4] and "oi" in days[0]


def test_historical_raw_shape(emu, kite):
    r = requests.get(
        emu.root + "/instruments/historical/408065/minute",
        params={"from": "2026-04-10 09:15:00", "to": "2026-04-10 09:17:00"},
        headers={"X-Kite-Version": "3", "Authorization": f"token key_a:{kite.access_token}"},
    )
    candles = r.json()["data"]["candles"]
    assert [c[0] for c in candles] == [
        "2026-04-10T09:15:00+0530",
        "2026-04-10T09:16:00+0530",
        "2026-04-10T09:17:00+0530",
    ]
    assert all(len(c) == 6 for c in candles)


@pytest.mark.parametrize(
    ("interval", "limit"), [("minute", 60), ("3minute", 100), ("15minute", 200), ("60minute", 400), ("day", 2000)]
)
def test_historical_day_limits(kite, interval, limit):
    start = dt.datetime(2020, 1, 1)
    if interval in ("minute", "day"):  # the limit itself is allowed (kept to the cheap intervals)
        kite.historical_data(408065, start, start + dt.timedelta(days=limit), interval)
    with pytest.raises(kex.InputException, match=str(limit)):
        kite.historical_data(408065, start, start + dt.timedelta(days=limit + 1), interval)


def test_historical_bad_input(kite):
    with pytest.raises(kex.InputException):
        kite.historical_data(408065, "2026-04-10 09:15:00", "2026-04-09 09:15:00", "minute")
    with pytest.raises(kex.InputException):
        kite.historical_data(408065, "2026-04-10 09:15:00", "2026-04-10 10:15:00", "2minute")
    with pytest.raises(kex.InputException):
        kite.historical_data(1, "2026-04-10 09:15:00", "2026-04-10 10:15:00", "minute")


# ---- rate limits -------------------------------------------------------------------------------------
def test_order_rate_limit_is_per_account(emu, kite):
    emu.rate_limits_enabled = True
    other = connect(emu, "key_b", SECRET_B)
    for _ in range(10):
        place(kite)
    with pytest.raises(kex.NetworkException, match="Too many requests") as err:
        place(kite)
    assert err.value.code == 429
    place(other)  # another account has its own budget
    assert emu.count_requests("POST", "/orders", api_key="key_a") == 11
    assert emu.count_requests("POST", "/orders", api_key="key_a", status=429) == 1
    assert len(emu.orders("key_a")) == 10


def test_quote_and_historical_rate_limits(emu, kite):
    emu.rate_limits_enabled = True
    kite.ltp("NSE:INFY")
    with pytest.raises(kex.NetworkException):
        kite.quote("NSE:INFY")
    for _ in range(3):
        kite.historical_data(408065, "2026-04-10 09:15:00", "2026-04-10 09:20:00", "minute")
    with pytest.raises(kex.NetworkException):
        kite.historical_data(408065, "2026-04-10 09:15:00", "2026-04-10 09:20:00", "minute")
    emu.rate_limits_enabled = False
    kite.ltp("NSE:INFY")


# ---- faults -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "exc", "code"),
    [
        ("http_500", kex.GeneralException, 500),
        ("http_502", kex.NetworkException, 502),
        ("http_503", kex.NetworkException, 503),
        ("html_502", kex.DataException, 502),
        ("expired_token", kex.TokenException, 403),
        ("input_exception", kex.InputException, 400),
    ],
)
def test_error_faults(emu, kite, kind, exc, code):
    emu.inject_fault("key_a", kind, count=1)
    with pytest.raises(exc) as err:
        kite.positions()
    assert err.value.code == code
    kite.positions()  # count=1: next request is fine


def test_fault_is_per_account_and_until_cleared(emu, kite):
    other = connect(emu, "key_b", SECRET_B)
    emu.inject_fault("key_a", "http_503")
    for _ in range(3):
        with pytest.raises(kex.NetworkException):
            kite.profile()
    other.profile()
    emu.clear_faults("key_a")
    kite.profile()


def test_fault_route_filter(emu, kite):
    emu.inject_fault("key_a", "order_exception", route="place_order", message="Markets are closed right now.")
    kite.orders()
    with pytest.raises(kex.OrderException, match="Markets are closed"):
        place(kite)
    assert emu.orders("key_a") == []


def test_connection_reset(emu, kite):
    emu.inject_fault("key_a", "connection_reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        kite.profile()
    kite.profile()


def test_latency_and_client_timeout(emu):
    kite = connect(emu, timeout=0.3)
    emu.inject_fault("key_a", "latency", count=1, seconds=0.1)
    started = time.monotonic()
    kite.profile()
    assert time.monotonic() - started >= 0.1
    emu.inject_fault("key_a", "latency", count=1, seconds=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        kite.profile()


def test_accept_then_hang_leaves_order_in_book(emu):
    kite = connect(emu, timeout=0.3)
    emu.inject_fault("key_a", "accept_then_hang", count=1, seconds=1.0)
    with pytest.raises(requests.exceptions.Timeout):
        place(kite, tag="retry1")
    found = [o for o in kite.orders() if o["tag"] == "retry1"]
    assert len(found) == 1 and found[0]["status"] == "COMPLETE"


def test_accept_then_reset_and_5xx_leave_order_in_book(emu, kite):
    emu.inject_fault("key_a", "accept_then_reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        place(kite, tag="t1")
    emu.inject_fault("key_a", "accept_then_502", count=1)
    with pytest.raises(kex.NetworkException):
        place(kite, tag="t2")
    assert sorted(o["tag"] for o in kite.orders()) == ["t1", "t2"]


def test_ip_not_whitelisted(emu, kite):
    emu.inject_fault("key_a", "ip_not_whitelisted")
    kite.orders()  # only order writes are IP-checked
    with pytest.raises(kex.PermissionException, match="whitelist") as err:
        place(kite)
    assert err.value.code == 403
    emu.clear_faults()
    emu.add_account(api_key="key_c", api_secret="s_c", user_id="EF9012", allowed_ips=["203.0.113.7"])
    kite_c = connect(emu, "key_c", "s_c")
    with pytest.raises(kex.PermissionException, match="127.0.0.1"):
        place(kite_c)


def test_unknown_fault_kind_rejected(emu):
    with pytest.raises(ValueError):
        emu.inject_fault("key_a", "gremlins")
    assert {"latency", "connection_reset", "accept_then_hang", "ip_not_whitelisted"} <= FAULT_KINDS


# ---- postbacks ----------------------------------------------------------------------------------------
class _Receiver:
    def __init__(self, delay: float = 0.0):
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                received.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/postback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_postbacks_with_valid_checksum_and_non_blocking(emu, kite):
    receiver = _Receiver(delay=0.3)
    try:
        emu.postback_url = receiver.url
        started = time.monotonic()
        oid = market(kite, quantity=2, tag="pb1")
        assert time.monotonic() - started < 0.25  # the slow receiver does not delay the response
        deliveries = emu.wait_for_postbacks(2, timeout=5)
        assert [d["payload"]["status"] for d in deliveries] == ["OPEN", "COMPLETE"]
        assert all(d["status_code"] == 200 for d in deliveries)
        body = receiver.bodies[-1]
        assert body["order_id"] == oid and body["user_id"] == "AB1234" and body["tag"] == "pb1"
        assert body["unfilled_quantity"] == 0 and isinstance(body["app_id"], int)
        expected = hashlib.sha256((oid + body["order_timestamp"] + SECRET_A).encode()).hexdigest()
        assert body["checksum"] == expected
    finally:
        receiver.close()


def test_partial_fill_postback_is_update(emu, kite):
    emu.set_fill_mode("partial")
    emu.account("key_a").postback_url = "http://127.0.0.1:9/unreachable"
    place(kite, quantity=4)
    deliveries = emu.wait_for_postbacks(2, timeout=5)
    assert [d["payload"]["status"] for d in deliveries] == ["OPEN", "UPDATE"]
    assert deliveries[1]["payload"]["unfilled_quantity"] == 2 and deliveries[1]["error"]


# ---- control surface, login redirect, standalone ------------------------------------------------------------
def test_control_surface_and_login_redirect(emu):
    base = emu.root + "/_emulator"
    r = requests.post(
        base + "/accounts",
        json={
            "api_key": "key_d",
            "api_secret": "s_d",
            "user_id": "GH3456",
            "redirect_url": "http://app.local/kite/callback?x=1",
        },
    )
    assert r.json()["data"]["user_id"] == "GH3456"
    r = requests.get(emu.root + "/connect/login", params={"api_key": "key_d", "v": "3"}, allow_redirects=False)
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/kite/callback" and query["status"] == ["success"] and query["x"] == ["1"]
    kite = KiteConnect("key_d", root=emu.root, timeout=3)
    kite.generate_session(query["request_token"][0], api_secret="s_d")

    requests.post(base + "/fill-mode", json={"mode": "open", "api_key": "key_d"})
    oid = place(kite)
    requests.post(base + "/faults", json={"api_key": "key_d", "kind": "http_503", "count": 1})
    with pytest.raises(kex.NetworkException):
        kite.orders()
    assert requests.post(f"{base}/fill/{oid}", json={"price": 1495}).json()["data"]["status"] == "COMPLETE"
    requests.post(base + "/ltp", json={"instrument": "NSE:INFY", "price": 1511})
    assert kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"] == 1511
    token = requests.post(base + "/request-token", params={"api_key": "key_d"}).json()["data"]["request_token"]
    kite.generate_session(token, api_secret="s_d")
    state = requests.get(base + "/state").json()["data"]
    assert any(a["api_key"] == "key_d" and a["logged_in"] for a in state["accounts"])
    assert [o["order_id"] for o in state["orders"]] == [oid]
    r = requests.get(
        emu.root + "/connect/login",
        params={"api_key": "key_d", "redirect_url": "http://x.test/cb"},
        allow_redirects=False,
    )
    assert r.headers["Location"].startswith("http://x.test/cb?request_token=")
    assert requests.delete(base + "/faults").json()["status"] == "success"


def test_run_standalone_non_blocking():
    emu = run_standalone(
        "127.0.0.1", 0, [{"api_key": "k", "api_secret": "s", "user_id": "ZZ0001"}], block=False, verbose=False
    )
    try:
        kite = KiteConnect("k", root=emu.root, timeout=3)
        kite.generate_session(emu.issue_request_token("k"), api_secret="s")
        assert kite.profile()["user_id"] == "ZZ0001"
    finally:
        emu.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        kite.profile()


def test_market_hours_and_clock(emu, kite):
    from tests.kite_emulator.util import IST

    emu.enforce_market_hours = True
    emu.clock = lambda: dt.datetime(2026, 4, 11, 10, 0, tzinfo=IST)  # a Saturday
    with pytest.raises(kex.InputException, match="Markets are closed"):
        place(kite)
    oid = place(kite, variety="amo")
    assert kite.orders()[0]["status"] == "AMO REQ RECEIVED"
    assert emu.fill_order(oid)["status"] == "COMPLETE"
    emu.clock = lambda: dt.datetime(2026, 4, 13, 9, 20, 30, tzinfo=IST)  # Monday, just after the open
    assert place(kite).startswith("260413")
    bars = kite.historical_data(408065, "2026-04-13 09:00:00", "2026-04-13 15:30:00", "minute")
    assert bars[-1]["date"].strftime("%H:%M") == "09:20"  # nothing from the future

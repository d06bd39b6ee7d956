"""KiteEmulator: the public facade tying state, HTTP server, faults, rate limits and postbacks together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .accounts import Account
from .faults import Fault, FaultBook
from .holdings import Holding, compute_holdings, roll_holdings
from .instruments import DEFAULT_CSV, Instrument, InstrumentStore
from .market import Market
from .orders import TRANSIENT_STATUSES, Order, OrderEngine, render
from .positions import compute_positions
from .postbacks import PostbackSender, postback_payload
from .protocol import Request
from .ratelimit import RateLimiter
from .server import EmulatorHTTPServer
from .util import now_ist, to_decimal

DEFAULT_POSTBACK_STATUSES = frozenset(
    {"OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED", "COMPLETE", "CANCELLED", "REJECTED", "UPDATE"}
)


@dataclass
class RequestRecord:
    method: str
    path: str
    api_key: str | None
    params: dict
    time: float
    client_ip: str
    status: int | None = None  # None while in flight; 0 when the connection was reset
    extra: dict = field(default_factory=dict)
    client_port: int = 0

    def public(self) -> dict:
        return {
            "method": self.method,
            "path": self.path,
            "api_key": self.api_key,
            "params": self.params,
            "time": self.time,
            "client_ip": self.client_ip,
            "status": self.status,
        }


class KiteEmulator:
    """A local Kite Connect v3 server for the real ``kiteconnect`` client.

    >>> with KiteEmulator() as emu:
    ...     emu.add_account(api_key="k1", api_secret="s1", user_id="AB1234")
    ...     kite = KiteConnect("k1", root=emu.root)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        instruments_csv: Path | str | None = DEFAULT_CSV,
        default_instruments: bool = True,
        rate_limits_enabled: bool = True,
        postback_url: str | None = None,
        request_token_ttl: float = 300.0,
        verbose: bool = False,
    ):
        self.host = host
        self.port = port
        self.verbose = verbose
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.instruments = InstrumentStore()
        if instruments_csv:
            self.instruments.load_csv(instruments_csv)
        if default_instruments:
            self.instruments.add_defaults()
        self.market = Market()
        self.clock: Callable = now_ist
        self.engine = OrderEngine(self.instruments, self.market, self._on_order_change, clock=lambda: self.clock())
        self.faults = FaultBook()
        self.limiter = RateLimiter()
        self.limiter.enabled = rate_limits_enabled
        self.postback_url = postback_url
        self.postback_statuses: frozenset[str] | None = DEFAULT_POSTBACK_STATUSES
        self.request_token_ttl = request_token_ttl
        self.default_redirect_url: str | None = None
        self.holidays: set = set()  # datetime.date values: no candles, and closed when enforcing hours
        self.enforce_market_hours = False  # True: regular orders outside 09:15-15:30 IST weekdays are refused
        self.requests: list[RequestRecord] = []
        self.max_request_log = 100_000
        self._sender = PostbackSender()
        self._stop = threading.Event()
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> KiteEmulator:
        if self._server is not None:
            return self
        self._stop.clear()
        self._server = EmulatorHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._sender.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"kite-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._sender.stop()

    def __enter__(self) -> KiteEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _wait(self, seconds: float) -> None:
        """Sleep that ends early when the emulator stops."""
        self._stop.wait(seconds)

    # ---- accounts and sessions -----------------------------------------------------------------
    def add_account(
        self,
        api_key: str,
        api_secret: str,
        user_id: str = "AB1234",
        user_name: str | None = None,
        *,
        email: str | None = None,
        redirect_url: str | None = None,
        postback_url: str | None = None,
        app_id: int | None = None,
        allowed_ips: Iterable[str] | None = None,
        cash: object = 1_000_000,
        fill_mode: str | None = None,
        access_token: str | None = None,
    ) -> Account:
        with self.lock:
            acc = Account(
                api_key=api_key,
                api_secret=api_secret,
                user_id=user_id,
                user_name=user_name or f"User {user_id}",
                email=email or f"{user_id.lower()}@example.com",
                redirect_url=redirect_url,
                postback_url=postback_url,
                app_id=app_id if app_id is not None else 1000 + len(self.accounts),
                allowed_ips=tuple(allowed_ips) if allowed_ips is not None else None,
                cash=Decimal(str(cash)),
            )
            if access_token:
                acc.access_tokens.add(access_token)
            self.accounts[api_key] = acc
            if fill_mode:
                self.engine.set_fill_mode(fill_mode, api_key=api_key)
            return acc

    def account(self, api_key: str) -> Account:
        return self.accounts[api_key]

    def issue_request_token(self, api_key: str) -> str:
        """A single-use request token, as Kite's login redirect would carry."""
        with self.lock:
            return self.accounts[api_key].issue_request_token(self.request_token_ttl)

    def login(self, api_key: str) -> str:
        """Create a session without the HTTP round trip; returns a valid access token."""
        with self.lock:
            return self.accounts[api_key].new_access_token()

    def expire_token(self, api_key: str) -> None:
        """Invalidate every access token of the account: later calls get 403 TokenException."""
        with self.lock:
            self.accounts[api_key].access_tokens.clear()

    # ---- market --------------------------------------------------------------------------------
    def add_instrument(
        self,
        tradingsymbol: str,
        *,
        exchange: str = "NSE",
        instrument_token: int | None = None,
        tick_size: object = "0.05",
        lot_size: int = 1,
        name: str | None = None,
    ) -> Instrument:
        with self.lock:
            return self.instruments.add_equity(
                tradingsymbol,
                exchange=exchange,
                instrument_token=instrument_token,
                tick_size=tick_size,
                lot_size=lot_size,
                name=name,
            )

    def set_ltp(self, instrument: str, price: object) -> None:
        """``instrument`` is ``"NSE:INFY"``."""
        with self.lock:
            self.market.set_ltp(instrument, price)

    def ltp(self, instrument: str) -> Decimal:
        with self.lock:
            inst = self.instruments.by_key(instrument)
            if inst is None:
                raise KeyError(instrument)
            return self.market.ltp(inst)

    # ---- orders --------------------------------------------------------------------------------
    def set_fill_mode(
        self,
        mode: str,
        *,
        api_key: str | None = None,
        tradingsymbol: str | None = None,
        message: str | None = None,
        fraction: float = 0.5,
    ) -> None:
        """mode: immediate | partial | open | reject; most specific (api_key, tradingsymbol) rule wins."""
        with self.lock:
            self.engine.set_fill_mode(mode, api_key, tradingsymbol, message, fraction)

    def fill_order(self, order_id: str, quantity: int | None = None, price: object = None) -> dict:
        with self.lock:
            order = self.engine.orders[order_id]
            self.engine.fill(self.accounts[order.api_key], order_id, quantity, price)
            return render(order.data)

    def reject_order(self, order_id: str, message: str | None = None) -> dict:
        with self.lock:
            return render(self.engine.reject(order_id, message).data)

    def order(self, order_id: str) -> dict:
        with self.lock:
            return render(self.engine.orders[order_id].data)

    def order_history(self, order_id: str) -> list[dict]:
        with self.lock:
            return render(self.engine.orders[order_id].history)

    def orders(self, api_key: str | None = None, *, tag: str | None = None) -> list[dict]:
        with self.lock:
            return [
                render(o.data)
                for o in self.engine.orders.values()
                if (api_key is None or o.api_key == api_key) and (tag is None or o.data["tag"] == tag)
            ]

    def trades(self, api_key: str) -> list[dict]:
        with self.lock:
            return render(self.accounts[api_key].trades)

    def positions(self, api_key: str) -> dict:
        with self.lock:
            return compute_positions(self.accounts[api_key].trades, self.instruments, self.market.ltp)

    # ---- holdings and the trading day ----------------------------------------------------------
    def holdings_payload(self, acc: Account) -> list[dict]:
        return compute_holdings(
            acc.holdings,
            acc.trades,
            self.instruments,
            self.market.ltp,
            lambda inst: to_decimal(self.market.ohlc(inst)["close"]),
        )

    def holdings(self, api_key: str) -> list[dict]:
        with self.lock:
            return self.holdings_payload(self.accounts[api_key])

    def set_holding(
        self, api_key: str, instrument: str, *, quantity: int = 0, t1_quantity: int = 0, average_price: object = None
    ) -> None:
        """Put a holding in place as the day opens with it (``instrument`` is ``"NSE:INFY"``):
        ``quantity`` delivered, ``t1_quantity`` bought on the last trading day. Zero removes it."""
        with self.lock:
            inst = self.instruments.by_key(instrument)
            if inst is None:
                raise KeyError(instrument)
            acc = self.accounts[api_key]
            key = (inst.exchange, inst.tradingsymbol)
            if quantity + t1_quantity <= 0:
                acc.holdings.pop(key, None)
                return
            price = self.market.ltp(inst) if average_price is None else to_decimal(average_price)
            acc.holdings[key] = Holding(
                inst.exchange, inst.tradingsymbol, inst.instrument_token, quantity, t1_quantity, price
            )

    def roll_day(self, api_key: str | None = None) -> None:
        """End the trading day for one account (None: every account), as Kite's next morning sees it:
        the day's net CNC buys become holdings with ``t1_quantity``, the last day's T1 shares are
        delivered (``quantity``), the day's CNC sells leave the holding; the order book, trades and
        positions start empty. Open orders are dropped (DAY validity). MIS and NRML positions still
        open are not carried over (Kite squares MIS off; NRML carry is not modelled). ``clock`` is
        not moved."""
        with self.lock:
            accounts = [self.accounts[api_key]] if api_key is not None else list(self.accounts.values())
            for acc in accounts:
                roll_holdings(acc.holdings, acc.trades)
                acc.trades.clear()
                for order_id in acc.order_ids:
                    self.engine.orders.pop(order_id, None)
                acc.order_ids.clear()

    # ---- faults and limits ---------------------------------------------------------------------
    def inject_fault(
        self,
        api_key: str | None,
        kind: str,
        *,
        route: str | None = None,
        count: int | None = None,
        seconds: float | None = None,
        message: str | None = None,
    ) -> Fault:
        """Fault the account's next ``count`` matching requests (None: until cleared). api_key None: all."""
        with self.lock:
            return self.faults.add(api_key, kind, route=route, count=count, seconds=seconds, message=message)

    def clear_faults(self, api_key: str | None = None) -> None:
        with self.lock:
            self.faults.clear(api_key)

    @property
    def rate_limits_enabled(self) -> bool:
        return self.limiter.enabled

    @rate_limits_enabled.setter
    def rate_limits_enabled(self, value: bool) -> None:
        self.limiter.enabled = bool(value)

    @property
    def rate_limits(self) -> dict[str, list[tuple[int, float]]]:
        """Mutable: bucket (orders|quote|historical|other) -> [(max requests, window seconds), ...]."""
        return self.limiter.limits

    # ---- postbacks -----------------------------------------------------------------------------
    def _on_order_change(self, order: Order, status: str) -> None:
        if self.postback_statuses is not None and status not in self.postback_statuses:
            return
        acc = self.accounts[order.api_key]
        url = acc.postback_url or self.postback_url
        if not url:
            return
        payload = render(
            postback_payload(order.data, status, user_id=acc.user_id, app_id=acc.app_id, api_secret=acc.api_secret)
        )
        self._sender.enqueue(url, payload)

    @property
    def postbacks(self) -> list[dict]:
        """Attempted postback deliveries: {url, payload, status_code, error, time}."""
        return list(self._sender.delivered)

    def wait_for_postbacks(self, count: int, timeout: float = 5.0) -> list[dict]:
        return self._sender.wait_for(count, timeout)

    # ---- request log ---------------------------------------------------------------------------
    def _record(self, req: Request, api_key: str | None) -> RequestRecord:
        record = RequestRecord(
            req.method, req.path, api_key, req.params.flat(), time.time(), req.client_ip, client_port=req.client_port
        )
        with self.lock:
            self.requests.append(record)
            if len(self.requests) > self.max_request_log:  # long-running standalone demo
                del self.requests[: len(self.requests) // 2]
        return record

    def count_requests(
        self, method: str | None = None, path: str | None = None, api_key: str | None = None, status: int | None = None
    ) -> int:
        """Count logged requests; ``path`` matches exactly or as a prefix ending at a '/'."""
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method)
                and (path is None or r.path == path or r.path.startswith(path.rstrip("/") + "/"))
                and (api_key is None or r.api_key == api_key)
                and (status is None or r.status == status)
            )

    # ---- inspection ----------------------------------------------------------------------------
    def state(self) -> dict:
        with self.lock:
            return {
                "root": self.root,
                "accounts": [a.public() for a in self.accounts.values()],
                "orders": [render(o.data) for o in self.engine.orders.values()],
                "faults": [f.public() for f in self.faults.faults],
                "rate_limits_enabled": self.rate_limits_enabled,
                "postback_url": self.postback_url,
                "requests": len(self.requests),
                "postbacks": len(self._sender.delivered),
            }

    def reset(self) -> None:
        """Forget orders, trades, holdings, faults, fill rules, rate-limit windows and logs; keep accounts
        and sessions."""
        with self.lock:
            self.engine.orders.clear()
            self.engine.fill_rules.clear()
            for acc in self.accounts.values():
                acc.order_ids.clear()
                acc.trades.clear()
                acc.holdings.clear()
            self.faults.clear()
            self.limiter.reset()
            self.requests.clear()
            self._sender.delivered.clear()


__all__ = ["KiteEmulator", "RequestRecord", "TRANSIENT_STATUSES", "DEFAULT_POSTBACK_STATUSES"]

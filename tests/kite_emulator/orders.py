"""Order book and fill engine: Kite statuses, history snapshots, trades, fill modes."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from .accounts import Account
from .errors import input_error
from .instruments import Instrument, InstrumentStore
from .market import Market
from .util import Params, fmt_ts, now_ist, num
from .validation import validate_modify, validate_place

FILL_MODES = ("immediate", "partial", "open", "reject")
LIVE_STATUSES = {"OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED"}
TRANSIENT_STATUSES = {
    "PUT ORDER REQ RECEIVED",
    "VALIDATION PENDING",
    "OPEN PENDING",
    "MODIFY VALIDATION PENDING",
    "MODIFY PENDING",
    "MODIFIED",
    "CANCEL PENDING",
}
DEFAULT_REJECT_MESSAGE = "RMS:Margin Exceeds, Required:0.00, Available:0.00 (emulator fill mode 'reject')"


@dataclass
class FillRule:
    mode: str = "immediate"
    message: str | None = None
    fraction: float = 0.5


@dataclass
class Order:
    api_key: str
    data: dict
    instrument: Instrument
    history: list[dict] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return self.data["order_id"]

    @property
    def status(self) -> str:
        return self.data["status"]


def render(value):
    """Decimals to JSON numbers, recursively."""
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, Decimal):
        return num(value)
    return value


# Notification hook: (order, status_for_postback).
Notify = Callable[[Order, str], None]


class OrderEngine:
    def __init__(self, instruments: InstrumentStore, market: Market, notify: Notify, clock: Callable = now_ist) -> None:
        self.instruments = instruments
        self.market = market
        self.notify = notify
        self.clock = clock
        self.orders: dict[str, Order] = {}
        self.fill_rules: dict[tuple[str | None, str | None], FillRule] = {}
        self._order_seq = itertools.count(1)
        self._trade_seq = itertools.count(10_000_001)

    # ---- configuration -------------------------------------------------------------------------
    def set_fill_mode(
        self,
        mode: str,
        api_key: str | None = None,
        tradingsymbol: str | None = None,
        message: str | None = None,
        fraction: float = 0.5,
    ) -> None:
        if mode not in FILL_MODES:
            raise ValueError(f"fill mode must be one of {FILL_MODES}, not {mode!r}")
        if not 0 < fraction < 1:
            raise ValueError("fraction must be between 0 and 1")
        self.fill_rules[(api_key, tradingsymbol)] = FillRule(mode, message, fraction)

    def fill_rule(self, api_key: str, tradingsymbol: str) -> FillRule:
        for key in ((api_key, tradingsymbol), (None, tradingsymbol), (api_key, None), (None, None)):
            if key in self.fill_rules:
                return self.fill_rules[key]
        return FillRule()

    # ---- lookups -------------------------------------------------------------------------------
    def get_for(self, acc: Account, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.api_key != acc.api_key:
            raise input_error("Couldn't find that `order_id`.")
        return order

    def orders_for(self, acc: Account) -> list[Order]:
        return [self.orders[i] for i in acc.order_ids]

    # ---- transitions ---------------------------------------------------------------------------
    def _ts(self) -> str:
        return fmt_ts(self.clock())

    def _transition(
        self, order: Order, status: str, message: str | None = None, postback_status: str | None = None
    ) -> None:
        d = order.data
        d["status"] = status
        if message is not None:
            d["status_message"] = message
            d["status_message_raw"] = message
        d["exchange_update_timestamp"] = self._ts()
        order.history.append({**d, "meta": copy.deepcopy(d["meta"]), "tags": copy.copy(d["tags"])})
        self.notify(order, postback_status or status)

    def place(self, acc: Account, variety: str, params: Params) -> Order:
        inst, f = validate_place(variety, params, self.instruments)
        now = self.clock()
        seq = next(self._order_seq)
        order_id = f"{now:%y%m%d}{seq:09d}"
        ts = fmt_ts(now)
        data = {
            "placed_by": acc.user_id,
            "order_id": order_id,
            "exchange_order_id": None,
            "parent_order_id": None,
            "status": "PUT ORDER REQ RECEIVED",
            "status_message": None,
            "status_message_raw": None,
            "order_timestamp": ts,
            "exchange_update_timestamp": ts,
            "exchange_timestamp": None,
            "variety": variety,
            "modified": False,
            "exchange": f["exchange"],
            "tradingsymbol": f["tradingsymbol"],
            "instrument_token": inst.instrument_token,
            "order_type": f["order_type"],
            "transaction_type": f["transaction_type"],
            "validity": f["validity"],
            "validity_ttl": f["validity_ttl"],
            "product": f["product"],
            "quantity": f["quantity"],
            "disclosed_quantity": f["disclosed_quantity"],
            "price": f["price"],
            "trigger_price": f["trigger_price"],
            "average_price": Decimal(0),
            "filled_quantity": 0,
            "pending_quantity": f["quantity"],
            "cancelled_quantity": 0,
            "market_protection": f["market_protection"],
            "meta": {},
            "tag": f["tag"],
            "tags": [f["tag"]] if f["tag"] else None,
            "guid": f"{seq}X{acc.user_id}",
        }
        order = Order(api_key=acc.api_key, data=data, instrument=inst)
        self.orders[order_id] = order
        acc.order_ids.append(order_id)
        rule = self.fill_rule(acc.api_key, f["tradingsymbol"])
        self._transition(order, "PUT ORDER REQ RECEIVED")
        self._transition(order, "VALIDATION PENDING")
        if rule.mode == "reject":
            self._transition(order, "REJECTED", rule.message or DEFAULT_REJECT_MESSAGE)
            return order
        if variety == "amo":
            self._transition(order, "AMO REQ RECEIVED")
            return order
        self._open(order)
        self._apply_rule(acc, order, rule)
        return order

    def _open(self, order: Order) -> None:
        d = order.data
        self._transition(order, "OPEN PENDING")
        d["exchange_order_id"] = f"11{int(d['order_id']):014d}"
        d["exchange_timestamp"] = self._ts()
        if d["order_type"] in ("SL", "SL-M"):
            self._transition(order, "TRIGGER PENDING")
        else:
            self._transition(order, "OPEN")

    def _apply_rule(self, acc: Account, order: Order, rule: FillRule) -> None:
        d = order.data
        if rule.mode == "immediate":
            self._fill(acc, order, d["pending_quantity"], None)
        elif rule.mode == "partial":
            lot = order.instrument.lot_size
            part = int(d["quantity"] * rule.fraction) // lot * lot
            part = min(part, d["pending_quantity"])
            if part > 0:
                self._fill(acc, order, part, None)
        if d["validity"] == "IOC" and d["status"] in LIVE_STATUSES:
            self._cancel_rest(order)

    def _auto_price(self, order: Order) -> Decimal:
        d = order.data
        ltp = self.market.ltp(order.instrument)
        if d["order_type"] in ("MARKET", "SL-M"):
            return ltp
        limit = d["price"]
        if d["transaction_type"] == "BUY":
            return min(limit, ltp)
        return max(limit, ltp)

    def _fill(self, acc: Account, order: Order, quantity: int, price: Decimal | None) -> None:
        d = order.data
        if d["status"] == "TRIGGER PENDING":
            self._transition(order, "OPEN")
        price = self._auto_price(order) if price is None else price
        filled = d["filled_quantity"]
        d["average_price"] = (d["average_price"] * filled + price * quantity) / (filled + quantity)
        d["filled_quantity"] = filled + quantity
        d["pending_quantity"] = d["quantity"] - d["filled_quantity"] - d["cancelled_quantity"]
        now = self.clock()
        trade = {
            "trade_id": str(next(self._trade_seq)),
            "order_id": d["order_id"],
            "exchange": d["exchange"],
            "tradingsymbol": d["tradingsymbol"],
            "instrument_token": d["instrument_token"],
            "product": d["product"],
            "average_price": price,
            "quantity": quantity,
            "exchange_order_id": d["exchange_order_id"],
            "transaction_type": d["transaction_type"],
            "fill_timestamp": fmt_ts(now),
            "order_timestamp": f"{now:%H:%M:%S}",
            "exchange_timestamp": fmt_ts(now),
        }
        order.trades.append(trade)
        acc.trades.append(trade)
        if d["pending_quantity"] == 0:
            self._transition(order, "COMPLETE")
        else:
            self._transition(order, "OPEN", postback_status="UPDATE")

    def _cancel_rest(self, order: Order) -> None:
        d = order.data
        d["cancelled_quantity"] = d["quantity"] - d["filled_quantity"]
        d["pending_quantity"] = 0
        self._transition(order, "CANCELLED")

    # ---- client actions ------------------------------------------------------------------------
    def modify(self, acc: Account, variety: str, order_id: str, params: Params) -> Order:
        order = self.get_for(acc, order_id)
        d = order.data
        if d["variety"] != variety:
            raise input_error("Invalid `variety` for this order.")
        if d["status"] not in LIVE_STATUSES:
            raise input_error(f"Order cannot be modified as it is {d['status']}.")
        changes = validate_modify(d, order.instrument, params)
        previous = d["status"]
        self._transition(order, "MODIFY VALIDATION PENDING")
        self._transition(order, "MODIFY PENDING")
        d.update(changes)
        d["modified"] = True
        d["pending_quantity"] = d["quantity"] - d["filled_quantity"] - d["cancelled_quantity"]
        self._transition(order, "MODIFIED")
        back = previous
        if previous == "TRIGGER PENDING" and d["order_type"] not in ("SL", "SL-M"):
            back = "OPEN"
        elif previous == "OPEN" and d["order_type"] in ("SL", "SL-M") and d["filled_quantity"] == 0:
            back = "TRIGGER PENDING"
        self._transition(order, back, postback_status="UPDATE")
        rule = self.fill_rule(acc.api_key, d["tradingsymbol"])
        if rule.mode == "immediate" and back != "AMO REQ RECEIVED" and d["pending_quantity"]:
            self._fill(acc, order, d["pending_quantity"], None)
        return order

    def cancel(self, acc: Account, variety: str, order_id: str) -> Order:
        order = self.get_for(acc, order_id)
        d = order.data
        if d["variety"] != variety:
            raise input_error("Invalid `variety` for this order.")
        if d["status"] not in LIVE_STATUSES:
            raise input_error(f"Order cannot be cancelled as it is {d['status']}.")
        self._transition(order, "CANCEL PENDING")
        self._cancel_rest(order)
        return order

    def fill(self, acc: Account, order_id: str, quantity: int | None = None, price: object = None) -> Order:
        """Exchange-side fill (test/control hook)."""
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        d = order.data
        if d["status"] not in LIVE_STATUSES:
            raise ValueError(f"order {order_id} is {d['status']}; only live orders can fill")
        if d["status"] == "AMO REQ RECEIVED":
            self._open(order)
        quantity = d["pending_quantity"] if quantity is None else int(quantity)
        if not 0 < quantity <= d["pending_quantity"]:
            raise ValueError(f"fill quantity must be in 1..{d['pending_quantity']}")
        if price is None and d["order_type"] in ("LIMIT", "SL"):
            price = d["price"]
        self._fill(acc, order, quantity, None if price is None else Decimal(str(price)))
        return order

    def reject(self, order_id: str, message: str | None = None) -> Order:
        """Exchange-side rejection of a live order (test/control hook)."""
        order = self.orders[order_id]
        if order.status not in LIVE_STATUSES:
            raise ValueError(f"order {order_id} is {order.status}")
        order.data["pending_quantity"] = 0
        self._transition(order, "REJECTED", message or DEFAULT_REJECT_MESSAGE)
        return order

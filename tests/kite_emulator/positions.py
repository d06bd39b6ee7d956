"""Positions computed from an account's fills, in the /portfolio/positions shape."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from .instruments import InstrumentStore
from .util import num


def _avg(value: Decimal, qty: int) -> Decimal:
    return value / qty if qty else Decimal(0)


def compute_positions(trades: list[dict], instruments: InstrumentStore, ltp: Callable[[object], Decimal]) -> dict:
    """Aggregate fills per (exchange, tradingsymbol, product). All fills are today's, so net == day.

    value = sell_value - buy_value; pnl = value + quantity * last_price * multiplier (as Kite).
    """
    groups: dict[tuple[str, str, str], dict] = {}
    for t in trades:
        key = (t["exchange"], t["tradingsymbol"], t["product"])
        g = groups.setdefault(
            key, {"token": t["instrument_token"], "bq": 0, "bv": Decimal(0), "sq": 0, "sv": Decimal(0)}
        )
        value = Decimal(str(t["average_price"])) * t["quantity"]
        if t["transaction_type"] == "BUY":
            g["bq"] += t["quantity"]
            g["bv"] += value
        else:
            g["sq"] += t["quantity"]
            g["sv"] += value
    rows = []
    for (exchange, symbol, product), g in groups.items():
        inst = instruments.get(exchange, symbol)
        last = ltp(inst) if inst else Decimal(0)
        qty = g["bq"] - g["sq"]
        buy_price, sell_price = _avg(g["bv"], g["bq"]), _avg(g["sv"], g["sq"])
        value = g["sv"] - g["bv"]
        pnl = value + qty * last
        rows.append(
            {
                "tradingsymbol": symbol,
                "exchange": exchange,
                "instrument_token": g["token"],
                "product": product,
                "quantity": qty,
                "overnight_quantity": 0,
                "multiplier": 1,
                "average_price": num(buy_price if qty > 0 else sell_price if qty < 0 else Decimal(0)),
                "close_price": 0,
                "last_price": num(last),
                "value": num(value),
                "pnl": num(pnl),
                "m2m": num(pnl),
                "unrealised": num(pnl),
                "realised": 0,
                "buy_quantity": g["bq"],
                "buy_price": num(buy_price),
                "buy_value": num(g["bv"]),
                "buy_m2m": num(g["bv"]),
                "sell_quantity": g["sq"],
                "sell_price": num(sell_price),
                "sell_value": num(g["sv"]),
                "sell_m2m": num(g["sv"]),
                "day_buy_quantity": g["bq"],
                "day_buy_price": num(buy_price),
                "day_buy_value": num(g["bv"]),
                "day_sell_quantity": g["sq"],
                "day_sell_price": num(sell_price),
                "day_sell_value": num(g["sv"]),
            }
        )
    return {"net": rows, "day": [dict(r) for r in rows]}

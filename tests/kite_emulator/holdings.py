"""Delivery (CNC) holdings in the /portfolio/holdings shape, and the end of a trading day.

Kite keeps a CNC buy in the day's positions on the day it is bought; from the next trading day it
is a holding. The emulator models that the same way:

* ``Holding.realised``: shares delivered to the demat account (``realised_quantity``, ``quantity``);
* ``Holding.t1``: shares bought on the last trading day, not yet delivered (``t1_quantity``);
* ``opening_quantity`` = realised + t1, what the day opened with; it does not move during the day;
* a CNC sell today shows as a negative CNC position in the day's positions (as on Kite), and the
  part of it taken from the holding as ``used_quantity``.

``quantity`` leaves T1 shares out, as Kite's own payloads do (a T1-only holding reads
``quantity 0, t1_quantity 1, opening_quantity 1``), although Kite's docs call it "T+1 + realised".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from .instruments import InstrumentStore
from .util import num


@dataclass
class Holding:
    exchange: str
    tradingsymbol: str
    instrument_token: int
    realised: int = 0
    t1: int = 0
    average_price: Decimal = Decimal(0)

    @property
    def opening(self) -> int:
        return self.realised + self.t1


def _cnc_day(trades: list[dict]) -> dict[tuple[str, str], dict]:
    """Today's CNC buys and sells per (exchange, tradingsymbol)."""
    days: dict[tuple[str, str], dict] = {}
    for t in trades:
        if t["product"] != "CNC":
            continue
        d = days.setdefault(
            (t["exchange"], t["tradingsymbol"]),
            {"token": t["instrument_token"], "bq": 0, "bv": Decimal(0), "sq": 0},
        )
        if t["transaction_type"] == "BUY":
            d["bq"] += t["quantity"]
            d["bv"] += Decimal(str(t["average_price"])) * t["quantity"]
        else:
            d["sq"] += t["quantity"]
    return days


def compute_holdings(
    holdings: dict[tuple[str, str], Holding],
    trades: list[dict],
    instruments: InstrumentStore,
    ltp: Callable[[object], Decimal],
    close: Callable[[object], Decimal],
) -> list[dict]:
    """The account's holdings as Kite lists them during the day."""
    days = _cnc_day(trades)
    rows = []
    for key, h in holdings.items():
        if h.opening <= 0:
            continue
        day = days.get(key, {"bq": 0, "sq": 0})
        used = min(h.opening, max(0, day["sq"] - day["bq"]))  # sold out of the holding, not out of today's buys
        inst = instruments.get(h.exchange, h.tradingsymbol)
        last = ltp(inst) if inst else Decimal(0)
        prev = close(inst) if inst else Decimal(0)
        rows.append(
            {
                "tradingsymbol": h.tradingsymbol,
                "exchange": h.exchange,
                "instrument_token": h.instrument_token,
                "isin": "",
                "product": "CNC",
                "price": 0,
                "quantity": h.realised,
                "used_quantity": used,
                "t1_quantity": h.t1,
                "realised_quantity": h.realised,
                "authorised_quantity": 0,
                "authorised_date": "",
                "authorisation": {},
                "opening_quantity": h.opening,
                "short_quantity": 0,
                "collateral_quantity": 0,
                "collateral_type": "",
                "discrepancy": False,
                "average_price": num(h.average_price),
                "last_price": num(last),
                "close_price": num(prev),
                "pnl": num((last - h.average_price) * h.opening),
                "day_change": num(last - prev),
                "day_change_percentage": num((last - prev) / prev * 100) if prev else 0,
                "mtf": {"quantity": 0, "used_quantity": 0, "average_price": 0, "value": 0, "initial_margin": 0},
            }
        )
    return rows


def roll_holdings(holdings: dict[tuple[str, str], Holding], trades: list[dict]) -> None:
    """End the trading day: yesterday's T1 shares are delivered, today's net CNC buys become T1,
    today's net CNC sells leave the holding. Short deliveries are not modelled (a holding never
    goes below zero)."""
    days = _cnc_day(trades)
    for h in holdings.values():
        h.realised, h.t1 = h.realised + h.t1, 0
    for key, day in days.items():
        net = day["bq"] - day["sq"]
        h = holdings.get(key)
        if h is None:
            if net <= 0:
                continue
            h = holdings[key] = Holding(exchange=key[0], tradingsymbol=key[1], instrument_token=day["token"])
        if net > 0:
            bought_at = day["bv"] / day["bq"]
            h.average_price = (h.average_price * h.realised + bought_at * net) / (h.realised + net)
            h.t1 = net
        else:
            h.realised = max(0, h.realised + net)
    for key in [k for k, h in holdings.items() if h.opening == 0]:
        del holdings[key]

"""Last traded prices and quote payloads (ltp / ohlc / full quote), deterministic by default."""

from __future__ import annotations

from decimal import Decimal

from .instruments import Instrument
from .util import fmt_ts, now_ist, num, round_to_tick, stable_int, to_decimal

DEFAULT_PRICES = {
    "NSE:INFY": Decimal("1500"),
    "NSE:SBIN": Decimal("800"),
    "NSE:RELIANCE": Decimal("2900"),
    "NSE:TCS": Decimal("3900"),
    "NSE:HDFCBANK": Decimal("1700"),
}


def default_price(inst: Instrument) -> Decimal:
    if inst.key in DEFAULT_PRICES:
        return DEFAULT_PRICES[inst.key]
    raw = Decimal(50) + Decimal(stable_int("ltp", inst.instrument_token) % 300_000) / 100
    return round_to_tick(raw, inst.tick_size) or inst.tick_size


class Market:
    """LTP table keyed by ``"EXCHANGE:SYMBOL"``; unset instruments use :func:`default_price`."""

    def __init__(self) -> None:
        self._ltp: dict[str, Decimal] = {}

    def set_ltp(self, key: str, price: object) -> None:
        self._ltp[key] = to_decimal(price)

    def ltp(self, inst: Instrument) -> Decimal:
        return self._ltp.get(inst.key) or default_price(inst)

    def ohlc(self, inst: Instrument) -> dict:
        ltp = self.ltp(inst)
        wiggle = Decimal(stable_int("ohlc", inst.instrument_token) % 200) / 10_000  # 0..2 %
        close = round_to_tick(ltp * (1 - wiggle + Decimal("0.01")), inst.tick_size)
        open_ = round_to_tick((ltp + close) / 2, inst.tick_size)
        high = max(ltp, open_, close) + inst.tick_size * 4
        low = min(ltp, open_, close) - inst.tick_size * 4
        return {"open": num(open_), "high": num(high), "low": num(low), "close": num(close)}

    def ltp_payload(self, inst: Instrument) -> dict:
        return {"instrument_token": inst.instrument_token, "last_price": num(self.ltp(inst))}

    def ohlc_payload(self, inst: Instrument) -> dict:
        return {**self.ltp_payload(inst), "ohlc": self.ohlc(inst)}

    def quote_payload(self, inst: Instrument) -> dict:
        ltp = self.ltp(inst)
        ohlc = self.ohlc(inst)
        close = to_decimal(ohlc["close"])
        tick = inst.tick_size
        ts = fmt_ts(now_ist())
        volume = 100_000 + stable_int("vol", inst.instrument_token) % 5_000_000
        buy = [{"price": num(ltp - tick * (i + 1)), "quantity": 10 * (i + 1), "orders": i + 1} for i in range(5)]
        sell = [{"price": num(ltp + tick * (i + 1)), "quantity": 10 * (i + 1), "orders": i + 1} for i in range(5)]
        return {
            "instrument_token": inst.instrument_token,
            "timestamp": ts,
            "last_trade_time": ts,
            "last_price": num(ltp),
            "last_quantity": 5,
            "buy_quantity": sum(d["quantity"] for d in buy),
            "sell_quantity": sum(d["quantity"] for d in sell),
            "volume": volume,
            "average_price": num(round_to_tick((to_decimal(ohlc["high"]) + to_decimal(ohlc["low"])) / 2, tick)),
            "oi": 0,
            "oi_day_high": 0,
            "oi_day_low": 0,
            "net_change": num(ltp - close),
            "lower_circuit_limit": num(round_to_tick(close * Decimal("0.9"), tick)),
            "upper_circuit_limit": num(round_to_tick(close * Decimal("1.1"), tick)),
            "ohlc": ohlc,
            "depth": {"buy": buy, "sell": sell},
        }

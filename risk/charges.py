"""What a trade costs beyond its price: brokerage, STT, exchange charges, SEBI fee, stamp duty, GST.

Pure functions over plain values, so live fills, paper fills and backtests charge the same way.
The rates themselves are data (``risk.models.ChargeSchedule``, editable in the admin); the
defaults below are Zerodha's published NSE/BSE equity rates (zerodha.com/charges, as of 2026):

| charge | equity intraday (MIS) | equity delivery (CNC) |
|---|---|---|
| brokerage | 0.03% or ₹20 per executed order, whichever is lower | zero |
| STT | 0.025% on the sell side | 0.1% on buy and sell |
| exchange transaction | NSE 0.00297%, BSE 0.00375% of turnover | same |
| SEBI fee | ₹10 per crore of turnover | same |
| stamp duty | 0.003% on the buy side | 0.015% on the buy side |
| GST | 18% on brokerage + SEBI fee + exchange transaction charges | same |

Each component is rounded to the paisa per fill (contract notes round STT per scrip and day, so
a day's figure may differ from the contract note's by a rupee). DP charges on delivery sells
(per scrip per day, not per order) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
PAISE = Decimal("0.01")
HUNDRED = Decimal("100")
CRORE = Decimal("10000000")


@dataclass(frozen=True)
class ChargeRates:
    """One exchange and product's rates. Percentages are of turnover (price × quantity)."""

    brokerage_pct: Decimal = ZERO
    brokerage_cap_per_order: Decimal | None = None  # None: no cap
    stt_buy_pct: Decimal = ZERO
    stt_sell_pct: Decimal = ZERO
    exchange_txn_pct: Decimal = ZERO
    sebi_per_crore: Decimal = ZERO
    stamp_buy_pct: Decimal = ZERO
    gst_pct: Decimal = ZERO


# Zerodha's equity rates (see the module's table); the admin's rows start from these.
NSE_EQUITY_INTRADAY = ChargeRates(
    brokerage_pct=Decimal("0.03"),
    brokerage_cap_per_order=Decimal("20"),
    stt_sell_pct=Decimal("0.025"),
    exchange_txn_pct=Decimal("0.00297"),
    sebi_per_crore=Decimal("10"),
    stamp_buy_pct=Decimal("0.003"),
    gst_pct=Decimal("18"),
)
NSE_EQUITY_DELIVERY = ChargeRates(
    stt_buy_pct=Decimal("0.1"),
    stt_sell_pct=Decimal("0.1"),
    exchange_txn_pct=Decimal("0.00297"),
    sebi_per_crore=Decimal("10"),
    stamp_buy_pct=Decimal("0.015"),
    gst_pct=Decimal("18"),
)
DEFAULT_RATES: dict[tuple[str, str], ChargeRates] = {
    ("NSE", "MIS"): NSE_EQUITY_INTRADAY,
    ("NSE", "CNC"): NSE_EQUITY_DELIVERY,
    ("BSE", "MIS"): ChargeRates(**{**NSE_EQUITY_INTRADAY.__dict__, "exchange_txn_pct": Decimal("0.00375")}),
    ("BSE", "CNC"): ChargeRates(**{**NSE_EQUITY_DELIVERY.__dict__, "exchange_txn_pct": Decimal("0.00375")}),
}


@dataclass(frozen=True)
class Charges:
    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange_txn: Decimal = ZERO
    sebi: Decimal = ZERO
    stamp: Decimal = ZERO
    gst: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, f.name) for f in fields(self)), ZERO)

    def as_dict(self) -> dict[str, str]:
        """Each component as a string (JSON-safe, exact), plus the total."""
        return {**{f.name: str(getattr(self, f.name)) for f in fields(self)}, "total": str(self.total)}

    def __add__(self, other: Charges) -> Charges:
        return Charges(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


def _pct(value: Decimal, pct: Decimal) -> Decimal:
    return value * pct / HUNDRED


def _paise(value: Decimal) -> Decimal:
    return value.quantize(PAISE, rounding=ROUND_HALF_UP)


def _brokerage(rates: ChargeRates, value: Decimal) -> Decimal:
    raw = _pct(value, rates.brokerage_pct)
    return raw if rates.brokerage_cap_per_order is None else min(raw, rates.brokerage_cap_per_order)


def fill_charges(
    *, rates: ChargeRates, side: str, quantity: int, price: Decimal, order_value_before: Decimal = ZERO
) -> Charges:
    """The charges of one fill (``side`` BUY or SELL) of ``quantity`` at ``price``.

    Brokerage is capped per executed *order*, so a fill pays the order's brokerage on everything
    filled so far less what its earlier fills paid: ``order_value_before`` is the turnover of the
    order's earlier fills (0 for its first). The other charges are proportional to turnover.
    """
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, not {side!r}")
    if quantity <= 0:
        raise ValueError("fill quantity must be positive")
    value = Decimal(price) * quantity
    before = Decimal(order_value_before)
    brokerage = _paise(_brokerage(rates, before + value)) - _paise(_brokerage(rates, before))
    exchange_txn = _paise(_pct(value, rates.exchange_txn_pct))
    sebi = _paise(value * rates.sebi_per_crore / CRORE)
    return Charges(
        brokerage=brokerage,
        stt=_paise(_pct(value, rates.stt_buy_pct if side == "BUY" else rates.stt_sell_pct)),
        exchange_txn=exchange_txn,
        sebi=sebi,
        stamp=_paise(_pct(value, rates.stamp_buy_pct)) if side == "BUY" else ZERO,
        gst=_paise(_pct(brokerage + exchange_txn + sebi, rates.gst_pct)),
    )


def round_trip_charges(*, rates: ChargeRates, quantity: int, buy_price: Decimal, sell_price: Decimal) -> Charges:
    """A buy and a sell of ``quantity``, each one order filled at once: what a backtest trade pays."""
    return fill_charges(rates=rates, side="BUY", quantity=quantity, price=buy_price) + fill_charges(
        rates=rates, side="SELL", quantity=quantity, price=sell_price
    )

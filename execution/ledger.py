"""Position arithmetic: average price and realised P&L as fills arrive. Pure functions."""

from dataclasses import dataclass
from decimal import Decimal

PAISE = Decimal("0.01")


@dataclass(frozen=True)
class LedgerState:
    quantity: int  # signed
    average_price: Decimal


@dataclass(frozen=True)
class FillEffect:
    after: LedgerState
    realised_pnl: Decimal


def apply_fill(state: LedgerState, *, side: str, quantity: int, price: Decimal) -> FillEffect:
    """Apply one fill to a position using the average-price method.

    Adding to a position moves the average; reducing realises (price - average) per unit in the
    position's direction; crossing through zero closes the old side and opens the new at ``price``.
    """
    if quantity <= 0:
        raise ValueError("fill quantity must be positive")
    signed = quantity if side == "BUY" else -quantity
    old_qty, avg = state.quantity, state.average_price
    new_qty = old_qty + signed
    if old_qty == 0 or (old_qty > 0) == (signed > 0):
        total_cost = avg * abs(old_qty) + price * quantity
        new_avg = total_cost / abs(new_qty)
        return FillEffect(LedgerState(new_qty, new_avg.quantize(Decimal("0.0001"))), Decimal("0.00"))
    closed = min(abs(old_qty), quantity)
    direction = 1 if old_qty > 0 else -1
    realised = ((price - avg) * closed * direction).quantize(PAISE)
    if new_qty == 0:
        new_avg = Decimal("0")
    elif (new_qty > 0) == (old_qty > 0):
        new_avg = avg
    else:
        new_avg = price
    return FillEffect(LedgerState(new_qty, new_avg), realised)


def unrealised_pnl(state: LedgerState, last_price: Decimal) -> Decimal:
    return ((last_price - state.average_price) * state.quantity).quantize(PAISE)

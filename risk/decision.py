"""The order decision: one intent on one position of an account's book, in; legs out.

Pure: a snapshot in (the position as the book holds it, the risk context, the intent), legs with
their quantities, every check's result, the sizing and the reasons out. No database, no clock, no
network, so the live order path, a paper replay and the backtest decide alike.

The rules that keep a position from flipping (DESIGN.md, invariant 2):

- An exit closes what is held **minus the exits already working** (``HeldPosition.exitable``).
  A second exit for a position that is already being exited is nothing to do, with its reason.
- An entry goes only if the *working* position (what stays after the exits, plus entries still
  working) is not already on the target's side, so concurrent entries in one instrument open one.
- A reversal's entry counts the exits ahead of it (this decision's and those already working):
  their value leaves the exposure the entry is checked and sized against; if this decision's own
  exit is refused, the entry is not sent either.

``risk`` never imports ``execution``: execution builds the snapshot and records the decision.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from .checks import OrderProposal, RiskContext, RiskDecision, evaluate
from .sizing import SizingResult, size_position

ENTRY, EXIT = "entry", "exit"
# A position larger than the per-order caps is closed in several orders, up to this many per
# decision (a later square-off continues); more would take seconds at Kite's 10 orders a second.
MAX_EXIT_ORDERS = 20


def _sign(quantity: int) -> int:
    return (quantity > 0) - (quantity < 0)


@dataclass(frozen=True)
class HeldPosition:
    """One (strategy, instrument, product) of an account's book, signed (long positive)."""

    filled: int = 0
    exits_working: int = 0  # remaining quantity of exit orders that may still fill (opposite sign)
    entries_working: int = 0  # remaining quantity of entry orders that may still fill
    mark: Decimal = Decimal("0")  # price the filled position is valued at (last mark, or average)

    @property
    def exitable(self) -> int:
        """What is held minus the exits already in flight: the most a new exit may close."""
        remaining = self.filled + self.exits_working
        return remaining if _sign(remaining) == _sign(self.filled) else 0


@dataclass(frozen=True)
class Intent:
    """Where the position should be: ``target`` -1 short, 0 flat, 1 long."""

    target: int
    reference_price: Decimal
    stop_price: Decimal | None
    lot_size: int
    tick_size: Decimal
    split_exits: bool = False  # square-off: exits in orders that each fit the per-order caps


@dataclass(frozen=True)
class Leg:
    leg: str  # ENTRY or EXIT
    side: str
    quantity: int
    proposal: OrderProposal
    checks: RiskDecision
    sizing: SizingResult | None
    approved: bool
    summary: str


@dataclass(frozen=True)
class OrderDecision:
    legs: tuple[Leg, ...]
    reason: str  # with no legs, why there is nothing to do; otherwise what else was seen (or "")

    @property
    def outcome(self) -> str:
        """``nothing_to_do``, ``ordered`` (at least one leg approved) or ``refused``."""
        if not self.legs:
            return "nothing_to_do"
        return "ordered" if any(leg.approved for leg in self.legs) else "refused"

    @property
    def summary(self) -> str:
        if not self.legs:
            return self.reason
        parts = [f"{leg.leg} {leg.side} {leg.quantity}: {leg.summary}" for leg in self.legs]
        return " ".join(parts + ([self.reason] if self.reason else []))


def exit_chunks(*, quantity: int, lot_size: int, max_quantity: int, max_value: Decimal, price: Decimal) -> list[int]:
    """Split an exit of ``quantity`` into orders each within the account's per-order caps.

    A position can outgrow the caps after it was opened (the price rose, the operator lowered a
    cap); one order would then be refused by the sanity checks and the position would stay open.
    If not even one lot fits, one order for everything is returned, for the checks to refuse
    with their reason.
    """
    per_order = max_quantity
    if price > 0:
        per_order = min(per_order, int(max_value // price))
    per_order -= per_order % max(lot_size, 1)
    if per_order <= 0 or quantity <= per_order:
        return [quantity]
    full, rest = divmod(quantity, per_order)
    chunks = [per_order] * full + ([rest] if rest else [])
    return chunks[:MAX_EXIT_ORDERS]


def decide(*, intent: Intent, position: HeldPosition, context: RiskContext) -> OrderDecision:
    """The legs that take ``position`` to ``intent.target``, each checked (and an entry sized)."""
    target = intent.target
    legs: list[Leg] = []
    notes: list[str] = []

    exitable = position.exitable
    staying = exitable
    if exitable and _sign(exitable) != target:
        side = "SELL" if exitable > 0 else "BUY"
        chunks = [abs(exitable)]
        if intent.split_exits:
            chunks = exit_chunks(
                quantity=abs(exitable),
                lot_size=intent.lot_size,
                max_quantity=context.max_order_quantity,
                max_value=context.max_order_value,
                price=intent.reference_price,
            )
        legs.extend(_exit_leg(intent=intent, side=side, quantity=q, context=context) for q in chunks)
        staying = 0
    elif position.filled and _sign(position.filled) != target and not exitable:
        notes.append(
            f"The position of {position.filled:+d} is already being exited ({abs(position.exits_working)} in "
            "flight): a second exit would flip it."
        )

    if target:
        working = staying + position.entries_working
        if _sign(working) == target:
            notes.append(
                f"Already {'long' if target > 0 else 'short'} {abs(working)} (held {staying:+d}, entries in "
                f"flight {position.entries_working:+d}): nothing to add."
            )
        elif any(not leg.approved for leg in legs):
            notes.append("No entry: the exit ahead of it was refused, so the position it reverses is still held.")
        else:
            exits_ahead = abs(position.exits_working) + sum(leg.quantity for leg in legs)
            if exits_ahead and position.filled:
                # The exits ahead free their share of the position's value for this entry.
                freed = min(exits_ahead, abs(position.filled)) * position.mark
                context = dataclasses.replace(
                    context,
                    open_exposure=max(context.open_exposure - freed, Decimal("0")),
                    has_open_position_in_instrument=False,
                    open_positions=max(context.open_positions - 1, 0),
                )
            legs.append(_entry_leg(intent=intent, context=context))
    elif not legs and not notes:
        if position.entries_working:
            notes.append(
                f"Flat; an entry of {position.entries_working:+d} is still working and is not exited before it fills."
            )
        else:
            notes.append("Already flat: nothing to exit.")
    return OrderDecision(legs=tuple(legs), reason=" ".join(notes))


def _proposal(*, intent: Intent, side: str, quantity: int, is_exit: bool) -> OrderProposal:
    return OrderProposal(
        side=side,
        quantity=quantity,
        reference_price=intent.reference_price,
        order_type="MARKET",
        stop_price=None if is_exit else intent.stop_price,
        is_exit=is_exit,
        lot_size=intent.lot_size,
        tick_size=intent.tick_size,
    )


def _exit_leg(*, intent: Intent, side: str, quantity: int, context: RiskContext) -> Leg:
    proposal = _proposal(intent=intent, side=side, quantity=quantity, is_exit=True)
    checks = evaluate(proposal, context)
    return Leg(EXIT, side, quantity, proposal, checks, None, checks.approved, checks.summary)


def _entry_leg(*, intent: Intent, context: RiskContext) -> Leg:
    side = "BUY" if intent.target > 0 else "SELL"
    sizing = size_position(
        capital=context.capital,
        allocation_pct=context.allocation_pct,
        risk_per_trade_pct=context.risk_per_trade_pct,
        entry_price=intent.reference_price,
        stop_price=intent.stop_price if intent.stop_price is not None else intent.reference_price,
        lot_size=intent.lot_size,
        max_quantity=context.max_order_quantity,
        max_order_value=context.max_order_value,
        max_positions=context.strategy_max_positions,
        open_exposure=context.open_exposure,
    )
    proposal = _proposal(intent=intent, side=side, quantity=sizing.quantity, is_exit=False)
    checks = evaluate(proposal, context)
    approved = checks.approved and sizing.quantity > 0
    summary = checks.summary if sizing.quantity > 0 else _sized_to_zero(sizing, checks)
    return Leg(ENTRY, side, sizing.quantity, proposal, checks, sizing, approved, summary)


def _sized_to_zero(sizing: SizingResult, checks: RiskDecision) -> str:
    """Why a zero-sized entry is refused: the sizing, and the checks that fail whatever the quantity
    (a halted account, the kill switch, ...), not those that fail only because the quantity is 0."""
    summary = f"Sized to zero: {sizing.reason}"
    others = [r for r in checks.results if not r.passed and "quantity must be at least 1" not in r.reason]
    if others:
        summary += " Also refused: " + "; ".join(f"{r.name}: {r.reason.rstrip('.')}" for r in others) + "."
    return summary

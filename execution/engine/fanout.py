"""One order message: each account's delivery of a signal decided (once, under its account lock)
and its orders placed, the message's accounts side by side on the worker's order threads."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from strategies.models import Signal

from .. import selectors
from ..models import Order, OrderStatus
from ..orders.placement import place_signal_order
from .delivery import delivery_decide


def _market_open() -> bool:
    from strategies.selectors import market_data_source

    return market_data_source().calendar.is_open(timezone.now())


@dataclass(frozen=True)
class SignalToPlace:
    """What every account of an order message shares, read once per message: the signal with its
    strategy and instrument, the strategy's position limit, and whether the market is open."""

    signal: Signal
    position_limit: int
    market_open: bool


def signal_to_place(*, signal_id: int) -> SignalToPlace:
    signal = selectors.signal_for_execution(signal_id=signal_id)
    return SignalToPlace(signal, signal.strategy.position_limit(), _market_open())


def signal_place_on_account(*, to_place: SignalToPlace, account_id: int) -> list[Order]:
    """Decide the signal's delivery to this account (once) and place its orders. Safe to run twice:
    a delivery already decided (or expired) places nothing."""
    decided = delivery_decide(
        signal=to_place.signal,
        account_id=account_id,
        market_open=to_place.market_open,
        position_limit=to_place.position_limit,
    )
    if decided.earlier:
        return []  # a redelivered message: the first delivery placed (or is placing) these orders
    return [place_signal_order(order=o) if o.status == OrderStatus.PENDING else o for o in decided.orders]


def execute_signal_for_account(*, signal_id: int, account_id: int) -> list[Order]:
    """One account's delivery of a signal: ``signal_place_on_account`` with the signal read for it."""
    return signal_place_on_account(to_place=signal_to_place(signal_id=signal_id), account_id=account_id)


def execute_signal_for_accounts(*, signal_id: int, account_ids: list[int]) -> dict[int, list[Order] | Exception]:
    """One order message's accounts, side by side on the worker's order threads; each account's
    orders, or the error that stopped that account alone (its delivery stays pending, for the sweeper).
    A delivery past the signal's TTL when its account's turn comes expires instead (``delivery_decide``).
    The signal is read once for all of them.
    """
    from ..order_threads import run_per_account

    to_place = signal_to_place(signal_id=signal_id)

    def decide_and_place(account_id: int) -> list[Order]:
        return signal_place_on_account(to_place=to_place, account_id=account_id)

    return run_per_account(decide_and_place, account_ids, what=f"Signal {signal_id}'s orders")

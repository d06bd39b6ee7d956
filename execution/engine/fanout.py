"""One order message: each account's delivery of a signal decided (once, under its account lock)
and its orders placed, the message's accounts side by side on the worker's order threads."""

from __future__ import annotations

from django.utils import timezone

from .. import selectors
from ..models import Order, OrderStatus
from ..orders.placement import place_signal_order
from .delivery import delivery_decide


def _market_open() -> bool:
    from strategies.selectors import market_data_source

    return market_data_source().calendar.is_open(timezone.now())


def execute_signal_for_account(*, signal_id: int, account_id: int) -> list[Order]:
    """Decide the signal's delivery to this account (once) and place its orders. Safe to run twice:
    a delivery already decided (or expired) places nothing."""
    signal = selectors.signal_for_execution(signal_id=signal_id)
    decided = delivery_decide(signal=signal, account_id=account_id, market_open=_market_open())
    if decided.earlier:
        return []  # a redelivered message: the first delivery placed (or is placing) these orders
    return [place_signal_order(order=o) if o.status == OrderStatus.PENDING else o for o in decided.orders]


def execute_signal_for_accounts(*, signal_id: int, account_ids: list[int]) -> dict[int, list[Order] | Exception]:
    """One order message's accounts, side by side on the worker's order threads; each account's
    orders, or the error that stopped that account alone (its delivery stays pending, for the sweeper).
    A delivery past the signal's TTL when its account's turn comes expires instead (``delivery_decide``).
    """
    from ..order_threads import run_per_account

    def decide_and_place(account_id: int) -> list[Order]:
        return execute_signal_for_account(signal_id=signal_id, account_id=account_id)

    return run_per_account(decide_and_place, account_ids, what=f"Signal {signal_id}'s orders")

"""The locks of the risk switches: the engine's state row, then a strategy's row. First and second
in the system's lock order, before any account (``accounts/locks.py`` states the whole order)."""

from __future__ import annotations

from strategies.models import Strategy

from .models import EngineState


def lock_engine_state() -> EngineState:
    """Lock the engine's one state row (created stopped if missing) until the transaction ends.

    Taken before any account lock by whoever needs both (the emergency stop trips the kill switch,
    then flattens account by account), never after one.
    """
    EngineState.objects.get_or_create(pk=EngineState.SINGLETON_ID)
    return EngineState.objects.select_for_update().get(pk=EngineState.SINGLETON_ID)


def lock_strategy(*, strategy_id: int) -> Strategy:
    """Lock one strategy's row (its trading switch) until the transaction ends, and return it fresh.

    After the engine state, before any account.
    """
    return Strategy.objects.select_for_update().get(pk=strategy_id)

"""The pure order decision: a snapshot in, legs out (no database: these run without one)."""

from decimal import Decimal

import pytest

from risk.decision import HeldPosition, Intent, decide
from tests.risk.test_checks import context

D = Decimal


def intent(target: int, **overrides) -> Intent:
    fields = {"target": target, "reference_price": D("500"), "stop_price": None, "lot_size": 1, "tick_size": D("0.05")}
    if target:
        fields["stop_price"] = D("490") if target > 0 else D("510")
    fields.update(overrides)
    return Intent(**fields)


def legs(decision) -> list[tuple[str, str, int | None]]:
    return [(leg.leg, leg.side, leg.quantity if leg.leg == "exit" else None) for leg in decision.legs]


@pytest.mark.parametrize(
    ("target", "filled", "expected"),
    [
        (1, 0, [("entry", "BUY", None)]),
        (1, 25, []),
        (0, 25, [("exit", "SELL", 25)]),
        (0, 0, []),
        (-1, 25, [("exit", "SELL", 25), ("entry", "SELL", None)]),
        (1, -7, [("exit", "BUY", 7), ("entry", "BUY", None)]),
        (-1, -7, []),
    ],
)
def test_legs_go_from_the_position_to_the_target(target, filled, expected):
    position = HeldPosition(filled=filled, mark=D("500"))
    ctx = context(has_open_position_in_instrument=bool(filled))
    assert legs(decide(intent=intent(target), position=position, context=ctx)) == expected


def test_an_exit_closes_only_what_is_held_minus_the_exits_in_flight():
    decision = decide(intent=intent(0), position=HeldPosition(filled=100, exits_working=-60), context=context())
    assert legs(decision) == [("exit", "SELL", 40)]


def test_a_second_exit_of_a_position_being_exited_is_nothing_to_do_with_its_reason():
    position = HeldPosition(filled=117, exits_working=-117, mark=D("500"))
    decision = decide(intent=intent(0), position=position, context=context(account_halted=True))
    assert decision.legs == ()
    assert decision.outcome == "nothing_to_do"
    assert "already being exited" in decision.reason


def test_an_entry_in_flight_counts_as_the_target_held():
    decision = decide(intent=intent(1), position=HeldPosition(entries_working=30), context=context())
    assert decision.outcome == "nothing_to_do" and "Already long 30" in decision.reason


def test_a_reversal_whose_exit_is_already_in_flight_sends_only_its_entry_against_the_freed_exposure():
    # ₹50,000 allocated; the long of 100 × ₹500 fills it. Its exit is working: the reversal's entry
    # counts that exit ahead of it, so the short is sized as if the long were gone.
    position = HeldPosition(filled=100, exits_working=-100, mark=D("500"))
    ctx = context(open_exposure=D("50000"), has_open_position_in_instrument=True)
    decision = decide(intent=intent(-1), position=position, context=ctx)
    assert legs(decision) == [("entry", "SELL", None)]
    (entry,) = decision.legs
    assert entry.approved and entry.quantity * D("500") <= D("50000")


def test_without_the_exit_ahead_the_same_entry_is_refused_for_allocation():
    ctx = context(open_exposure=D("50000"), has_open_position_in_instrument=True)
    decision = decide(intent=intent(1), position=HeldPosition(filled=0), context=ctx)
    (entry,) = decision.legs
    # Sizing sees the allocation taken and sizes the entry to what is left: nothing.
    assert not entry.approved and "allocated capital left, ₹0.00 of ₹50,000.00" in entry.summary


def test_a_refused_exit_keeps_the_reversal_from_entering():
    ctx = context(market_open=False, has_open_position_in_instrument=True)
    decision = decide(intent=intent(-1), position=HeldPosition(filled=10, mark=D("500")), context=ctx)
    assert legs(decision) == [("exit", "SELL", 10)]
    assert decision.outcome == "refused" and "exit ahead of it was refused" in decision.reason


def test_square_off_splits_the_exit_to_fit_the_per_order_caps():
    ctx = context(max_order_quantity=40, has_open_position_in_instrument=True)
    decision = decide(intent=intent(0, split_exits=True), position=HeldPosition(filled=100), context=ctx)
    assert [leg.quantity for leg in decision.legs] == [40, 40, 20]

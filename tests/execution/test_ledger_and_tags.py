from datetime import date
from decimal import Decimal

from execution.ledger import LedgerState, apply_fill, unrealised_pnl
from execution.tags import position_exit_tag, signal_order_tag

FLAT = LedgerState(0, Decimal("0"))


def test_buying_twice_averages_the_price():
    first = apply_fill(FLAT, side="BUY", quantity=10, price=Decimal("100"))
    second = apply_fill(first.after, side="BUY", quantity=30, price=Decimal("104"))
    assert second.after == LedgerState(40, Decimal("103.0000"))
    assert first.realised_pnl == second.realised_pnl == Decimal("0")


def test_selling_part_of_a_long_realises_the_difference_and_keeps_the_average():
    long = LedgerState(40, Decimal("103"))
    effect = apply_fill(long, side="SELL", quantity=10, price=Decimal("110.50"))
    assert effect.realised_pnl == Decimal("75.00")
    assert effect.after == LedgerState(30, Decimal("103"))


def test_covering_a_short_at_a_higher_price_loses():
    short = apply_fill(FLAT, side="SELL", quantity=5, price=Decimal("200")).after
    effect = apply_fill(short, side="BUY", quantity=5, price=Decimal("204.05"))
    assert effect.realised_pnl == Decimal("-20.25")
    assert effect.after.quantity == 0


def test_a_fill_through_zero_closes_and_opens_at_the_fill_price():
    effect = apply_fill(LedgerState(10, Decimal("50")), side="SELL", quantity=25, price=Decimal("48"))
    assert effect.realised_pnl == Decimal("-20.00")
    assert effect.after == LedgerState(-15, Decimal("48"))


def test_unrealised_pnl_follows_the_sign_of_the_position():
    assert unrealised_pnl(LedgerState(10, Decimal("100")), Decimal("101.5")) == Decimal("15.00")
    assert unrealised_pnl(LedgerState(-10, Decimal("100")), Decimal("101.5")) == Decimal("-15.00")


def test_tags_are_kite_compatible_and_distinct_per_signal_account_and_leg():
    tags = {
        signal_order_tag(signal_id=s, account_id=a, leg=leg)
        for s in (1, 35, 36, 10**9)
        for a in (1, 2, 99999)
        for leg in ("entry", "exit")
    }
    assert len(tags) == 4 * 3 * 2
    assert all(tag.isalnum() and len(tag) <= 20 for tag in tags)
    assert signal_order_tag(signal_id=7, account_id=3, leg="entry") == signal_order_tag(
        signal_id=7, account_id=3, leg="entry"
    )


def test_exit_tags_differ_by_day_reason_and_attempt():
    tag = position_exit_tag(position_id=12, on_date=date(2026, 11, 24), reason_code="E")
    assert tag.isalnum() and len(tag) <= 20
    assert tag != position_exit_tag(position_id=12, on_date=date(2026, 11, 25), reason_code="E")
    assert tag != position_exit_tag(position_id=12, on_date=date(2026, 11, 24), reason_code="S")
    assert tag != position_exit_tag(position_id=12, on_date=date(2026, 11, 24), reason_code="E", attempt=1)

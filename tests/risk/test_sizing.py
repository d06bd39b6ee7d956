"""Position sizing: worked examples, each limit, invalid input and properties."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from risk.sizing import LIMITS, format_inr, format_qty, size_position

D = Decimal


def size(**overrides):
    arguments = {
        "capital": D("100000"),
        "allocation_pct": D("50"),
        "risk_per_trade_pct": D("2"),
        "entry_price": D("500"),
        "stop_price": D("490"),
        "lot_size": 1,
        "max_quantity": 10_000,
        "max_order_value": D("1000000"),
        "max_positions": 1,
        "open_exposure": D("0"),
    }
    arguments.update(overrides)
    return size_position(**arguments)


def test_worked_example():
    result = size()
    assert result.allocated_capital == D("50000")
    assert result.risk_budget == D("1000")
    assert result.risk_per_unit == D("10")
    assert result.quantity == 100
    assert result.money_at_risk == D("1000")
    assert result.limited_by == "risk"  # risk and allocation both allow 100: the first listed wins
    assert result.reason == ""


def test_risk_limits():
    result = size(stop_price=D("480"))  # ₹20 a unit: 1000 / 20 = 50
    assert (result.quantity, result.limited_by, result.money_at_risk) == (50, "risk", D("1000"))


def test_short_entry_uses_distance_to_a_stop_above():
    result = size(stop_price=D("520"))
    assert (result.quantity, result.risk_per_unit, result.limited_by) == (50, D("20"), "risk")


def test_allocation_limits():
    result = size(stop_price=D("495"))  # risk allows 200, allocation 50000 / 500 = 100
    assert (result.quantity, result.limited_by) == (100, "allocation")
    assert result.money_at_risk == D("500")


def test_the_seed_example_across_three_instruments():
    """₹50,000 allocated to a strategy of three instruments: ₹16,666.66 per position, ₹1,000 at risk."""
    # A stop 0.1% away: risk would allow 2,000 shares; the position cap allows 33 at ₹500.
    result = size(entry_price=D("500"), stop_price=D("499.50"), max_positions=3)
    assert (result.quantity, result.limited_by) == (33, "position")
    assert result.position_capital == D("16666.66")
    assert result.risk_budget == D("1000")
    assert "capital per position of ₹16,666.66 (₹50,000.00 allocated ÷ at most 3 positions at once)" in str(
        size(entry_price=D("500000"), stop_price=D("499000"), max_positions=3).reason
    )


def test_three_entries_of_one_strategy_share_the_allocation():
    exposure = D("0")
    for price in (D("1500"), D("2800"), D("4000")):
        result = size(entry_price=price, stop_price=price - 1, max_positions=3, open_exposure=exposure)
        assert result.quantity > 0 and result.limited_by == "position"
        exposure += result.quantity * price
    assert exposure <= D("50000")


def test_an_entry_is_sized_to_the_allocation_left():
    # Two positions that rose in value use ₹34,000 of ₹50,000: the third gets ₹16,000, not ₹16,666.66.
    result = size(entry_price=D("500"), stop_price=D("499"), max_positions=3, open_exposure=D("34000"))
    assert (result.quantity, result.limited_by) == (32, "allocation")
    assert result.allocation_left == D("16000")


def test_no_allocation_left_gives_zero_with_reason():
    result = size(max_positions=2, open_exposure=D("50000"))
    assert (result.quantity, result.limited_by) == (0, "allocation")
    assert "allocated capital left, ₹0.00 of ₹50,000.00 (₹50,000.00 already in the strategy's open positions)" in (
        result.reason
    )


def test_max_quantity_limits():
    result = size(max_quantity=40)
    assert (result.quantity, result.limited_by) == (40, "max_quantity")


def test_max_order_value_limits():
    result = size(max_order_value=D("12345"))  # 12345 / 500 = 24.69
    assert (result.quantity, result.limited_by) == (24, "max_order_value")


def test_rounds_down_to_whole_lots():
    result = size(lot_size=30)  # 100 allowed -> 3 lots of 30
    assert (result.quantity, result.limited_by) == (90, "risk")
    assert result.money_at_risk == D("900")


def test_less_than_one_lot_gives_zero_with_reason():
    result = size(lot_size=250)
    assert (result.quantity, result.limited_by) == (0, "lot_size")
    assert "100 units" in result.reason and "one lot of 250" in result.reason
    assert "₹1,000.00" in result.reason


def test_less_than_one_unit_gives_zero_with_reason():
    result = size(capital=D("1000"), entry_price=D("5000"), stop_price=D("4000"))
    assert (result.quantity, result.limited_by) == (0, "risk")
    assert "less than one unit" in result.reason
    assert "₹10.00" in result.reason and "₹1,000.00 risk per unit" in result.reason


def test_exact_decimal_arithmetic():
    result = size(
        capital=D("100000.01"),
        allocation_pct=D("33.33"),
        risk_per_trade_pct=D("1.5"),
        entry_price=D("123.45"),
        stop_price=D("120.10"),
    )
    allocated = D("100000.01") * D("33.33") / 100
    assert result.allocated_capital == allocated
    assert result.risk_budget == allocated * D("1.5") / 100
    assert result.risk_per_unit == D("3.35")
    assert result.quantity == int(result.risk_budget / D("3.35"))
    assert result.money_at_risk <= result.risk_budget


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("capital", D("0"), "capital must be positive"),
        ("capital", D("-100"), "capital must not be negative"),
        ("capital", D("NaN"), "capital is not a number"),
        ("capital", D("sNaN"), "capital is not a number"),
        ("capital", D("Infinity"), "capital is infinite"),
        ("capital", D("1e30"), "capital is implausibly large"),
        ("capital", 100000.0, "capital must be a Decimal"),
        ("capital", "100000", "capital must be a Decimal"),
        ("capital", None, "capital must be a Decimal"),
        ("allocation_pct", D("150"), "allocation % is implausibly large"),
        ("risk_per_trade_pct", D("-Infinity"), "risk per trade % is infinite"),
        ("entry_price", D(0.1), "entry price has more than 20 decimal places"),
        ("entry_price", D("1e30"), "entry price is implausibly large"),
        ("stop_price", D("500"), "stop price equals the entry price"),
        ("stop_price", D("0"), "stop price must be positive"),
        ("lot_size", 0, "lot size must be at least 1"),
        ("lot_size", -25, "lot size must not be negative"),
        ("lot_size", True, "lot size must be a whole number"),
        ("lot_size", 2.5, "lot size must be a whole number"),
        ("max_quantity", 10**30, "maximum quantity is implausibly large"),
        ("max_order_value", D("-1"), "maximum order value must not be negative"),
        ("max_positions", 0, "maximum positions must be at least 1"),
        ("max_positions", None, "maximum positions must be a whole number"),
        ("open_exposure", D("-1"), "open exposure must not be negative"),
    ],
)
def test_invalid_input_gives_zero_with_reason(field, value, expected):
    result = size(**{field: value})
    assert result.quantity == 0
    assert result.limited_by == "invalid"
    assert expected in result.reason
    assert result.money_at_risk == 0


def test_every_problem_is_reported():
    result = size(capital=D("NaN"), lot_size=0, entry_price=D("-5"))
    for expected in ("capital", "lot size", "entry price"):
        assert expected in result.reason


def test_integer_amounts_are_accepted_as_exact():
    assert size(capital=100000, entry_price=500, stop_price=490).quantity == 100


def test_indian_formatting():
    assert format_inr(D("10000000")) == "₹1,00,00,000.00"
    assert format_inr(D("-1234.5")) == "-₹1,234.50"
    assert format_inr(D("0.0025")) == "₹0.0025"
    assert format_inr(D("NaN")) == "₹NaN"
    assert format_qty(123456) == "1,23,456"


# --- properties ---------------------------------------------------------------------------

money = st.decimals(min_value=D("1"), max_value=D("1e12"), places=2)
prices = st.decimals(min_value=D("0.05"), max_value=D("200000"), places=2)
percents = st.decimals(min_value=D("0.01"), max_value=D("100"), places=2)
lots = st.integers(min_value=1, max_value=5000)
quantities = st.integers(min_value=1, max_value=10**7)
position_counts = st.integers(min_value=1, max_value=50)
exposures = st.one_of(st.just(D("0")), st.decimals(min_value=D("0"), max_value=D("1e12"), places=2))


@settings(max_examples=500)
@given(money, percents, percents, prices, prices, lots, quantities, money, position_counts, exposures)
def test_sizing_respects_every_limit(
    capital, allocation, risk, entry, stop, lot, max_qty, max_value, max_positions, exposure
):
    assume(entry != stop)
    result = size_position(
        capital=capital,
        allocation_pct=allocation,
        risk_per_trade_pct=risk,
        entry_price=entry,
        stop_price=stop,
        lot_size=lot,
        max_quantity=max_qty,
        max_order_value=max_value,
        max_positions=max_positions,
        open_exposure=exposure,
    )
    q = result.quantity
    allocated = Fraction(result.allocated_capital)
    assert isinstance(q, int) and q >= 0
    assert q % lot == 0
    assert q <= max_qty
    assert q * entry <= max_value
    # Each entry uses at most its share of the allocation, and never more than the allocation left.
    assert q * Fraction(entry) <= allocated / max_positions
    assert q == 0 or q * entry + exposure <= result.allocated_capital
    assert result.money_at_risk <= result.risk_budget
    assert result.money_at_risk == q * abs(entry - stop)
    assert result.allocated_capital == capital * allocation / 100
    assert result.risk_budget == result.allocated_capital * risk / 100
    assert result.limited_by in LIMITS and result.limited_by != "invalid"
    assert (q == 0) == bool(result.reason)
    # Nothing is left on the table: one more lot breaks at least one limit.
    more = Fraction(q + lot)
    per_unit = Fraction(abs(entry - stop))
    assert (
        more * per_unit > Fraction(result.risk_budget)
        or more * Fraction(entry) > allocated - Fraction(exposure)
        or more * Fraction(entry) > allocated / max_positions
        or more > max_qty
        or more * Fraction(entry) > Fraction(max_value)
    )


bad_decimals = st.sampled_from(
    [
        D("0"),
        D("-0"),
        D("-1"),
        D("-0.01"),
        D("NaN"),
        D("-NaN"),
        D("sNaN"),
        D("Infinity"),
        D("-Infinity"),
        D("1e30"),
        D("-1e30"),
        D("1E+999999"),
        D(0.1),
        1e30,
        float("nan"),
        0.5,
        None,
        "100",
        True,
    ]
)
bad_counts = st.sampled_from([0, -1, -(10**40), 10**30, 1.0, float("inf"), D("5"), None, "1", True, False])
DECIMAL_FIELDS = (
    "capital",
    "allocation_pct",
    "risk_per_trade_pct",
    "entry_price",
    "stop_price",
    "max_order_value",
)


@settings(max_examples=500)
@given(st.sampled_from(DECIMAL_FIELDS), bad_decimals)
def test_bad_decimal_input_gives_zero_with_reason(field, value):
    result = size(**{field: value})
    assert (result.quantity, result.limited_by) == (0, "invalid")
    assert result.reason


@settings(max_examples=200)
@given(bad_decimals.filter(lambda value: not (isinstance(value, Decimal) and value.is_zero())))
def test_bad_open_exposure_gives_zero_with_reason(value):
    result = size(open_exposure=value)
    assert (result.quantity, result.limited_by) == (0, "invalid")
    assert "open exposure" in result.reason


@settings(max_examples=200)
@given(st.sampled_from(("lot_size", "max_quantity", "max_positions")), bad_counts)
def test_bad_count_input_gives_zero_with_reason(field, value):
    result = size(**{field: value})
    assert (result.quantity, result.limited_by) == (0, "invalid")
    assert result.reason


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    st.decimals(),
    st.fractions(),
    bad_decimals,
    money,
    prices,
)


@settings(max_examples=500)
@given(anything, anything, anything, anything, anything, anything, anything, anything, anything, anything)
def test_sizing_never_raises(capital, allocation, risk, entry, stop, lot, max_qty, max_value, positions, exposure):
    result = size_position(
        capital=capital,
        allocation_pct=allocation,
        risk_per_trade_pct=risk,
        entry_price=entry,
        stop_price=stop,
        lot_size=lot,
        max_quantity=max_qty,
        max_order_value=max_value,
        max_positions=positions,
        open_exposure=exposure,
    )
    assert isinstance(result.quantity, int) and result.quantity >= 0
    assert result.limited_by in LIMITS
    if result.quantity == 0:
        assert result.reason

"""Position sizing: capital, allocation, risk per trade, stop distance and the strategy's maximum
positions turned into a quantity.

A strategy trading several instruments shares its mapping's allocated capital between them: each
entry may use at most allocated capital ÷ the strategy's maximum concurrent positions (freqtrade's
stake ÷ ``max_open_trades``), and never more than the allocation its open positions leave. The
risk budget per trade stays capital × allocation % × risk %.

Pure functions over Decimals; no Django, no database. Invalid input never raises: it gives
quantity 0 with ``limited_by="invalid"`` and a reason naming the bad value.

The arithmetic is exact. Inputs are validated (type, finite, sign, magnitude, at most
``MAX_DECIMAL_PLACES`` significant decimal places) and then worked on as ``Fraction``, so no
rounding of the Decimal context can push a quantity over a cap. The bounds below are far beyond
anything real and exist so that a corrupt value (1e30, a Decimal built from a float) is refused
instead of sized.

The validation and formatting helpers here (``to_fraction``, ``to_count``, ``format_inr``, ...)
are shared with ``risk.checks``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction

# Larger than any account's capital or order value (₹1,000 lakh crore).
MAX_AMOUNT = Decimal("1e15")
# Larger than the price of any instrument traded on an Indian exchange (₹10 crore per unit).
MAX_PRICE = Decimal("1e8")
# Larger than any order or lot quantity.
MAX_QUANTITY = 10**9
MAX_PERCENT = Decimal("100")
# Prices come from the database with 2 or 4 places; 20 leaves room for computed values while
# refusing Decimals built straight from a float (Decimal(0.1) has 55 places).
MAX_DECIMAL_PLACES = 20

_DISPLAY = Context(prec=60)
_EXACT = Context(prec=300, traps=[InvalidOperation, Inexact])


class InvalidInput(ValueError):
    """A value that cannot be used; ``str(exc)`` is a reason an operator can read."""


# --- formatting ---------------------------------------------------------------------------


def describe(value: object) -> str:
    """A short, safe rendering of any value for a reason text (never raises)."""
    try:
        if isinstance(value, bool) or value is None:
            return repr(value)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            number = int(value)
            if abs(number) > 10**30:
                return f"an integer of about {int(number.bit_length() * 0.30103) + 1} digits"
            return str(number)
        if isinstance(value, Decimal):
            text = str(value)
        elif isinstance(value, float):
            text = f"{value!r} (a float)"
        elif isinstance(value, str):
            text = f"{value[:30]!r} (text)"
        else:
            text = f"a {type(value).__name__}"
        return text if len(text) <= 40 else text[:37] + "..."
    except Exception:  # pragma: no cover - defensive: describing a value must never fail
        return f"a {type(value).__name__}"


def _group_indian(digits: str) -> str:
    """'10000000' -> '1,00,00,000' (last three digits, then groups of two)."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def _to_display_decimal(value: Decimal | Fraction | int) -> Decimal:
    if isinstance(value, Fraction):
        with localcontext(_DISPLAY):
            return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value)


def format_inr(value: Decimal | Fraction | int) -> str:
    """Rupees, Indian style: ``₹1,00,000.00``; sub-paise amounts keep up to 4 places (never raises)."""
    try:
        amount = _to_display_decimal(value)
        if not amount.is_finite() or abs(amount) >= Decimal("1e21"):
            return f"₹{describe(value)}"
        with localcontext(_DISPLAY):
            rounded = amount.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            if rounded != amount:
                rounded = amount.quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")
        sign = "-" if rounded < 0 else ""
        text = format(abs(rounded), "f")
        whole, _, fraction = text.partition(".")
        fraction = (fraction or "").rstrip("0").ljust(2, "0")
        return f"{sign}₹{_group_indian(whole)}.{fraction}"
    except Exception:  # pragma: no cover - defensive
        return f"₹{describe(value)}"


def format_qty(value: int) -> str:
    """A whole number with Indian digit grouping: ``1,00,000`` (never raises)."""
    try:
        number = int(value)
        if abs(number) > 10**30:
            return describe(value)
        sign = "-" if number < 0 else ""
        return sign + _group_indian(str(abs(number)))
    except Exception:  # pragma: no cover - defensive
        return describe(value)


def format_number(value: Decimal | Fraction | int) -> str:
    """A plain number without trailing zeros: ``2`` for 2.00, ``12.5`` for 12.50 (never raises)."""
    try:
        amount = _to_display_decimal(value)
        if not amount.is_finite() or abs(amount) >= Decimal("1e21"):
            return describe(value)
        with localcontext(_DISPLAY):
            amount = amount.quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")
        text = format(amount, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    except Exception:  # pragma: no cover - defensive
        return describe(value)


def format_pct(value: Decimal | Fraction | int) -> str:
    return f"{format_number(value)}%"


# --- validation ---------------------------------------------------------------------------


def _significant_places(value: Decimal) -> int:
    """Decimal places after dropping trailing zeros (500.000 -> 0, 0.050 -> 2)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def _too_large(label: str, value: object, maximum: Decimal | int) -> str:
    return f"{label} is implausibly large: {describe(value)} (the limit is {format_qty(int(maximum))})"


def to_fraction(
    value: object,
    *,
    label: str,
    maximum: Decimal,
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> Fraction:
    """Validate a money, price or percentage value and return it exactly as a Fraction.

    Accepts ``Decimal`` and ints (exact); refuses floats, strings, bools, None, NaN, infinities,
    values beyond ``maximum`` (in absolute value), zero and negatives unless allowed, and values
    with more than ``MAX_DECIMAL_PLACES`` decimal places. Raises ``InvalidInput`` with a reason.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, numbers.Integral)):
        raise InvalidInput(f"{label} must be a Decimal amount, got {describe(value)}")
    if isinstance(value, numbers.Integral):
        if abs(int(value)) > maximum:
            raise InvalidInput(_too_large(label, value, maximum))
        value = Decimal(int(value))
    if value.is_nan():
        raise InvalidInput(f"{label} is not a number (NaN)")
    if value.is_infinite():
        raise InvalidInput(f"{label} is infinite ({describe(value)})")
    if value.is_zero() and not allow_zero:
        raise InvalidInput(f"{label} must be positive, got {describe(value)}")
    if value < 0 and not allow_negative:
        raise InvalidInput(f"{label} must not be negative, got {describe(value)}")
    if abs(value) > maximum:
        raise InvalidInput(_too_large(label, value, maximum))
    if _significant_places(value) > MAX_DECIMAL_PLACES:
        raise InvalidInput(
            f"{label} has more than {MAX_DECIMAL_PLACES} decimal places, was it built from a float? ({describe(value)})"
        )
    return Fraction(value)


def to_count(value: object, *, label: str, allow_zero: bool = False, maximum: int = MAX_QUANTITY) -> int:
    """Validate a whole-number count (quantity, lot size, order count). Raises ``InvalidInput``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{label} must be a whole number, got {describe(value)}")
    number = int(value)
    if number < 0:
        raise InvalidInput(f"{label} must not be negative, got {describe(number)}")
    if number == 0 and not allow_zero:
        raise InvalidInput(f"{label} must be at least 1, got 0")
    if number > maximum:
        raise InvalidInput(_too_large(label, number, maximum))
    return number


def to_decimal(value: Fraction) -> Decimal:
    """An exact Decimal for a Fraction whose denominator is a product of 2s and 5s.

    Every Fraction built here comes from Decimals and divisions by 100, so the result is exact.
    """
    with localcontext(_EXACT):
        return Decimal(value.numerator) / Decimal(value.denominator)


# --- sizing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizingResult:
    quantity: int  # whole multiple of lot_size, >= 0
    allocated_capital: Decimal  # capital * allocation_pct / 100
    risk_budget: Decimal  # allocated_capital * risk_per_trade_pct / 100
    risk_per_unit: Decimal  # |entry_price - stop_price|
    money_at_risk: Decimal  # quantity * risk_per_unit (<= risk_budget always)
    # "risk", "allocation", "position", "max_quantity", "max_order_value", "lot_size" or "invalid"
    limited_by: str
    reason: str = ""  # non-empty when quantity == 0, saying why in trader's words
    max_positions: int = 0  # the strategy's maximum concurrent positions
    position_capital: Decimal = Decimal("0")  # allocated_capital / max_positions: one entry's capital cap
    allocation_left: Decimal = Decimal("0")  # allocated_capital - open exposure, never below 0


LIMITS = ("risk", "allocation", "position", "max_quantity", "max_order_value", "lot_size", "invalid")


def position_capital(*, allocated_capital: Decimal, max_positions: int) -> Decimal:
    """One entry's capital cap: the allocated capital shared by the strategy's maximum positions.

    The figure the sizing uses and the dashboard shows (rounded down to the paisa for display).
    """
    share = Fraction(allocated_capital) / to_count(max_positions, label="maximum positions")
    return Decimal(math.floor(share * 100)) / 100


def _units(value: Fraction) -> str:
    whole = math.floor(value)
    if whole < 1:
        return f"less than one unit ({format_number(value)})"
    return f"{format_qty(whole)} unit{'s' if whole != 1 else ''}"


def _invalid(problems: list[str]) -> SizingResult:
    zero = Decimal("0")
    return SizingResult(
        quantity=0,
        allocated_capital=zero,
        risk_budget=zero,
        risk_per_unit=zero,
        money_at_risk=zero,
        limited_by="invalid",
        reason="Cannot size the position: " + "; ".join(problems) + ".",
    )


def size_position(
    *,
    capital: Decimal,
    allocation_pct: Decimal,
    risk_per_trade_pct: Decimal,
    entry_price: Decimal,
    stop_price: Decimal,
    lot_size: int,
    max_quantity: int,
    max_order_value: Decimal,
    max_positions: int,
    open_exposure: Decimal,
) -> SizingResult:
    """The largest whole number of lots that every limit allows.

    quantity = floor(min(risk_budget / risk_per_unit,
                         (allocated_capital - open_exposure) / entry_price,
                         allocated_capital / max_positions / entry_price,
                         max_quantity, max_order_value / entry_price) / lot_size) * lot_size

    ``max_positions`` is the strategy's maximum concurrent positions (by default its number of
    instruments); ``open_exposure`` is what the strategy's open positions and in-flight entries on
    this account already use of the allocation, so an entry is sized to fit what is left instead
    of being refused by the allocation check.

    ``limited_by`` names the smallest of those five limits (the first listed wins a tie), or
    ``"lot_size"`` when that limit allows at least one unit but less than one whole lot.
    Never raises: invalid input gives quantity 0, ``limited_by="invalid"`` and a reason.
    """
    try:
        return _size_position(
            capital=capital,
            allocation_pct=allocation_pct,
            risk_per_trade_pct=risk_per_trade_pct,
            entry_price=entry_price,
            stop_price=stop_price,
            lot_size=lot_size,
            max_quantity=max_quantity,
            max_order_value=max_order_value,
            max_positions=max_positions,
            open_exposure=open_exposure,
        )
    except Exception as exc:  # pragma: no cover - defensive: sizing must never raise
        return _invalid([f"unexpected error while sizing ({type(exc).__name__})"])


def _size_position(
    *,
    capital,
    allocation_pct,
    risk_per_trade_pct,
    entry_price,
    stop_price,
    lot_size,
    max_quantity,
    max_order_value,
    max_positions,
    open_exposure,
) -> SizingResult:
    problems: list[str] = []

    def money(value, label, maximum, allow_zero=False):
        try:
            return to_fraction(value, label=label, maximum=maximum, allow_zero=allow_zero)
        except InvalidInput as exc:
            problems.append(str(exc))
            return None

    def count(value, label):
        try:
            return to_count(value, label=label)
        except InvalidInput as exc:
            problems.append(str(exc))
            return None

    f_capital = money(capital, "capital", MAX_AMOUNT)
    f_alloc = money(allocation_pct, "allocation %", MAX_PERCENT)
    f_risk = money(risk_per_trade_pct, "risk per trade %", MAX_PERCENT)
    f_entry = money(entry_price, "entry price", MAX_PRICE)
    f_stop = money(stop_price, "stop price", MAX_PRICE)
    lot = count(lot_size, "lot size")
    max_qty = count(max_quantity, "maximum quantity")
    f_max_value = money(max_order_value, "maximum order value", MAX_AMOUNT)
    positions = count(max_positions, "maximum positions")
    f_exposure = money(open_exposure, "open exposure", MAX_AMOUNT, allow_zero=True)
    if f_entry is not None and f_stop is not None and f_entry == f_stop:
        problems.append(f"the stop price equals the entry price ({format_inr(f_entry)}): no risk per unit")
    if problems:
        return _invalid(problems)
    assert f_capital is not None and f_alloc is not None and f_risk is not None and f_entry is not None
    assert f_stop is not None and lot is not None and max_qty is not None and f_max_value is not None
    assert positions is not None and f_exposure is not None

    allocated = f_capital * f_alloc / 100
    budget = allocated * f_risk / 100
    per_unit = abs(f_entry - f_stop)
    # The figure the dashboard shows, to the paisa (rounded down), is the one that caps the entry.
    per_position = Fraction(position_capital(allocated_capital=to_decimal(allocated), max_positions=positions))
    left = max(allocated - f_exposure, Fraction(0))
    positions_text = f"{format_qty(positions)} position{'s' if positions != 1 else ''}"

    caps: list[tuple[str, Fraction, str]] = [
        (
            "risk",
            budget / per_unit,
            f"the risk budget of {format_inr(budget)} ({format_pct(f_risk)} of {format_inr(allocated)} "
            f"allocated) at {format_inr(per_unit)} risk per unit (entry {format_inr(f_entry)}, "
            f"stop {format_inr(f_stop)})",
        ),
        (
            "allocation",
            left / f_entry,
            (
                f"the allocated capital of {format_inr(allocated)} ({format_pct(f_alloc)} of "
                f"{format_inr(f_capital)}) at {format_inr(f_entry)} per unit"
                if f_exposure == 0
                else f"the allocated capital left, {format_inr(left)} of {format_inr(allocated)} "
                f"({format_inr(f_exposure)} already in the strategy's open positions), at "
                f"{format_inr(f_entry)} per unit"
            ),
        ),
        (
            "position",
            per_position / f_entry,
            f"the capital per position of {format_inr(per_position)} ({format_inr(allocated)} allocated "
            f"÷ at most {positions_text} at once) at {format_inr(f_entry)} per unit",
        ),
        ("max_quantity", Fraction(max_qty), "the maximum quantity per order"),
        (
            "max_order_value",
            f_max_value / f_entry,
            f"the maximum order value of {format_inr(f_max_value)} at {format_inr(f_entry)} per unit",
        ),
    ]
    limited_by, cap, description = min(caps, key=lambda item: item[1])  # first wins a tie
    units = math.floor(cap)
    quantity = (units // lot) * lot

    reason = ""
    if quantity == 0:
        if units >= 1:
            limited_by = "lot_size"
            reason = f"Quantity 0: {description} allows {_units(cap)}, less than one lot of {format_qty(lot)}."
        else:
            reason = f"Quantity 0: {description} allows {_units(cap)}."

    return SizingResult(
        quantity=quantity,
        allocated_capital=to_decimal(allocated),
        risk_budget=to_decimal(budget),
        risk_per_unit=to_decimal(per_unit),
        money_at_risk=to_decimal(quantity * per_unit),
        limited_by=limited_by,
        reason=reason,
        max_positions=positions,
        position_capital=to_decimal(per_position),
        allocation_left=to_decimal(left),
    )

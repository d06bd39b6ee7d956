"""Pre-trade risk policy: one small pure function per check, over frozen dataclasses.

No Django, no database. ``execution`` builds an ``OrderProposal`` and a ``RiskContext`` snapshot
and calls ``evaluate``, which runs every check in ``ALL_CHECKS`` and records every result (not
just the first failure). A check never raises: bad input, or a bug inside a check, makes that
check fail with a reason, so the order is refused.

Two kinds of check
------------------
**Sanity checks** (``SANITY_CHECKS``) apply to every order, exits included. They guard against
orders that are malformed, that Kite would refuse, or that look like a fat finger:

    inputs              the proposal and the snapshot are well formed (types, finite, signs, ranges,
                        side, order type, prices present for the order type, SL trigger vs limit)
    logged_in           the account has a Kite session today
    market_hours        the market is open
    lot_size            quantity is a positive whole number of lots
    tick_size           limit and trigger prices are multiples of the tick size
    limit_band          a LIMIT price is within ±band% of the reference price
                        (an SL order's limit price within ±band% of its trigger price)
    max_order_quantity  quantity <= the account's maximum per order
    max_order_value     quantity × reference price <= the account's maximum per order
    order_rate          under the account's per-second and per-minute order limits, never above
                        Kite's own (10/s, 400/min per account)
    exit_position       an exit needs an open position in the instrument to reduce (entries pass)

**Entry limits** (``ENTRY_CHECKS``) apply to entries only. An exit (``is_exit=True``) reduces
risk, so it must stay possible when these would block an entry: after an emergency stop, with
the engine stopped, on a halted account, after a daily-loss breach. For an exit they pass with a
reason that still reports what they saw:

    engine_running      the engine is running
    kill_switch         the global kill switch is not tripped
    account_enabled     the account's own kill switch (trading enabled) is on
    strategy_enabled    the strategy and its mapping onto this account are enabled
    account_halted      the account is not halted (daily-loss breach or operator)
    daily_loss          today's P&L is above minus the daily loss limit
    per_trade_risk      quantity × |reference - stop| <= capital × allocation% × risk%; the stop
                        must be given and on the losing side of the reference price
    allocation          open exposure + this order's value <= capital × allocation%
    max_open_positions  a new instrument only while open positions < the maximum
    intraday_cutoff     no new intraday (MIS) position from the square-off time on: the square-off
                        would close it within the minute

The account kill switch is an entry limit for the same reason as the global one: switching an
account off stops new risk, it must not trap the positions already open on it.

``inputs`` validates the snapshot fields the sanity checks read on every order, and the fields
only entry limits read (capital, allocation, P&L, exposure, ...) only for entries, so a
misconfigured mapping never blocks a square-off.

Order value, allocation and per-trade risk are measured at ``reference_price`` (the last price
the order was sized at), as sizing does, not at a LIMIT order's price; the limit band bounds
the difference. ``is_exit`` is the caller's word: this module cannot see the position size, so
it only checks that there is a position to reduce.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from risk.sizing import (
    MAX_AMOUNT,
    MAX_PERCENT,
    MAX_PRICE,
    InvalidInput,
    describe,
    format_inr,
    format_pct,
    format_qty,
    to_count,
    to_fraction,
)

SIDES = ("BUY", "SELL")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
ORDER_TYPES_WITH_LIMIT_PRICE = ("LIMIT", "SL")
ORDER_TYPES_WITH_TRIGGER_PRICE = ("SL", "SL-M")

# Kite's order limits per account; SEBI's retail algo framework also keeps an unregistered algo
# at or under 10 orders per second. Configured limits above these are capped to them.
KITE_MAX_ORDERS_PER_SECOND = 10
KITE_MAX_ORDERS_PER_MINUTE = 400


@dataclass(frozen=True)
class OrderProposal:
    side: str  # "BUY" or "SELL"
    quantity: int
    reference_price: Decimal  # last price used for value and sizing
    order_type: str = "MARKET"  # MARKET, LIMIT, SL, SL-M
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    stop_price: Decimal | None = None  # the strategy's stop, for the per-trade risk check (entries)
    is_exit: bool = False  # reduces an existing position (exits and square-offs)
    lot_size: int = 1
    tick_size: Decimal = Decimal("0.05")


@dataclass(frozen=True)
class RiskContext:
    engine_running: bool
    global_kill_switch: bool  # True = tripped (emergency stop / global halt)
    account_trading_enabled: bool
    account_halted: bool  # halted by daily-loss breach or operator
    account_logged_in: bool
    strategy_trading_enabled: bool
    mapping_enabled: bool
    capital: Decimal
    allocation_pct: Decimal
    risk_per_trade_pct: Decimal
    daily_pnl: Decimal  # realised + unrealised today (negative = loss)
    daily_loss_limit: Decimal  # positive rupees
    open_exposure: Decimal  # value of this mapping's open positions (>= 0), before this order
    open_positions: int  # instruments with an open position on the account
    has_open_position_in_instrument: bool
    max_open_positions: int
    max_order_quantity: int
    max_order_value: Decimal
    market_open: bool
    orders_last_second: int  # orders sent on this account in the last 1 s / 60 s
    orders_last_minute: int
    limit_price_band_pct: Decimal = Decimal("5")
    max_orders_per_second: int = KITE_MAX_ORDERS_PER_SECOND  # Kite: 10/s, 400/min per account
    max_orders_per_minute: int = KITE_MAX_ORDERS_PER_MINUTE
    intraday_entries_closed: bool = False  # an MIS order, at or after today's square-off time
    # The strategy's maximum concurrent positions: an entry is sized to allocated capital ÷ this.
    strategy_max_positions: int = 1


@dataclass(frozen=True)
class CheckResult:
    name: str  # e.g. "daily_loss"
    passed: bool
    reason: str  # always filled: why it passed or failed, with the figures


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    results: tuple[CheckResult, ...]

    @property
    def reasons(self) -> list[str]:
        """The reasons of the failed checks, in check order."""
        return [result.reason for result in self.results if not result.passed]

    @property
    def summary(self) -> str:
        total = len(self.results)
        failed = [result for result in self.results if not result.passed]
        if self.approved and not failed:
            return f"Approved: all {total} risk checks passed."
        details = "; ".join(f"{result.name}: {result.reason.rstrip('.')}" for result in failed)
        return f"Refused: {len(failed)} of {total} risk checks failed. {details}."


Check = Callable[[OrderProposal, RiskContext], CheckResult]


# --- plumbing -----------------------------------------------------------------------------


def _is_exit(proposal: object) -> bool:
    # Anything but a real True is an entry: a malformed flag must not unlock the exit path.
    return getattr(proposal, "is_exit", False) is True


def _check(name: str, *, entry_limit: bool = False) -> Callable[[Callable], Check]:
    """Turn ``fn(p, c) -> (passed, reason)`` into a check that never raises.

    An entry limit still runs for an exit (so its reason shows what it saw) but passes.
    """

    def decorate(fn: Callable[[OrderProposal, RiskContext], tuple[bool, str]]) -> Check:
        @functools.wraps(fn)
        def run(proposal: OrderProposal, context: RiskContext) -> CheckResult:
            try:
                if name != "inputs" and not (isinstance(proposal, OrderProposal) and isinstance(context, RiskContext)):
                    raise InvalidInput("the order proposal or the risk snapshot is malformed (see inputs)")
                passed, reason = fn(proposal, context)
                passed = passed is True
                reason = str(reason)
            except InvalidInput as exc:
                passed, reason = False, f"Cannot check: {exc}."
            except Exception as exc:
                passed = False
                reason = f"Could not be checked ({type(exc).__name__}); refused to be safe."
            if entry_limit and _is_exit(proposal):
                return CheckResult(name, True, f"Exit: not applied (entry limit). {reason}")
            return CheckResult(name, passed, reason)

        run.check_name = name  # type: ignore[attr-defined]
        run.entry_limit = entry_limit  # type: ignore[attr-defined]
        return run

    return decorate


def _flag(obj: object, field: str, label: str) -> bool:
    value = getattr(obj, field)
    if not isinstance(value, bool):
        raise InvalidInput(f"{label} must be True or False, got {describe(value)}")
    return value


def _count(obj: object, field: str, label: str, *, allow_zero: bool = False) -> int:
    return to_count(getattr(obj, field), label=label, allow_zero=allow_zero)


def _price(obj: object, field: str, label: str) -> Fraction:
    return to_fraction(getattr(obj, field), label=label, maximum=MAX_PRICE)


def _amount(obj: object, field: str, label: str, **kwargs: bool) -> Fraction:
    return to_fraction(getattr(obj, field), label=label, maximum=MAX_AMOUNT, **kwargs)


def _percent(obj: object, field: str, label: str) -> Fraction:
    return to_fraction(getattr(obj, field), label=label, maximum=MAX_PERCENT)


def _side(proposal: OrderProposal) -> str:
    side = proposal.side
    if not isinstance(side, str) or side not in SIDES:
        raise InvalidInput(f"side must be BUY or SELL, got {describe(side)}")
    return side


def _order_type(proposal: OrderProposal) -> str:
    order_type = proposal.order_type
    if not isinstance(order_type, str) or order_type not in ORDER_TYPES:
        raise InvalidInput(f"order type must be one of {', '.join(ORDER_TYPES)}, got {describe(order_type)}")
    return order_type


def _limit_price(proposal: OrderProposal) -> Fraction | None:
    return None if proposal.limit_price is None else _price(proposal, "limit_price", "limit price")


def _trigger_price(proposal: OrderProposal) -> Fraction | None:
    if proposal.trigger_price is None:
        return None
    return _price(proposal, "trigger_price", "trigger price")


def _allocated(context: RiskContext) -> tuple[Fraction, Fraction, Fraction]:
    """(capital, allocation %, allocated capital)."""
    capital = _amount(context, "capital", "capital")
    allocation = _percent(context, "allocation_pct", "allocation %")
    return capital, allocation, capital * allocation / 100


def _units(quantity: int) -> str:
    return f"{format_qty(quantity)} unit{'' if quantity == 1 else 's'}"


def _problems(*validators: Callable[[], object]) -> list[str]:
    problems = []
    for validate in validators:
        try:
            validate()
        except InvalidInput as exc:
            problems.append(str(exc))
    return problems


# --- sanity checks (every order) ----------------------------------------------------------


@_check("inputs")
def check_inputs(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if not isinstance(p, OrderProposal):
        return False, f"The order proposal is not an OrderProposal (got {describe(p)})."
    if not isinstance(c, RiskContext):
        return False, f"The risk context is not a RiskContext (got {describe(c)})."
    problems = _problems(
        lambda: _side(p),
        lambda: _order_type(p),
        lambda: to_count(p.quantity, label="quantity"),
        lambda: _price(p, "reference_price", "reference price"),
        lambda: _limit_price(p),
        lambda: _trigger_price(p),
        lambda: to_count(p.lot_size, label="lot size"),
        lambda: _price(p, "tick_size", "tick size"),
        lambda: _flag(p, "is_exit", "is_exit"),
        lambda: _flag(c, "account_logged_in", "account logged in"),
        lambda: _flag(c, "market_open", "market open"),
        lambda: _flag(c, "has_open_position_in_instrument", "has open position in instrument"),
        lambda: _count(c, "max_order_quantity", "maximum order quantity"),
        lambda: _amount(c, "max_order_value", "maximum order value"),
        lambda: _count(c, "orders_last_second", "orders in the last second", allow_zero=True),
        lambda: _count(c, "orders_last_minute", "orders in the last minute", allow_zero=True),
        lambda: _count(c, "max_orders_per_second", "maximum orders per second"),
        lambda: _count(c, "max_orders_per_minute", "maximum orders per minute"),
        lambda: _percent(c, "limit_price_band_pct", "limit price band %"),
    )
    if not _is_exit(p):
        problems += _problems(
            lambda: _flag(c, "engine_running", "engine running"),
            lambda: _flag(c, "global_kill_switch", "global kill switch"),
            lambda: _flag(c, "account_trading_enabled", "account trading enabled"),
            lambda: _flag(c, "account_halted", "account halted"),
            lambda: _flag(c, "strategy_trading_enabled", "strategy trading enabled"),
            lambda: _flag(c, "mapping_enabled", "mapping enabled"),
            lambda: _amount(c, "capital", "capital"),
            lambda: _percent(c, "allocation_pct", "allocation %"),
            lambda: _percent(c, "risk_per_trade_pct", "risk per trade %"),
            lambda: _amount(c, "daily_pnl", "today's P&L", allow_zero=True, allow_negative=True),
            lambda: _amount(c, "daily_loss_limit", "daily loss limit"),
            lambda: _amount(c, "open_exposure", "open exposure", allow_zero=True),
            lambda: _count(c, "open_positions", "open positions", allow_zero=True),
            lambda: _count(c, "max_open_positions", "maximum open positions"),
        )
    problems += _price_consistency(p)
    if problems:
        return False, "Invalid order or risk snapshot: " + "; ".join(problems) + "."
    kind = "exit" if _is_exit(p) else "entry"
    prices = f" at {format_inr(p.limit_price)}" if p.limit_price is not None else ""
    if p.trigger_price is not None:
        prices += f", trigger {format_inr(p.trigger_price)}"
    return True, (
        f"Inputs valid: {p.order_type} {p.side} {_units(p.quantity)}{prices} ({kind}), "
        f"reference price {format_inr(p.reference_price)}."
    )


def _price_consistency(p: OrderProposal) -> list[str]:
    """Prices present exactly where the order type needs them; SL trigger on the right side."""
    try:
        order_type = _order_type(p)
        limit, trigger = _limit_price(p), _trigger_price(p)
    except InvalidInput:
        return []  # already reported
    problems = []
    if order_type in ORDER_TYPES_WITH_LIMIT_PRICE and limit is None:
        problems.append(f"a {order_type} order needs a limit price")
    if order_type not in ORDER_TYPES_WITH_LIMIT_PRICE and limit is not None:
        problems.append(f"a {order_type} order must not carry a limit price ({format_inr(limit)})")
    if order_type in ORDER_TYPES_WITH_TRIGGER_PRICE and trigger is None:
        problems.append(f"a {order_type} order needs a trigger price")
    if order_type not in ORDER_TYPES_WITH_TRIGGER_PRICE and trigger is not None:
        problems.append(f"a {order_type} order must not carry a trigger price ({format_inr(trigger)})")
    if order_type == "SL" and limit is not None and trigger is not None:
        side = p.side
        if side == "BUY" and trigger > limit:
            problems.append(
                f"a stop-loss BUY's trigger {format_inr(trigger)} is above its limit price {format_inr(limit)}"
            )
        if side == "SELL" and trigger < limit:
            problems.append(
                f"a stop-loss SELL's trigger {format_inr(trigger)} is below its limit price {format_inr(limit)}"
            )
    return problems


@_check("logged_in")
def check_logged_in(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "account_logged_in", "account logged in"):
        return True, "The account has a Kite session today."
    return False, "The account is not logged in to Kite today; log in to it before it can trade."


@_check("market_hours")
def check_market_hours(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "market_open", "market open"):
        return True, "The market is open."
    return False, "The market is closed; orders are sent only during market hours."


@_check("lot_size")
def check_lot_size(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    quantity = to_count(p.quantity, label="quantity")
    lot = to_count(p.lot_size, label="lot size")
    lots, remainder = divmod(quantity, lot)
    if remainder:
        lower, upper = lots * lot, (lots + 1) * lot
        nearest = f"{format_qty(lower)} or {format_qty(upper)}" if lower else format_qty(upper)
        return False, (
            f"Quantity {format_qty(quantity)} is not a whole number of lots of {format_qty(lot)} "
            f"(nearest valid: {nearest})."
        )
    return True, f"Quantity {format_qty(quantity)} is {format_qty(lots)} lot(s) of {format_qty(lot)}."


def _off_tick(label: str, price: Fraction, tick: Fraction) -> str | None:
    steps = price / tick
    if steps.denominator == 1:
        return None
    below, above = math.floor(steps) * tick, math.ceil(steps) * tick
    return (
        f"{label} {format_inr(price)} is not a multiple of the tick size {format_inr(tick)} "
        f"(nearest valid: {format_inr(below)} or {format_inr(above)})"
    )


@_check("tick_size")
def check_tick_size(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    tick = _price(p, "tick_size", "tick size")
    prices = [("limit price", _limit_price(p)), ("trigger price", _trigger_price(p))]
    prices = [(label, price) for label, price in prices if price is not None]
    if not prices:
        return True, "No limit or trigger price to check against the tick size."
    problems = [problem for label, price in prices if (problem := _off_tick(label, price, tick))]
    if problems:
        return False, "; ".join(problem[0].upper() + problem[1:] for problem in problems) + "."
    shown = ", ".join(f"{label} {format_inr(price)}" for label, price in prices)
    verb = "is a multiple" if len(prices) == 1 else "are multiples"
    return True, f"The {shown} {verb} of the tick size {format_inr(tick)}."


@_check("limit_band")
def check_limit_band(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    order_type = _order_type(p)
    band = _percent(c, "limit_price_band_pct", "limit price band %")
    limit = _limit_price(p)
    if limit is None:
        return True, f"A {order_type} order has no limit price to check."
    if order_type == "SL":
        # A stop-limit order executes once triggered: its limit belongs near the trigger, which
        # may legitimately be far from the last price.
        anchor, anchor_label = _trigger_price(p), "trigger price"
        if anchor is None:
            raise InvalidInput("an SL order needs a trigger price")
    else:
        anchor, anchor_label = _price(p, "reference_price", "reference price"), "reference price"
    low, high = anchor * (1 - band / 100), anchor * (1 + band / 100)
    distance = (limit - anchor) / anchor * 100
    where = f"{format_pct(abs(distance))} {'above' if distance > 0 else 'below'}" if distance else "at"
    text = (
        f"Limit price {format_inr(limit)} is {where} the {anchor_label} {format_inr(anchor)}; "
        f"the band allows ±{format_pct(band)} ({format_inr(low)} to {format_inr(high)})."
    )
    return low <= limit <= high, text


@_check("max_order_quantity")
def check_max_order_quantity(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    quantity = to_count(p.quantity, label="quantity")
    maximum = _count(c, "max_order_quantity", "maximum order quantity")
    if quantity > maximum:
        return False, (
            f"Quantity {format_qty(quantity)} exceeds the account's maximum of {format_qty(maximum)} per order."
        )
    return True, f"Quantity {format_qty(quantity)} is within the maximum of {format_qty(maximum)} per order."


@_check("max_order_value")
def check_max_order_value(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    quantity = to_count(p.quantity, label="quantity")
    price = _price(p, "reference_price", "reference price")
    maximum = _amount(c, "max_order_value", "maximum order value")
    value = quantity * price
    text = f"Order value {format_inr(value)} ({format_qty(quantity)} × {format_inr(price)})"
    if value > maximum:
        return False, f"{text} exceeds the account's maximum of {format_inr(maximum)} per order."
    return True, f"{text} is within the maximum of {format_inr(maximum)} per order."


@_check("order_rate")
def check_order_rate(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    last_second = _count(c, "orders_last_second", "orders in the last second", allow_zero=True)
    last_minute = _count(c, "orders_last_minute", "orders in the last minute", allow_zero=True)
    per_second = min(_count(c, "max_orders_per_second", "maximum orders per second"), KITE_MAX_ORDERS_PER_SECOND)
    per_minute = min(_count(c, "max_orders_per_minute", "maximum orders per minute"), KITE_MAX_ORDERS_PER_MINUTE)
    problems = []
    if last_second >= per_second:
        problems.append(
            f"{format_qty(last_second)} orders in the last second reach the limit of {per_second} per second"
        )
    if last_minute >= per_minute:
        problems.append(
            f"{format_qty(last_minute)} orders in the last minute reach the limit of {per_minute} per minute"
        )
    if problems:
        return False, "; ".join(problems) + " (Kite allows 10/s and 400/min per account); try again shortly."
    return True, (
        f"{format_qty(last_second)} orders in the last second (limit {per_second}) and "
        f"{format_qty(last_minute)} in the last minute (limit {per_minute})."
    )


@_check("exit_position")
def check_exit_position(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if not _is_exit(p):
        return True, "An entry does not need an existing position."
    if _flag(c, "has_open_position_in_instrument", "has open position in instrument"):
        return True, "The account has an open position in this instrument for the exit to reduce."
    return False, (
        "This exit has no open position in the instrument to reduce; sending it would open a new position instead."
    )


# --- entry limits (entries only) ----------------------------------------------------------


@_check("engine_running", entry_limit=True)
def check_engine_running(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "engine_running", "engine running"):
        return True, "The engine is running."
    return False, "The engine is stopped; no new entries until an operator starts it."


@_check("kill_switch", entry_limit=True)
def check_global_kill_switch(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "global_kill_switch", "global kill switch"):
        return False, "The global kill switch is tripped (emergency stop); no new entries until it is reset."
    return True, "The global kill switch is not tripped."


@_check("account_enabled", entry_limit=True)
def check_account_enabled(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "account_trading_enabled", "account trading enabled"):
        return True, "Trading is enabled on the account."
    return False, "Trading is disabled on this account (account kill switch); no new entries."


@_check("strategy_enabled", entry_limit=True)
def check_strategy_enabled(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    strategy = _flag(c, "strategy_trading_enabled", "strategy trading enabled")
    mapping = _flag(c, "mapping_enabled", "mapping enabled")
    if strategy and mapping:
        return True, "The strategy and its mapping onto this account are enabled."
    off = [label for label, on in (("the strategy", strategy), ("its mapping onto this account", mapping)) if not on]
    return (
        False,
        f"{' and '.join(off).capitalize()} {'is' if len(off) == 1 else 'are'} disabled; no new entries.",
    )


@_check("account_halted", entry_limit=True)
def check_account_halted(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "account_halted", "account halted"):
        return (
            False,
            "The account is halted (daily loss limit or operator); no new entries until it is resumed.",
        )
    return True, "The account is not halted."


@_check("daily_loss", entry_limit=True)
def check_daily_loss(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    pnl = _amount(c, "daily_pnl", "today's P&L", allow_zero=True, allow_negative=True)
    limit = _amount(c, "daily_loss_limit", "daily loss limit")
    if pnl <= -limit:
        return False, (
            f"Today's P&L {format_inr(pnl)} has reached or passed the daily loss limit "
            f"of {format_inr(limit)}; no new entries today."
        )
    return True, (
        f"Today's P&L {format_inr(pnl)} is within the daily loss limit of {format_inr(limit)} "
        f"({format_inr(pnl + limit)} left)."
    )


@_check("per_trade_risk", entry_limit=True)
def check_per_trade_risk(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    side = _side(p)
    quantity = to_count(p.quantity, label="quantity")
    reference = _price(p, "reference_price", "reference price")
    _, _, allocated = _allocated(c)
    risk_pct = _percent(c, "risk_per_trade_pct", "risk per trade %")
    budget = allocated * risk_pct / 100
    if p.stop_price is None:
        return False, "An entry needs a stop price to measure its risk; none was given."
    stop = _price(p, "stop_price", "stop price")
    if side == "BUY" and stop >= reference:
        return False, (
            f"The stop {format_inr(stop)} of a BUY must be below the reference price {format_inr(reference)}."
        )
    if side == "SELL" and stop <= reference:
        return False, (
            f"The stop {format_inr(stop)} of a SELL must be above the reference price {format_inr(reference)}."
        )
    per_unit = abs(reference - stop)
    risk = quantity * per_unit
    text = (
        f"Risk {format_inr(risk)} ({format_qty(quantity)} × {format_inr(per_unit)} "
        f"from {format_inr(reference)} to the stop {format_inr(stop)})"
    )
    budget_text = f"the budget of {format_inr(budget)} ({format_pct(risk_pct)} of {format_inr(allocated)} allocated)"
    if risk > budget:
        return False, f"{text} exceeds {budget_text}."
    return True, f"{text} is within {budget_text}."


@_check("allocation", entry_limit=True)
def check_allocation(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    quantity = to_count(p.quantity, label="quantity")
    reference = _price(p, "reference_price", "reference price")
    capital, allocation, allocated = _allocated(c)
    exposure = _amount(c, "open_exposure", "open exposure", allow_zero=True)
    value = quantity * reference
    total = exposure + value
    text = f"Open exposure {format_inr(exposure)} plus this order's {format_inr(value)} makes {format_inr(total)}"
    allocation_text = (
        f"the allocated capital of {format_inr(allocated)} ({format_pct(allocation)} of {format_inr(capital)})"
    )
    if total > allocated:
        return False, f"{text}, above {allocation_text}."
    return True, f"{text}, within {allocation_text}."


@_check("max_open_positions", entry_limit=True)
def check_max_open_positions(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    has_position = _flag(c, "has_open_position_in_instrument", "has open position in instrument")
    open_positions = _count(c, "open_positions", "open positions", allow_zero=True)
    maximum = _count(c, "max_open_positions", "maximum open positions")
    if has_position:
        return True, "The account already holds this instrument, so no new position is opened."
    if open_positions >= maximum:
        return False, (
            f"The account already has open positions in {format_qty(open_positions)} instruments, "
            f"the maximum is {format_qty(maximum)}; no new instrument."
        )
    return True, (
        f"Open positions in {format_qty(open_positions)} instruments, below the maximum of {format_qty(maximum)}."
    )


@_check("intraday_cutoff", entry_limit=True)
def check_intraday_cutoff(p: OrderProposal, c: RiskContext) -> tuple[bool, str]:
    if _flag(c, "intraday_entries_closed", "intraday entries closed"):
        return False, (
            "It is past today's intraday square-off time: a new MIS position would be squared off within the minute."
        )
    return True, "Before today's intraday square-off time, or not an intraday (MIS) order."


# --- the policy ---------------------------------------------------------------------------

SANITY_CHECKS: tuple[Check, ...] = (
    check_inputs,
    check_logged_in,
    check_market_hours,
    check_lot_size,
    check_tick_size,
    check_limit_band,
    check_max_order_quantity,
    check_max_order_value,
    check_order_rate,
    check_exit_position,
)

ENTRY_CHECKS: tuple[Check, ...] = (
    check_engine_running,
    check_global_kill_switch,
    check_account_enabled,
    check_strategy_enabled,
    check_account_halted,
    check_daily_loss,
    check_per_trade_risk,
    check_allocation,
    check_max_open_positions,
    check_intraday_cutoff,
)

ALL_CHECKS: tuple[Check, ...] = SANITY_CHECKS + ENTRY_CHECKS


def evaluate(proposal: OrderProposal, context: RiskContext) -> RiskDecision:
    """Run every check and approve only if all of them passed. Never raises."""
    results = tuple(check(proposal, context) for check in ALL_CHECKS)
    approved = bool(results) and all(result.passed is True for result in results)
    return RiskDecision(approved=approved, results=results)

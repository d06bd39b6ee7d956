"""Pre-trade risk checks: each check passing and failing, exits, and properties of evaluate."""

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import checks
from risk.checks import (
    ALL_CHECKS,
    ENTRY_CHECKS,
    SANITY_CHECKS,
    CheckResult,
    OrderProposal,
    RiskContext,
    RiskDecision,
    evaluate,
)
from risk.sizing import size_position

D = Decimal


def context(**overrides) -> RiskContext:
    fields = {
        "engine_running": True,
        "global_kill_switch": False,
        "account_trading_enabled": True,
        "account_halted": False,
        "account_logged_in": True,
        "strategy_trading_enabled": True,
        "mapping_enabled": True,
        "capital": D("100000"),
        "allocation_pct": D("50"),
        "risk_per_trade_pct": D("2"),
        "daily_pnl": D("-1200"),
        "daily_loss_limit": D("5000"),
        "open_exposure": D("0"),
        "open_positions": 2,
        "has_open_position_in_instrument": False,
        "max_open_positions": 10,
        "max_order_quantity": 1000,
        "max_order_value": D("500000"),
        "market_open": True,
        "orders_last_second": 0,
        "orders_last_minute": 3,
    }
    fields.update(overrides)
    return RiskContext(**fields)


def entry(**overrides) -> OrderProposal:
    fields = {"side": "BUY", "quantity": 100, "reference_price": D("500"), "stop_price": D("490")}
    fields.update(overrides)
    return OrderProposal(**fields)


def exit_(**overrides) -> OrderProposal:
    fields = {"side": "SELL", "quantity": 100, "reference_price": D("500"), "is_exit": True}
    fields.update(overrides)
    return OrderProposal(**fields)


def exit_context(**overrides) -> RiskContext:
    return context(**{"has_open_position_in_instrument": True, **overrides})


def result_of(decision: RiskDecision, name: str) -> CheckResult:
    (found,) = [result for result in decision.results if result.name == name]
    return found


def assert_passes(check, proposal, ctx, *fragments):
    result = check(proposal, ctx)
    assert result.passed, result.reason
    for fragment in fragments:
        assert fragment in result.reason, (fragment, result.reason)
    return result


def assert_fails(check, proposal, ctx, *fragments):
    result = check(proposal, ctx)
    assert not result.passed, result.reason
    for fragment in fragments:
        assert fragment in result.reason, (fragment, result.reason)
    return result


# --- the policy as a whole ----------------------------------------------------------------


def test_a_sound_entry_is_approved():
    decision = evaluate(entry(), context())
    assert decision.approved, decision.summary
    assert [r.name for r in decision.results] == [check.check_name for check in ALL_CHECKS]
    assert all(r.reason for r in decision.results)
    assert decision.reasons == []
    assert decision.summary == f"Approved: all {len(ALL_CHECKS)} risk checks passed."


def test_every_failure_is_recorded_not_just_the_first():
    decision = evaluate(entry(quantity=2000), context(engine_running=False, account_halted=True))
    assert not decision.approved
    failed = {r.name for r in decision.results if not r.passed}
    assert {"engine_running", "account_halted", "max_order_quantity", "per_trade_risk"} <= failed
    assert len(decision.results) == len(ALL_CHECKS)
    assert len(decision.reasons) == len(failed)
    assert decision.summary.startswith(f"Refused: {len(failed)} of {len(ALL_CHECKS)} risk checks failed.")
    assert "engine_running: The engine is stopped" in decision.summary


def test_check_lists():
    names = [check.check_name for check in ALL_CHECKS]
    assert len(names) == len(set(names))
    assert ALL_CHECKS == SANITY_CHECKS + ENTRY_CHECKS
    assert ALL_CHECKS[0] is checks.check_inputs
    assert all(check.entry_limit for check in ENTRY_CHECKS)
    assert not any(check.entry_limit for check in SANITY_CHECKS)
    assert {c.check_name for c in ENTRY_CHECKS} == {
        "engine_running",
        "kill_switch",
        "account_enabled",
        "strategy_enabled",
        "account_halted",
        "daily_loss",
        "per_trade_risk",
        "allocation",
        "max_open_positions",
        "intraday_cutoff",
    }


def test_no_new_intraday_position_after_the_square_off_time_but_exits_go_out():
    closed = context(intraday_entries_closed=True)

    refused = evaluate(entry(), closed)
    exit_order = evaluate(
        entry(side="SELL", stop_price=None, is_exit=True),
        context(intraday_entries_closed=True, has_open_position_in_instrument=True),
    )

    assert not refused.approved
    assert refused.reasons == [
        "It is past today's intraday square-off time: a new MIS position would be squared off within the minute."
    ]
    assert exit_order.approved
    assert evaluate(entry(), context()).approved


# --- inputs -------------------------------------------------------------------------------


def test_inputs_pass():
    assert_passes(checks.check_inputs, entry(), context(), "MARKET BUY 100 units", "₹500.00", "entry")


@pytest.mark.parametrize(
    ("proposal", "ctx", "fragment"),
    [
        (entry(side="buy"), context(), "side must be BUY or SELL, got 'buy'"),
        (entry(order_type="STOP"), context(), "order type must be one of"),
        (entry(quantity=0), context(), "quantity must be at least 1, got 0"),
        (entry(quantity=-5), context(), "quantity must not be negative, got -5"),
        (entry(quantity=10.0), context(), "quantity must be a whole number"),
        (entry(reference_price=D("NaN")), context(), "reference price is not a number"),
        (entry(reference_price=D("-500")), context(), "reference price must not be negative, got -500"),
        (entry(reference_price=D("Infinity")), context(), "reference price is infinite"),
        (entry(reference_price=500.0), context(), "reference price must be a Decimal amount"),
        (entry(tick_size=D("0")), context(), "tick size must be positive"),
        (entry(lot_size=0), context(), "lot size must be at least 1"),
        (entry(is_exit="yes"), context(), "is_exit must be True or False"),
        (entry(order_type="LIMIT"), context(), "a LIMIT order needs a limit price"),
        (entry(limit_price=D("500")), context(), "a MARKET order must not carry a limit price (₹500.00)"),
        (entry(order_type="SL-M"), context(), "a SL-M order needs a trigger price"),
        (
            entry(order_type="LIMIT", limit_price=D("500"), trigger_price=D("499")),
            context(),
            "a LIMIT order must not carry a trigger price (₹499.00)",
        ),
        (
            entry(order_type="SL", limit_price=D("500"), trigger_price=D("501")),
            context(),
            "a stop-loss BUY's trigger ₹501.00 is above its limit price ₹500.00",
        ),
        (
            exit_(order_type="SL", limit_price=D("500"), trigger_price=D("499")),
            exit_context(),
            "a stop-loss SELL's trigger ₹499.00 is below its limit price ₹500.00",
        ),
        (entry(), context(capital=D("-1")), "capital must not be negative, got -1"),
        (entry(), context(daily_pnl=D("NaN")), "today's P&L is not a number"),
        (entry(), context(daily_loss_limit=D("0")), "daily loss limit must be positive, got 0"),
        (entry(), context(open_exposure=D("-5")), "open exposure must not be negative"),
        (entry(), context(allocation_pct=D("120")), "allocation % is implausibly large: 120"),
        (entry(), context(max_order_value=D("1e30")), "maximum order value is implausibly large"),
        (entry(), context(orders_last_second=-1), "orders in the last second must not be negative"),
        (entry(), context(engine_running=None), "engine running must be True or False, got None"),
        (entry(), context(market_open="yes"), "market open must be True or False"),
        (None, context(), "not an OrderProposal"),
        (entry(), {"capital": 1}, "not a RiskContext"),
    ],
)
def test_inputs_fail(proposal, ctx, fragment):
    result = assert_fails(checks.check_inputs, proposal, ctx, fragment)
    assert result.reason.startswith(("Invalid order or risk snapshot:", "The "))


def test_inputs_of_an_exit_ignore_entry_only_fields():
    # A broken mapping (capital, P&L, exposure) must never trap a position.
    ctx = exit_context(capital=D("NaN"), daily_pnl=None, open_exposure=D("-1"), engine_running=None)
    assert_passes(checks.check_inputs, exit_(), ctx, "(exit)")
    assert_fails(checks.check_inputs, exit_(), exit_context(max_order_quantity=0), "maximum order quantity")


# --- sanity checks ------------------------------------------------------------------------


def test_logged_in():
    assert_passes(checks.check_logged_in, entry(), context(), "Kite session")
    assert_fails(checks.check_logged_in, entry(), context(account_logged_in=False), "not logged in")


def test_market_hours():
    assert_passes(checks.check_market_hours, entry(), context(), "open")
    assert_fails(checks.check_market_hours, entry(), context(market_open=False), "market is closed")


def test_lot_size():
    assert_passes(checks.check_lot_size, entry(quantity=75, lot_size=25), context(), "75 is 3 lot(s) of 25")
    assert_fails(
        checks.check_lot_size,
        entry(quantity=80, lot_size=25),
        context(),
        "Quantity 80 is not a whole number of lots of 25",
        "75 or 100",
    )
    assert_fails(checks.check_lot_size, entry(quantity=10, lot_size=25), context(), "nearest valid: 25")
    assert_fails(checks.check_lot_size, entry(quantity=0), context(), "quantity must be at least 1")


def test_tick_size():
    limit = {"order_type": "LIMIT", "limit_price": D("500.05")}
    assert_passes(checks.check_tick_size, entry(**limit), context(), "₹500.05", "₹0.05")
    assert_passes(checks.check_tick_size, entry(), context(), "No limit or trigger price")
    assert_fails(
        checks.check_tick_size,
        entry(order_type="LIMIT", limit_price=D("500.03")),
        context(),
        "Limit price ₹500.03 is not a multiple of the tick size ₹0.05",
        "₹500.00 or ₹500.05",
    )
    assert_fails(
        checks.check_tick_size,
        exit_(order_type="SL-M", trigger_price=D("480.12")),
        exit_context(),
        "Trigger price ₹480.12",
        "₹480.10 or ₹480.15",
    )
    assert_passes(
        checks.check_tick_size,
        entry(order_type="LIMIT", limit_price=D("81.0025"), tick_size=D("0.0025")),
        context(),
        "₹81.0025",
    )


def test_limit_band():
    assert_passes(
        checks.check_limit_band,
        entry(order_type="LIMIT", limit_price=D("525")),
        context(),
        "5% above the reference price ₹500.00",
        "±5% (₹475.00 to ₹525.00)",
    )
    assert_fails(
        checks.check_limit_band,
        entry(order_type="LIMIT", limit_price=D("525.05")),
        context(),
        "Limit price ₹525.05 is 5.01% above the reference price ₹500.00",
        "₹475.00 to ₹525.00",
    )
    assert_fails(
        checks.check_limit_band,
        exit_(order_type="LIMIT", limit_price=D("400")),
        exit_context(),
        "20% below",
        "±5%",
    )
    assert_fails(
        checks.check_limit_band,
        entry(order_type="LIMIT", limit_price=D("515")),
        context(limit_price_band_pct=D("2.5")),
        "3% above",
        "±2.5% (₹487.50 to ₹512.50)",
    )
    assert_passes(checks.check_limit_band, entry(), context(), "MARKET order has no limit price")


def test_limit_band_of_a_stop_limit_order_is_measured_from_its_trigger():
    # A protective stop 10% below the last price is fine; its limit just has to sit near the trigger.
    stop = exit_(order_type="SL", trigger_price=D("450"), limit_price=D("449"))
    assert_passes(checks.check_limit_band, stop, exit_context(), "below the trigger price ₹450.00")
    far = exit_(order_type="SL", trigger_price=D("450"), limit_price=D("400"))
    assert_fails(checks.check_limit_band, far, exit_context(), "₹427.50 to ₹472.50")


def test_max_order_quantity():
    assert_passes(checks.check_max_order_quantity, entry(quantity=1000), context(), "1,000")
    assert_fails(
        checks.check_max_order_quantity,
        entry(quantity=1001),
        context(),
        "Quantity 1,001 exceeds the account's maximum of 1,000 per order",
    )


def test_max_order_value():
    assert_passes(
        checks.check_max_order_value,
        entry(quantity=1000),
        context(),
        "Order value ₹5,00,000.00 (1,000 × ₹500.00) is within the maximum of ₹5,00,000.00",
    )
    assert_fails(
        checks.check_max_order_value,
        entry(quantity=1000, reference_price=D("500.05")),
        context(),
        "₹5,00,050.00 (1,000 × ₹500.05) exceeds the account's maximum of ₹5,00,000.00",
    )


def test_order_rate():
    assert_passes(
        checks.check_order_rate,
        entry(),
        context(orders_last_second=9, orders_last_minute=399),
        "9 orders in the last second (limit 10)",
        "399 in the last minute (limit 400)",
    )
    assert_fails(
        checks.check_order_rate,
        entry(),
        context(orders_last_second=10),
        "10 orders in the last second reach the limit of 10 per second",
    )
    assert_fails(
        checks.check_order_rate,
        entry(),
        context(orders_last_minute=400),
        "400 orders in the last minute reach the limit of 400 per minute",
    )
    assert_fails(
        checks.check_order_rate,
        entry(),
        context(orders_last_second=3, max_orders_per_second=3),
        "limit of 3 per second",
    )


def test_order_rate_never_exceeds_kites_limits():
    ctx = context(orders_last_second=10, max_orders_per_second=50, max_orders_per_minute=1000)
    assert_fails(checks.check_order_rate, entry(), ctx, "limit of 10 per second")


def test_exit_position():
    assert_passes(checks.check_exit_position, entry(), context(), "entry does not need")
    assert_passes(checks.check_exit_position, exit_(), exit_context(), "open position")
    assert_fails(checks.check_exit_position, exit_(), context(), "no open position", "open a new position")


# --- entry limits -------------------------------------------------------------------------


def test_engine_running():
    assert_passes(checks.check_engine_running, entry(), context(), "running")
    assert_fails(checks.check_engine_running, entry(), context(engine_running=False), "engine is stopped")


def test_global_kill_switch():
    assert_passes(checks.check_global_kill_switch, entry(), context(), "not tripped")
    assert_fails(checks.check_global_kill_switch, entry(), context(global_kill_switch=True), "kill switch is tripped")


def test_account_enabled():
    assert_passes(checks.check_account_enabled, entry(), context(), "enabled")
    assert_fails(checks.check_account_enabled, entry(), context(account_trading_enabled=False), "disabled")


def test_strategy_enabled():
    assert_passes(checks.check_strategy_enabled, entry(), context(), "enabled")
    assert_fails(
        checks.check_strategy_enabled,
        entry(),
        context(strategy_trading_enabled=False),
        "The strategy is disabled",
    )
    assert_fails(checks.check_strategy_enabled, entry(), context(mapping_enabled=False), "Its mapping onto this")
    assert_fails(
        checks.check_strategy_enabled,
        entry(),
        context(strategy_trading_enabled=False, mapping_enabled=False),
        "are disabled",
    )


def test_account_halted():
    assert_passes(checks.check_account_halted, entry(), context(), "not halted")
    assert_fails(checks.check_account_halted, entry(), context(account_halted=True), "account is halted")


def test_daily_loss():
    assert_passes(
        checks.check_daily_loss,
        entry(),
        context(daily_pnl=D("-4999.99")),
        "-₹4,999.99",
        "₹5,000.00",
        "₹0.01 left",
    )
    assert_passes(checks.check_daily_loss, entry(), context(daily_pnl=D("25000")), "₹25,000.00")
    assert_fails(
        checks.check_daily_loss,
        entry(),
        context(daily_pnl=D("-5000")),
        "Today's P&L -₹5,000.00 has reached or passed the daily loss limit of ₹5,000.00",
    )
    assert_fails(checks.check_daily_loss, entry(), context(daily_pnl=D("-123456.78")), "-₹1,23,456.78")


def test_per_trade_risk():
    assert_passes(
        checks.check_per_trade_risk,
        entry(),
        context(),
        "Risk ₹1,000.00 (100 × ₹10.00 from ₹500.00 to the stop ₹490.00)",
        "budget of ₹1,000.00 (2% of ₹50,000.00 allocated)",
    )
    assert_fails(
        checks.check_per_trade_risk,
        entry(quantity=101),
        context(),
        "Risk ₹1,010.00",
        "exceeds the budget of ₹1,000.00",
    )
    assert_passes(checks.check_per_trade_risk, entry(side="SELL", stop_price=D("510")), context(), "₹510.00")


def test_per_trade_risk_needs_a_stop_on_the_losing_side():
    assert_fails(checks.check_per_trade_risk, entry(stop_price=None), context(), "needs a stop price")
    assert_fails(
        checks.check_per_trade_risk,
        entry(stop_price=D("510")),
        context(),
        "stop ₹510.00 of a BUY must be below the reference price ₹500.00",
    )
    assert_fails(
        checks.check_per_trade_risk,
        entry(side="SELL", stop_price=D("500")),
        context(),
        "stop ₹500.00 of a SELL must be above",
    )
    assert_fails(checks.check_per_trade_risk, entry(stop_price=D("NaN")), context(), "stop price is not a number")


def test_allocation():
    assert_passes(
        checks.check_allocation,
        entry(),
        context(open_exposure=D("0")),
        "₹50,000.00",
        "within the allocated capital of ₹50,000.00 (50% of ₹1,00,000.00)",
    )
    assert_fails(
        checks.check_allocation,
        entry(quantity=10),
        context(open_exposure=D("45000.50")),
        "Open exposure ₹45,000.50 plus this order's ₹5,000.00 makes ₹50,000.50",
        "above the allocated capital of ₹50,000.00",
    )


def test_max_open_positions():
    assert_passes(checks.check_max_open_positions, entry(), context(open_positions=9), "9", "10")
    assert_fails(
        checks.check_max_open_positions,
        entry(),
        context(open_positions=10),
        "open positions in 10 instruments, the maximum is 10",
    )
    assert_passes(
        checks.check_max_open_positions,
        entry(),
        context(open_positions=10, has_open_position_in_instrument=True),
        "already holds this instrument",
    )


# --- exits --------------------------------------------------------------------------------

BLOCKED_FOR_ENTRIES = [
    ({"engine_running": False}, "engine_running"),
    ({"global_kill_switch": True}, "kill_switch"),
    ({"account_trading_enabled": False}, "account_enabled"),
    ({"strategy_trading_enabled": False}, "strategy_enabled"),
    ({"mapping_enabled": False}, "strategy_enabled"),
    ({"account_halted": True}, "account_halted"),
    ({"daily_pnl": D("-9000")}, "daily_loss"),
    ({"open_exposure": D("1000000")}, "allocation"),
    ({"open_positions": 10}, "max_open_positions"),
    ({"risk_per_trade_pct": D("0.01")}, "per_trade_risk"),
]


@pytest.mark.parametrize(("overrides", "name"), BLOCKED_FOR_ENTRIES)
def test_an_exit_skips_entry_limits(overrides, name):
    refused = evaluate(entry(), context(**overrides))
    assert not refused.approved and not result_of(refused, name).passed
    allowed = evaluate(exit_(), exit_context(**overrides))
    assert allowed.approved, allowed.summary
    assert result_of(allowed, name).reason.startswith("Exit: not applied (entry limit).")


def test_an_exit_is_possible_after_an_emergency_stop_with_everything_tripped():
    ctx = exit_context(
        engine_running=False,
        global_kill_switch=True,
        account_trading_enabled=False,
        account_halted=True,
        strategy_trading_enabled=False,
        mapping_enabled=False,
        daily_pnl=D("-50000"),
        open_positions=99,
    )
    decision = evaluate(exit_(stop_price=None), ctx)
    assert decision.approved, decision.summary
    assert "account is halted" in result_of(decision, "account_halted").reason


@pytest.mark.parametrize(
    ("proposal", "overrides", "name", "fragment"),
    [
        (exit_(quantity=1001), {}, "max_order_quantity", "1,001"),
        (exit_(quantity=1000, reference_price=D("600")), {}, "max_order_value", "₹6,00,000.00"),
        (exit_(), {"account_logged_in": False}, "logged_in", "not logged in"),
        (exit_(), {"market_open": False}, "market_hours", "closed"),
        (exit_(), {"orders_last_second": 10}, "order_rate", "10 per second"),
        (exit_(quantity=30, lot_size=25), {}, "lot_size", "30"),
        (exit_(order_type="LIMIT", limit_price=D("499.99")), {}, "tick_size", "₹499.99"),
        (exit_(order_type="LIMIT", limit_price=D("450")), {}, "limit_band", "10% below"),
        (exit_(), {"has_open_position_in_instrument": False}, "exit_position", "no open position"),
        (exit_(side="HOLD"), {}, "inputs", "side must be BUY or SELL"),
    ],
)
def test_an_exit_still_faces_sanity_checks(proposal, overrides, name, fragment):
    decision = evaluate(proposal, exit_context(account_halted=True, **overrides))
    assert not decision.approved
    failed = result_of(decision, name)
    assert not failed.passed and fragment in failed.reason
    assert failed.reason in decision.reasons


def test_a_malformed_exit_flag_is_treated_as_an_entry():
    decision = evaluate(entry(is_exit=1), context(account_halted=True))
    assert not decision.approved
    assert not result_of(decision, "account_halted").passed


# --- sizing and checks agree --------------------------------------------------------------


def test_the_worked_example_is_approved():
    sized = size_position(
        capital=D("100000"),
        allocation_pct=D("50"),
        risk_per_trade_pct=D("2"),
        entry_price=D("500"),
        stop_price=D("490"),
        lot_size=1,
        max_quantity=1000,
        max_order_value=D("500000"),
        max_positions=1,
        open_exposure=D("0"),
    )
    assert evaluate(entry(quantity=sized.quantity), context()).approved


money = st.decimals(min_value=D("1000"), max_value=D("1e10"), places=2)
prices = st.decimals(min_value=D("1"), max_value=D("100000"), places=2)
percents = st.decimals(min_value=D("0.01"), max_value=D("100"), places=2)


@settings(max_examples=300)
@given(
    money,
    percents,
    percents,
    prices,
    st.decimals(min_value=D("0.05"), max_value=D("0.99"), places=2),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(1, 1000),
    st.integers(1, 10**6),
    money,
    st.integers(1, 20),
    st.decimals(min_value=D("0"), max_value=D("1e10"), places=2),
)
def test_a_sized_entry_passes_the_sizing_checks(
    capital, allocation, risk, price, fraction, side, lot, max_qty, max_value, max_positions, exposure
):
    distance = (price * fraction).quantize(D("0.01")) or D("0.01")
    stop = price - distance if side == "BUY" else price + distance
    sized = size_position(
        capital=capital,
        allocation_pct=allocation,
        risk_per_trade_pct=risk,
        entry_price=price,
        stop_price=stop,
        lot_size=lot,
        max_quantity=max_qty,
        max_order_value=max_value,
        max_positions=max_positions,
        open_exposure=exposure,
    )
    if sized.quantity == 0:
        return
    proposal = entry(side=side, quantity=sized.quantity, reference_price=price, stop_price=stop, lot_size=lot)
    ctx = context(
        capital=capital,
        allocation_pct=allocation,
        risk_per_trade_pct=risk,
        max_order_quantity=max_qty,
        max_order_value=max_value,
        open_exposure=exposure,
    )
    decision = evaluate(proposal, ctx)
    assert decision.approved, decision.summary


# --- properties of evaluate ---------------------------------------------------------------

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    st.decimals(),
    st.sampled_from([D("NaN"), D("sNaN"), D("-Infinity"), D("1e30"), D("-1e30"), D(0.1), 10**40]),
    st.fractions(),
    st.lists(st.integers(), max_size=1),
)


def maybe(valid):
    return st.one_of(valid, valid, valid, garbage)


flags = maybe(st.booleans())
counts = maybe(st.integers(0, 2000))
amounts = maybe(st.decimals(min_value=D("-100000"), max_value=D("10000000"), places=2))
price_values = maybe(st.decimals(min_value=D("0.05"), max_value=D("2000"), places=2))
optional_prices = st.one_of(st.none(), price_values)

contexts = st.builds(
    RiskContext,
    engine_running=flags,
    global_kill_switch=flags,
    account_trading_enabled=flags,
    account_halted=flags,
    account_logged_in=flags,
    strategy_trading_enabled=flags,
    mapping_enabled=flags,
    capital=amounts,
    allocation_pct=amounts,
    risk_per_trade_pct=amounts,
    daily_pnl=amounts,
    daily_loss_limit=amounts,
    open_exposure=amounts,
    open_positions=counts,
    has_open_position_in_instrument=flags,
    max_open_positions=counts,
    max_order_quantity=counts,
    max_order_value=amounts,
    market_open=flags,
    orders_last_second=counts,
    orders_last_minute=counts,
    limit_price_band_pct=amounts,
    max_orders_per_second=counts,
    max_orders_per_minute=counts,
    intraday_entries_closed=flags,
)
proposals = st.builds(
    OrderProposal,
    side=maybe(st.sampled_from(["BUY", "SELL"])),
    quantity=counts,
    reference_price=price_values,
    order_type=maybe(st.sampled_from(["MARKET", "LIMIT", "SL", "SL-M"])),
    limit_price=optional_prices,
    trigger_price=optional_prices,
    stop_price=optional_prices,
    is_exit=flags,
    lot_size=maybe(st.integers(1, 50)),
    tick_size=maybe(st.sampled_from([D("0.05"), D("0.01"), D("1"), D("0.0025")])),
)


@settings(max_examples=1500)
@given(st.one_of(proposals, garbage), st.one_of(contexts, garbage))
def test_evaluate_never_raises_and_approves_only_when_all_pass(proposal, ctx):
    decision = evaluate(proposal, ctx)
    assert isinstance(decision, RiskDecision)
    assert len(decision.results) == len(ALL_CHECKS)
    for result in decision.results:
        assert isinstance(result, CheckResult)
        assert isinstance(result.passed, bool)
        assert isinstance(result.reason, str) and result.reason
    assert decision.approved == all(result.passed for result in decision.results)
    assert isinstance(decision.summary, str) and decision.summary
    assert len(decision.reasons) == sum(not result.passed for result in decision.results)
    if decision.approved:
        assert_within_limits(proposal, ctx)


def assert_within_limits(p, c):
    """An approved order really is within the limits, checked here independently (exactly)."""
    F = Fraction
    quantity, reference = p.quantity, F(p.reference_price)
    assert isinstance(quantity, int) and quantity > 0 and quantity % p.lot_size == 0
    assert quantity <= c.max_order_quantity
    assert quantity * reference <= F(c.max_order_value)
    assert c.account_logged_in is True and c.market_open is True
    assert c.orders_last_second < min(c.max_orders_per_second, 10)
    assert c.orders_last_minute < min(c.max_orders_per_minute, 400)
    assert (p.limit_price is not None) == (p.order_type in ("LIMIT", "SL"))
    assert (p.trigger_price is not None) == (p.order_type in ("SL", "SL-M"))
    for price in (p.limit_price, p.trigger_price):
        if price is not None:
            assert (F(price) / F(p.tick_size)).denominator == 1
    if p.limit_price is not None:
        anchor = F(p.trigger_price if p.order_type == "SL" else p.reference_price)
        assert abs(F(p.limit_price) - anchor) * 100 <= anchor * F(c.limit_price_band_pct)
    if p.is_exit is True:
        assert c.has_open_position_in_instrument is True
        return
    assert c.engine_running is True and c.global_kill_switch is False and c.account_halted is False
    assert c.account_trading_enabled is True and c.strategy_trading_enabled is True and c.mapping_enabled is True
    assert c.intraday_entries_closed is False
    assert F(c.daily_pnl) > -F(c.daily_loss_limit)
    allocated = F(c.capital) * F(c.allocation_pct) / 100
    assert F(c.open_exposure) + quantity * reference <= allocated
    assert p.stop_price is not None
    stop = F(p.stop_price)
    assert stop < reference if p.side == "BUY" else stop > reference
    assert quantity * abs(reference - stop) <= allocated * F(c.risk_per_trade_pct) / 100
    if not c.has_open_position_in_instrument:
        assert c.open_positions < c.max_open_positions


@settings(max_examples=300)
@given(proposals, contexts)
def test_entry_limits_never_refuse_an_exit(proposal, ctx):
    proposal = dataclasses.replace(proposal, is_exit=True)
    decision = evaluate(proposal, ctx)
    names = {check.check_name for check in ENTRY_CHECKS}
    assert all(result.passed for result in decision.results if result.name in names)


def likely(good: bool):
    return st.sampled_from([good, good, good, good, good, good, not good])


def ticks(low: int, high: int):
    return st.integers(low, high).map(lambda n: D(n) * D("0.05"))


@st.composite
def plausible_orders(draw):
    """Mostly well-formed orders and snapshots, so that a fair share is approved."""
    reference = draw(ticks(20, 20_000))
    side = draw(st.sampled_from(["BUY", "SELL"]))
    order_type = draw(st.sampled_from(["MARKET", "LIMIT", "SL", "SL-M"]))
    near = ticks(-400, 400)
    limit = reference + draw(near) if order_type in ("LIMIT", "SL") else None
    trigger = None
    if order_type == "SL":
        trigger = limit - draw(ticks(0, 20)) if side == "BUY" else limit + draw(ticks(0, 20))
    elif order_type == "SL-M":
        trigger = reference + draw(near)
    if trigger is not None and trigger <= 0:
        trigger = D("0.05")
    if limit is not None and limit <= 0:
        limit = D("0.05")
    distance = draw(ticks(1, 100))
    stop = reference - distance if side == "BUY" else reference + distance
    lot = draw(st.sampled_from([1, 1, 25, 50]))
    proposal = OrderProposal(
        side=side,
        quantity=lot * draw(st.integers(1, 10)),
        reference_price=reference,
        order_type=order_type,
        limit_price=limit,
        trigger_price=trigger,
        stop_price=stop if stop > 0 else None,
        is_exit=draw(st.sampled_from([False, False, True])),
        lot_size=lot,
    )
    ctx = RiskContext(
        engine_running=draw(likely(True)),
        global_kill_switch=draw(likely(False)),
        account_trading_enabled=draw(likely(True)),
        account_halted=draw(likely(False)),
        account_logged_in=draw(likely(True)),
        strategy_trading_enabled=draw(likely(True)),
        mapping_enabled=draw(likely(True)),
        capital=draw(st.decimals(D("100000"), D("1e8"), places=2)),
        allocation_pct=draw(st.decimals(D("1"), D("100"), places=2)),
        risk_per_trade_pct=draw(st.decimals(D("0.5"), D("100"), places=2)),
        daily_pnl=draw(st.decimals(D("-100000"), D("100000"), places=2)),
        daily_loss_limit=draw(st.decimals(D("1000"), D("200000"), places=2)),
        open_exposure=draw(st.decimals(D("0"), D("100000"), places=2)),
        open_positions=draw(st.integers(0, 12)),
        has_open_position_in_instrument=draw(st.booleans()),
        max_open_positions=draw(st.integers(1, 12)),
        max_order_quantity=draw(st.integers(1, 600)),
        max_order_value=draw(st.decimals(D("10000"), D("1e7"), places=2)),
        market_open=draw(likely(True)),
        orders_last_second=draw(st.integers(0, 10)),
        orders_last_minute=draw(st.integers(0, 400)),
    )
    return proposal, ctx


@settings(max_examples=1500)
@given(plausible_orders())
def test_plausible_orders_are_approved_only_within_every_limit(order):
    proposal, ctx = order
    decision = evaluate(proposal, ctx)
    assert decision.approved == all(result.passed for result in decision.results)
    if decision.approved:
        assert_within_limits(proposal, ctx)

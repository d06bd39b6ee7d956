"""The one order decision: every order the system makes is decided here.

Strategy and manual signals (``signal_decide``) and every square-off, flatten, strategy stop and
emergency stop exit (``position_exit_decide``) take the same five steps in one short transaction:

1. lock the account (``accounts.locks.lock_account``: the one helper, so concurrent decisions on
   an account queue up in a fixed order);
2. read the account book (``book.decision_read``: filled positions and working orders, with the
   account's mapping to the strategy, in two statements);
3. ask the pure decision function (``risk.decision.decide``) for legs, sizing, checks and reasons;
4. record each leg's decision (``RiskDecisionRecord``, every check with its reason);
5. write the orders with their tags (PENDING or BLOCKED).

No network inside: the broker is called after commit (``execution.orders.placement``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import locks
from accounts.models import Account, AccountStatus
from risk.checks import RiskContext
from risk.decision import HeldPosition, Intent, Leg, OrderDecision, decide
from risk.models import RiskDecisionRecord
from risk.selectors import engine_flags
from strategies.models import Instrument, Product, Signal, Strategy

from ..models import Order, OrderLeg, OrderStatus, OrderType, Position
from ..tags import position_exit_tag, signal_order_tag
from .book import AccountBook, DecisionRead, StrategyMapping, decision_read
from .intraday import intraday_entries_closed
from .sql import ModelColumns

# Every order decision writes these two rows, in plain SQL (execution/orders/sql.py).
_ORDER_ROW = ModelColumns(Order)
_RISK_DECISION_ROW = ModelColumns(RiskDecisionRecord)

NOTHING_TO_DO, ORDERED, REFUSED = "nothing_to_do", "ordered", "refused"


@dataclass(frozen=True)
class Decided:
    """What one decision wrote: its orders (none when there was nothing to do) and why."""

    orders: list[Order]
    outcome: str  # NOTHING_TO_DO, ORDERED or REFUSED
    reason: str
    earlier: bool = False  # decided by an earlier call: its orders are that call's to place, never this one's


# --- signals ------------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)  # inside a delivery's transaction: no savepoint of its own
def signal_decide(
    *,
    signal: Signal,
    account_id: int,
    market_open: bool,
    locked: Account | None = None,
    read: DecisionRead | None = None,
    position_limit: int | None = None,
) -> Decided:
    """Decide one signal on one account, once: a second call finds the first one's orders.

    ``locked``: the account, already locked by the caller in this transaction, and ``read``, what
    the caller read of it under that lock (a delivery's decision). ``position_limit``: the
    strategy's, when the caller has it for every account of the signal.
    """
    account = locked or locks.lock_account(account_id=account_id)
    read = read or decision_read(account_id=account.id, signal_id=signal.id, strategy_id=signal.strategy_id)
    book = read.book
    if book.has_signal_orders:  # an earlier delivery of the same signal decided it: never a second order
        orders = list(Order.objects.filter(signal_id=signal.id, account_id=account.id).order_by("id"))
        return Decided(orders, _outcome(orders), "already decided", earlier=True)
    strategy, instrument = signal.strategy, signal.instrument
    context = build_risk_context(
        account=account,
        strategy=strategy,
        instrument=instrument,
        market_open=market_open,
        book=book,
        mapping=read.mapping,
        position_limit=position_limit,
    )
    decision = decide(
        intent=Intent(
            target=signal.target,
            reference_price=signal.price,
            stop_price=signal.stop_price,
            lot_size=instrument.lot_size,
            tick_size=instrument.tick_size,
        ),
        position=book.held(strategy_id=strategy.id, instrument_id=instrument.id, product=strategy.product),
        context=context,
    )
    orders = _write_orders(
        decision,
        account=account,
        strategy=strategy,
        instrument=instrument,
        signal=signal,
        product=strategy.product,
        tag_for=lambda leg, _: signal_order_tag(signal_id=signal.id, account_id=account.id, leg=leg.leg),
        reason=f"{signal.get_source_display()} signal: {signal}",
        claim_first=True,
    )
    return Decided(orders, decision.outcome, decision.summary)


def _outcome(orders: list[Order]) -> str:
    if not orders:
        return NOTHING_TO_DO
    return REFUSED if all(o.status == OrderStatus.BLOCKED for o in orders) else ORDERED


# --- exits of a position (square-off, flatten, strategy stop, emergency stop) -------------------


@transaction.atomic
def position_exit_decide(
    *,
    position_id: int,
    reason_code: str,
    reason: str,
    price: Decimal,
    market_open: bool,
    on_date: date,
    operation_id: int | None = None,
) -> Decided:
    """Decide the exit orders that close one position, split to fit the per-order caps.

    ``operation_id``: the operation (emergency stop, flatten, square-off) these exits belong to,
    written on each in the same transaction, so its record never misses one.

    Exits already working on the position count: only what is held minus them is closed, and a
    position being exited in full is nothing to do. Each exit's tag is derived from the position,
    the day, the reason and the attempt, so two runs never make the same order twice.
    """
    position = Position.objects.select_related("strategy", "instrument").get(pk=position_id)
    account = locks.lock_account(account_id=position.account_id)
    read = decision_read(account_id=account.id, strategy_id=position.strategy_id)
    book = read.book
    strategy, instrument = position.strategy, position.instrument
    held = book.held(strategy_id=position.strategy_id, instrument_id=position.instrument_id, product=position.product)
    if not held.filled:
        return Decided([], NOTHING_TO_DO, "already flat")
    context = build_risk_context(
        account=account,
        strategy=strategy,
        instrument=instrument,
        market_open=market_open,
        book=book,
        mapping=read.mapping,
    )
    decision = decide(
        intent=Intent(
            target=0,
            reference_price=price,
            stop_price=None,
            lot_size=instrument.lot_size,
            tick_size=instrument.tick_size,
            split_exits=True,
        ),
        position=held,
        context=context,
    )
    # Earlier attempts today for the same reason (refused, cancelled or done) keep their tags.
    tag_prefix = position_exit_tag(position_id=position.id, on_date=on_date, reason_code=reason_code)[:-2]
    first_attempt = Order.objects.filter(tag__startswith=tag_prefix).count()
    try:
        with transaction.atomic():
            orders = _write_orders(
                decision,
                account=account,
                strategy=strategy,
                instrument=instrument,
                signal=None,
                product=position.product,
                tag_for=lambda _, n: position_exit_tag(
                    position_id=position.id, on_date=on_date, reason_code=reason_code, attempt=first_attempt + n
                ),
                reason=reason[:200],
                claim_first=False,
                operation_id=operation_id,
            )
    except IntegrityError:
        # The tag exists: another run made this very exit. It is that run's to place.
        return Decided([], NOTHING_TO_DO, "an exit for this position is already in flight")
    if not orders:
        return Decided([], NOTHING_TO_DO, "an exit for this position is already in flight")
    return Decided(orders, decision.outcome, decision.summary)


# --- the snapshot risk decides on ----------------------------------------------------------------


_READ_HERE = object()


def build_risk_context(
    *,
    account: Account,
    strategy: Strategy | None,
    instrument: Instrument,
    market_open: bool,
    book: AccountBook | None = None,
    mapping: StrategyMapping | None | object = _READ_HERE,
    position_limit: int | None = None,
) -> RiskContext:
    """The risk snapshot of one decision: the account, its book, its mapping and the engine's flags.

    ``book`` and ``mapping`` (None: not mapped) as the caller read them under the account lock;
    read here if not given. The engine's flags are read here, under the account lock, so an
    emergency stop that has committed its kill switch is seen by every decision after it.
    """
    if book is None or mapping is _READ_HERE:
        read = decision_read(account_id=account.id, strategy_id=strategy.id if strategy else None)
        book = book or read.book
        mapping = read.mapping if mapping is _READ_HERE else mapping
    engine = engine_flags()
    return RiskContext(
        engine_running=engine.running,
        global_kill_switch=engine.kill_switch,
        account_trading_enabled=account.trading_enabled,
        account_halted=account.status == AccountStatus.HALTED,
        account_logged_in=account.is_logged_in and account.status != AccountStatus.NEEDS_LOGIN,
        strategy_trading_enabled=bool(strategy is None or (strategy.active and strategy.trading_enabled)),
        # No mapping: an exit of a position whose mapping was removed; entries need a mapping's capital.
        mapping_enabled=mapping is None or mapping.enabled,
        capital=account.capital,
        allocation_pct=mapping.allocation_pct if mapping else Decimal("0"),
        risk_per_trade_pct=mapping.risk_per_trade_pct if mapping else Decimal("0"),
        daily_pnl=book.daily_pnl,
        daily_loss_limit=account.daily_loss_limit,
        open_exposure=book.exposure(strategy_id=strategy.id if strategy else None),
        open_positions=len(book.open_instruments),
        has_open_position_in_instrument=book.holds(instrument_id=instrument.id),
        max_open_positions=account.max_open_positions,
        max_order_quantity=account.max_order_quantity,
        max_order_value=account.max_order_value,
        market_open=market_open,
        orders_last_second=book.orders_last_second,
        orders_last_minute=book.orders_last_minute,
        intraday_entries_closed=bool(strategy and strategy.product == Product.MIS and intraday_entries_closed()),
        strategy_max_positions=(position_limit or strategy.position_limit()) if strategy else 1,
    )


# --- recording ---------------------------------------------------------------------------------


def _write_orders(
    decision: OrderDecision,
    *,
    account: Account,
    strategy: Strategy | None,
    instrument: Instrument,
    signal: Signal | None,
    product: str,
    tag_for: Callable[[Leg, int], str],
    reason: str,
    claim_first: bool,
    operation_id: int | None = None,
) -> list[Order]:
    """Each leg's decision record and order row. With ``claim_first`` the first approved order is
    written claimed (``placed_at`` set) for the caller that sends it right after commit."""
    orders = []
    for n, leg in enumerate(decision.legs):
        record = risk_decision_record(account=account, strategy=strategy, signal=signal, instrument=instrument, leg=leg)
        order = Order(
            account=account,
            strategy=strategy,
            signal=signal,
            instrument=instrument,
            risk_decision=record,
            leg=OrderLeg.ENTRY if leg.leg == "entry" else OrderLeg.EXIT,
            side=leg.side,
            quantity=leg.quantity,
            product=product,
            order_type=OrderType.MARKET,
            reference_price=leg.proposal.reference_price,
            stop_price=leg.proposal.stop_price if signal is not None else None,
            tag=tag_for(leg, n),
            status=OrderStatus.PENDING if leg.approved else OrderStatus.BLOCKED,
            status_message="" if leg.approved else leg.summary,
            placed_at=timezone.now() if leg.approved and claim_first and not orders else None,
            reason=reason,
            operation_id=operation_id,
        )
        _ORDER_ROW.insert(order)
        orders.append(order)
    return orders


def risk_decision_record(
    *, account: Account, strategy: Strategy | None, signal: Signal | None, instrument: Instrument, leg: Leg
) -> RiskDecisionRecord:
    """Record one leg's pre-trade decision, approved or not, with every check's result and reason."""
    record = RiskDecisionRecord(
        account=account,
        strategy=strategy,
        signal=signal,
        instrument=instrument,
        side=leg.side,
        quantity=leg.quantity,
        reference_price=leg.proposal.reference_price,
        is_exit=leg.proposal.is_exit,
        approved=leg.approved,
        summary=leg.summary,
        checks=[{"name": r.name, "passed": r.passed, "reason": r.reason} for r in leg.checks.results],
        sizing={k: str(v) for k, v in dataclasses.asdict(leg.sizing).items()} if leg.sizing else {},
    )
    _RISK_DECISION_ROW.insert(record)
    return record


__all__ = ["Decided", "HeldPosition", "build_risk_context", "position_exit_decide", "signal_decide"]

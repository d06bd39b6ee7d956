"""Builds the snapshot risk needs for one order. Risk never reads execution's tables itself."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Account, AccountStatus
from risk.checks import OrderProposal, RiskContext
from strategies.models import Instrument, Product, Strategy

from .. import selectors
from .intraday import intraday_entries_closed


def build_risk_context(
    *,
    account: Account,
    strategy: Strategy | None,
    instrument: Instrument,
    market_open: bool,
    book: selectors.AccountBook | None = None,
    inputs: selectors.RiskInputs | None = None,
) -> RiskContext:
    book = book or selectors.account_book(account_id=account.id)
    inputs = inputs or selectors.risk_inputs(account_id=account.id, strategy_id=strategy.id if strategy else None)
    return RiskContext(
        engine_running=inputs.engine_running,
        global_kill_switch=inputs.global_kill_switch,
        account_trading_enabled=account.trading_enabled,
        account_halted=account.status == AccountStatus.HALTED,
        account_logged_in=account.is_logged_in and account.status != AccountStatus.NEEDS_LOGIN,
        strategy_trading_enabled=bool(strategy is None or (strategy.active and strategy.trading_enabled)),
        # No mapping: an exit of a position whose mapping was removed; entries need a mapping's capital.
        mapping_enabled=not inputs.mapping_found or inputs.mapping_enabled,
        capital=account.capital,
        allocation_pct=inputs.allocation_pct,
        risk_per_trade_pct=inputs.risk_per_trade_pct,
        daily_pnl=inputs.realised_today + book.unrealised_pnl,
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
    )


def proposal_for(
    *,
    side: str,
    quantity: int,
    instrument: Instrument,
    reference_price: Decimal,
    stop_price: Decimal | None,
    is_exit: bool,
) -> OrderProposal:
    return OrderProposal(
        side=side,
        quantity=quantity,
        reference_price=reference_price,
        order_type="MARKET",
        stop_price=stop_price,
        is_exit=is_exit,
        lot_size=instrument.lot_size,
        tick_size=instrument.tick_size,
    )

"""Builds the snapshot risk needs for one order. Risk never reads execution's tables itself."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Account, AccountStatus
from risk.checks import OrderProposal, RiskContext
from risk.models import EngineState
from strategies.models import Instrument, Strategy

from .. import selectors
from ..models import AccountStrategy


def build_risk_context(
    *,
    account: Account,
    strategy: Strategy | None,
    mapping: AccountStrategy | None,
    instrument: Instrument,
    market_open: bool,
    book: selectors.AccountBook | None = None,
) -> RiskContext:
    book = book or selectors.account_book(account_id=account.id)
    running, kill_switch = EngineState.objects.filter(pk=EngineState.SINGLETON_ID).values_list(
        "running", "kill_switch"
    ).first() or (False, False)
    return RiskContext(
        engine_running=running,
        global_kill_switch=kill_switch,
        account_trading_enabled=account.trading_enabled,
        account_halted=account.status == AccountStatus.HALTED,
        account_logged_in=account.is_logged_in and account.status != AccountStatus.NEEDS_LOGIN,
        strategy_trading_enabled=bool(strategy is None or (strategy.active and strategy.trading_enabled)),
        mapping_enabled=bool(mapping is None or mapping.enabled),
        capital=account.capital,
        allocation_pct=mapping.allocation_pct if mapping else Decimal("0"),
        risk_per_trade_pct=mapping.risk_per_trade_pct if mapping else Decimal("0"),
        daily_pnl=selectors.realised_pnl_today(account_id=account.id) + book.unrealised_pnl,
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

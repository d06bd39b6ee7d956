"""Fills into the position ledger, and marking positions to market."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from risk.charges import fill_charges
from risk.selectors import charge_rates

from ..brokers import BrokerFill
from ..ledger import LedgerState, apply_fill, unrealised_pnl
from ..models import Fill, Order, OrderStatus, Position
from . import sql
from .sql import ModelColumns, datetime_to_db, decimal_from_db
from .state import order_transition_unsaved

logger = logging.getLogger(__name__)
ZERO = Decimal("0")
_ORDER_ROW = ModelColumns(Order)


@dataclass
class _LockedPosition:
    id: int
    quantity: int
    average_price: Decimal
    realised_pnl: Decimal
    order_filled_before: int  # the order's fills so far: all fills of one order share this lock
    order_value_before: Decimal


def _locked_position(cursor, *, order: Order) -> _LockedPosition:
    """Lock the ledger row a fill of ``order`` changes, creating it on the first fill, with the
    order's fills so far.

    Every fill of one position (postback, reconciliation, paper) queues on this lock, so the
    average price and realised P&L are computed from a state no one else is changing. Only the
    position's row is locked: never its account's or instrument's.
    """
    key = {
        "order_id": order.id,
        "account_id": order.account_id,
        "instrument_id": order.instrument_id,
        "product": order.product,
        "strategy_id": order.strategy_id,
    }
    row = sql.position_for_update(cursor, **key)
    if row is None:
        try:
            with transaction.atomic():
                Position.objects.create(
                    account_id=order.account_id,
                    strategy_id=order.strategy_id,
                    instrument_id=order.instrument_id,
                    product=order.product,
                )
        except IntegrityError:
            pass  # a concurrent first fill created it; the select below waits for its lock
        row = sql.position_for_update(cursor, **key)
    position_id, quantity, average_price, realised_pnl, filled_before, value_before = row
    return _LockedPosition(
        position_id,
        quantity,
        decimal_from_db(average_price, 4),
        decimal_from_db(realised_pnl, 2),
        filled_before or 0,
        decimal_from_db(value_before, 4),
    )


def fill_record(*, order: Order, fill: BrokerFill, also_save: Sequence[str] = ()) -> Fill | None:
    """Record one broker trade against its order and the position ledger, exactly once.

    Postbacks and reconciliation may both report the same trade; the second is a no-op. Returns
    the new Fill, or None if it was known (and then the order is not written: ``also_save``, fields
    the caller changed on ``order`` to be written with the fill's totals in one UPDATE, are the
    caller's to save). The ledger's statements are plain SQL (execution/orders/sql.py).
    """
    # No savepoint of its own when called inside a transaction: nothing here needs a partial rollback.
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            recorded, filled, value = _fill_insert(cursor, order=order, fill=fill)
            if recorded is None:
                return None  # this trade is already in the ledger
        order.filled_quantity = filled
        order.average_price = (value / filled).quantize(Decimal("0.0001")) if filled else None
        if filled >= order.quantity:
            status = OrderStatus.COMPLETE
        elif order.status in (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
            status = OrderStatus.OPEN
        else:
            status = order.status
        # The totals and the status move in one UPDATE of the order, in plain SQL as the rest.
        _, changed = order_transition_unsaved(order=order, status=status)
        fields = dict.fromkeys(["updated_at", *changed, "filled_quantity", "average_price", *also_save])
        _ORDER_ROW.update(order, list(fields))
    return recorded


def _fill_insert(cursor, *, order: Order, fill: BrokerFill) -> tuple[Fill | None, int, Decimal]:
    """Under the position's lock: the fill row and the position it moves, and the order's filled
    quantity and value with this fill; None for the fill if the trade is known."""
    position = _locked_position(cursor, order=order)
    state = LedgerState(position.quantity, position.average_price)
    effect = apply_fill(state, side=order.side, quantity=fill.quantity, price=fill.price)
    # All fills of one order share the position's lock, so the totals cannot move under us. The
    # earlier fills' value is what the brokerage cap per order needs.
    filled_before, value_before = position.order_filled_before, position.order_value_before
    charges = fill_charges_estimate(order=order, fill=fill, order_value_before=value_before)
    now = timezone.now()
    recorded = Fill(
        order=order,
        account_id=order.account_id,
        broker_trade_id=fill.trade_id,
        quantity=fill.quantity,
        price=fill.price,
        realised_pnl=effect.realised_pnl,
        charges=charges,
        charges_estimated=True,
        filled_at=fill.filled_at,
        created_at=now,
    )
    recorded.id = sql.fill_insert(
        cursor,
        values=[
            order.id,
            order.account_id,
            fill.trade_id,
            fill.quantity,
            fill.price,
            effect.realised_pnl,
            charges,
            True,
            datetime_to_db(fill.filled_at),
            datetime_to_db(now),
        ],
    )
    if recorded.id is None:
        return None, 0, ZERO  # the (account, trade id) constraint: this trade is already in the ledger
    # The fill's price is the freshest last price known until the next mark refreshes it.
    sql.position_update(
        cursor,
        values=[
            effect.after.quantity,
            effect.after.average_price,
            position.realised_pnl + effect.realised_pnl,
            fill.price,
            unrealised_pnl(effect.after, fill.price),
            False,
            datetime_to_db(now),
            position.id,
        ],
    )
    return recorded, filled_before + fill.quantity, value_before + fill.price * fill.quantity


def fill_charges_estimate(*, order: Order, fill: BrokerFill, order_value_before: Decimal) -> Decimal:
    """The charges model's figure for one fill (``risk.charges``); 0 where no rates are set for the
    instrument's exchange and the order's product. Kite fills keep it until the broker's is known."""
    rates = charge_rates(exchange=order.instrument.exchange, product=order.product)
    if rates is None:
        return ZERO
    return fill_charges(
        rates=rates, side=order.side, quantity=fill.quantity, price=fill.price, order_value_before=order_value_before
    ).total


def mark_to_market(*, prices: dict[int, Decimal]) -> int:
    """Update last price and unrealised P&L of every open position; ``prices`` by instrument token."""
    now = timezone.now()
    updated = 0
    positions = Position.objects.exclude(quantity=0).select_related("instrument")
    for position in positions:
        last = prices.get(position.instrument.instrument_token)
        if last is None:
            continue
        state = LedgerState(position.quantity, position.average_price)
        Position.objects.filter(pk=position.pk).update(
            last_price=last, unrealised_pnl=unrealised_pnl(state, last), marked_at=now
        )
        updated += 1
    return updated


def mark_open_positions() -> int:
    """Mark every open position to the configured market-data source's last prices."""
    from strategies.models import Instrument
    from strategies.selectors import market_data_source

    instrument_ids = Position.objects.exclude(quantity=0).values_list("instrument_id", flat=True).distinct()
    instruments = list(Instrument.objects.filter(pk__in=list(instrument_ids)))
    if not instruments:
        return 0
    return mark_to_market(prices=market_data_source().ltp(instruments))

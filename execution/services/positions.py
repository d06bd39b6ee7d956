"""Fills into the position ledger, and marking positions to market."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..brokers import BrokerFill
from ..ledger import LedgerState, apply_fill, unrealised_pnl
from ..models import Fill, Order, OrderStatus, Position
from .orders_state import order_transition

logger = logging.getLogger(__name__)


def _locked_position(*, order: Order) -> Position:
    """Lock the ledger row a fill of ``order`` changes, creating it on the first fill.

    Every fill of one position (postback, reconciliation, paper) queues on this lock, so the
    average price and realised P&L are computed from a state no one else is changing.
    """
    key = {
        "account_id": order.account_id,
        "strategy_id": order.strategy_id,
        "instrument_id": order.instrument_id,
        "product": order.product,
    }
    # ``get`` and not ``first``: the model's ordering would join the account and instrument tables,
    # and FOR UPDATE would then lock their rows too, queueing every fill in one instrument.
    try:
        return Position.objects.select_for_update().get(**key)
    except Position.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Position.objects.create(**key)
    except IntegrityError:
        return Position.objects.select_for_update().get(**key)  # a concurrent first fill created it


def fill_record(*, order: Order, fill: BrokerFill, also_save: Sequence[str] = ()) -> Fill | None:
    """Record one broker trade against its order and the position ledger, exactly once.

    Postbacks and reconciliation may both report the same trade; the (account, trade id)
    constraint makes the second a no-op. Returns the new Fill, or None if it was known (and then
    the order is not written: ``also_save``, fields the caller changed on ``order`` to be written with
    the fill's totals in one UPDATE, are the caller's to save).
    """
    # No savepoint of its own when called inside a transaction: nothing here needs a partial rollback.
    with transaction.atomic(savepoint=False):
        position = _locked_position(order=order)
        # Every report of one trade is for one order, so one position: under its lock this check
        # cannot race (the (account, trade id) constraint stays as the last word).
        if Fill.objects.filter(account_id=order.account_id, broker_trade_id=fill.trade_id).exists():
            return None  # this trade is already in the ledger
        effect = apply_fill(
            LedgerState(position.quantity, position.average_price),
            side=order.side,
            quantity=fill.quantity,
            price=fill.price,
        )
        recorded = Fill.objects.create(
            order=order,
            account_id=order.account_id,
            broker_trade_id=fill.trade_id,
            quantity=fill.quantity,
            price=fill.price,
            realised_pnl=effect.realised_pnl,
            filled_at=fill.filled_at,
        )
        position.quantity = effect.after.quantity
        position.average_price = effect.after.average_price
        position.realised_pnl += effect.realised_pnl
        position.last_price = fill.price  # the freshest trade price known; the next mark refreshes it
        position.unrealised_pnl = unrealised_pnl(effect.after, position.last_price)
        position.state_unknown = False
        position.save(
            update_fields=[
                "quantity",
                "average_price",
                "realised_pnl",
                "last_price",
                "unrealised_pnl",
                "state_unknown",
                "updated_at",
            ]
        )

        # All fills of one order share this position's lock, so the totals cannot move under us.
        totals = order.fills.aggregate(qty=Sum("quantity"), value=Sum(F("quantity") * F("price")))
        filled = totals["qty"] or 0
        order.filled_quantity = filled
        order.average_price = (totals["value"] / filled).quantize(Decimal("0.0001")) if filled else None
        if filled >= order.quantity:
            status = OrderStatus.COMPLETE
        elif order.status in (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
            status = OrderStatus.OPEN
        else:
            status = order.status
        # The totals and the status move in one UPDATE of the order.
        order_transition(order=order, status=status, also_save=["filled_quantity", "average_price", *also_save])
    return recorded


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

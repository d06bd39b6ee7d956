"""Signals into orders: every signal, from a strategy, the API or a webhook, enters here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from strategies import services as strategy_services
from strategies.models import Instrument, Signal, SignalSource, Strategy

logger = logging.getLogger(__name__)


def signal_submit(
    *,
    strategy: Strategy,
    instrument: Instrument,
    bar_time: datetime,
    target: int,
    price: Decimal,
    stop_price: Decimal | None,
    source: str = SignalSource.STRATEGY,
    data_source: str = "",
    note: str = "",
) -> tuple[Signal, bool]:
    """Record the signal once and, if it is new, fan it out to every mapped account after commit."""
    with transaction.atomic():
        signal, created = strategy_services.signal_record(
            strategy=strategy,
            instrument=instrument,
            bar_time=bar_time,
            target=target,
            price=price,
            stop_price=stop_price,
            source=source,
            data_source=data_source,
            note=note,
        )
        if created:
            from ..tasks import fan_out_signal

            signal_id = signal.id
            transaction.on_commit(lambda: fan_out_signal.delay(signal_id))
    return signal, created


class ManualSignalError(ValueError):
    """A manual signal refused before it is recorded; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def manual_signal_submit(
    *, strategy: Strategy, instrument: Instrument, target: int, stop_price: Decimal | None = None, note: str = ""
) -> Signal:
    """An operator's signal: priced at the last traded price, stop from the request or none."""
    from strategies.selectors import market_data_source

    if not strategy.instruments.filter(pk=instrument.pk).exists():
        raise ValueError(f"{instrument} is not one of {strategy}'s instruments")
    source = market_data_source()
    price = source.ltp([instrument]).get(instrument.instrument_token)
    if price is None:
        raise ValueError(f"No last price for {instrument}")
    price = Decimal(price)
    if stop_price is not None and target != 0 and (stop_price >= price if target > 0 else stop_price <= price):
        side = "below" if target > 0 else "above"
        raise ManualSignalError(
            "stop_price",
            f"A {'long' if target > 0 else 'short'}'s stop must be {side} the last price of {instrument} "
            f"({price}), got {stop_price}.",
        )
    signal, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=timezone.now(),
        target=target,
        price=price,
        stop_price=stop_price,
        source=SignalSource.MANUAL,
        data_source=source.label,
        note=note,
    )
    return signal


def orders_not_decided(*, signal_id: int, account_ids: Sequence[int], why: str) -> None:
    """Leave a visible trace for each account that got no order for the signal, saying ``why``.

    An order message can end without deciding its accounts' orders: it reached a worker after
    ``SIGNAL_ORDER_TTL_SECONDS`` (a backlog, or a redelivery after a worker died holding it), an
    account waited that long for an order thread, or the worker running it was lost. The risk
    events say so. An account that did get its orders (an earlier delivery) is left alone, and one
    deleted meanwhile is only logged.
    """
    from accounts.models import Account
    from risk.models import RiskEventKind
    from risk.services import risk_event_record

    from ..models import Order

    signal = Signal.objects.select_related("strategy", "instrument").get(pk=signal_id)
    decided = set(
        Order.objects.filter(signal_id=signal_id, account_id__in=account_ids).values_list("account_id", flat=True)
    )
    accounts = Account.objects.in_bulk([a for a in account_ids if a not in decided])
    for account_id in account_ids:
        if account_id in decided:
            continue
        account = accounts.get(account_id)
        if account is None:
            logger.warning("signal %s: account %s got no order and no longer exists", signal_id, account_id)
            continue
        risk_event_record(
            kind=RiskEventKind.ORDER_EXPIRED,
            account=account,
            strategy=signal.strategy,
            message=f"No order on {account} for {signal}: {why}",
        )
        logger.warning("signal %s: no order for account %s: %s", signal_id, account_id, why)


def order_expiry_reason() -> str:
    """Why an account's order expired unsent, in the risk event's words."""
    from django.conf import settings

    return (
        f"its order was not decided within {settings.SIGNAL_ORDER_TTL_SECONDS} s of the signal (the order "
        "message reached a worker late, or waited for a free order thread) and expired unsent."
    )

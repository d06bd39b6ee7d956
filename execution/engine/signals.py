"""Signals into orders: every signal, from a strategy, the API or a webhook, enters here."""

from __future__ import annotations

import logging
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
    caught_up_from: datetime | None = None,
) -> tuple[Signal, bool]:
    """Record the signal once and, if it is new, a pending delivery per mapped account in the same
    transaction; after commit a Celery message nudges them (the sweeper covers a lost one)."""
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
            caught_up_from=caught_up_from,
        )
        if created:
            from .delivery import deliveries_create, deliveries_nudge

            # The deliveries commit with the signal; the message after commit only nudges them.
            deliveries_create(signal=signal)
            signal_id = signal.id
            transaction.on_commit(lambda: deliveries_nudge(signal_id=signal_id))
    return signal, created


class ManualSignalError(ValueError):
    """A manual signal refused before it is recorded; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def manual_signal_submit(
    *,
    strategy: Strategy,
    instrument: Instrument,
    target: int,
    stop_price: Decimal | None = None,
    stop_percent: Decimal | None = None,
    note: str = "",
) -> Signal:
    """An operator's signal: priced at the last traded price, stop from the request (or its rule) or none."""
    signal, _ = external_signal_submit(
        strategy=strategy,
        instrument=instrument,
        target=target,
        stop_price=stop_price,
        stop_percent=stop_percent,
        source=SignalSource.MANUAL,
        bar_time=timezone.now(),
        note=note,
    )
    return signal


def external_signal_submit(
    *,
    strategy: Strategy,
    instrument: Instrument,
    target: int,
    source: str,
    bar_time: datetime,
    stop_price: Decimal | None = None,
    stop_percent: Decimal | None = None,
    note: str = "",
) -> tuple[Signal, bool]:
    """A signal from outside the strategy's code (an operator, an alert), through ``signal_submit``.

    Priced at the instrument's last traded price. The stop is given (``stop_price``) or follows a
    rule (``stop_percent``: that far from the price, on the losing side, rounded to the tick away
    from the price); an entry's stop must lie on its losing side. Returns (signal, created) as
    ``signal_submit`` does: one signal per (strategy, instrument, bar_time).
    """
    from strategies.selectors import market_data_source

    if not strategy.instruments.filter(pk=instrument.pk).exists():
        raise ManualSignalError("instrument", f"{instrument} is not one of the instruments strategy {strategy} trades.")
    source_data = market_data_source()
    price = source_data.ltp([instrument]).get(instrument.instrument_token)
    if price is None:
        raise ManualSignalError("instrument", f"No last price for {instrument}")
    price = Decimal(price)
    if target != 0 and stop_percent is not None:
        stop_price = _stop_from_percent(price=price, percent=stop_percent, target=target, tick=instrument.tick_size)
    if target == 0:
        stop_price = None  # an exit has no stop of its own
    if stop_price is not None and (stop_price >= price if target > 0 else stop_price <= price):
        side = "below" if target > 0 else "above"
        raise ManualSignalError(
            "stop_price",
            f"A {'long' if target > 0 else 'short'}'s stop must be {side} the last price of {instrument} "
            f"({price}), got {stop_price}.",
        )
    return signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=bar_time,
        target=target,
        price=price,
        stop_price=stop_price,
        source=source,
        data_source=source_data.label,
        note=note,
    )


def _stop_from_percent(*, price: Decimal, percent: Decimal, target: int, tick: Decimal) -> Decimal:
    from decimal import ROUND_CEILING, ROUND_FLOOR

    level = price * (1 - percent / 100) if target > 0 else price * (1 + percent / 100)
    rounding = ROUND_FLOOR if target > 0 else ROUND_CEILING
    return (level / tick).to_integral_value(rounding=rounding) * tick

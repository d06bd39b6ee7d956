"""Deliveries: the database, not the broker, holds what must happen to a signal on each account.

1. ``deliveries_create`` writes one pending row per mapped account in the signal's transaction.
2. After commit, ``deliveries_nudge`` sends a Celery message (``fan_out_signal``). Messages only
   nudge: one that is lost (Redis restarted, a worker killed) loses nothing, and a failure to send
   one is logged and left to the sweeper.
3. ``delivery_decide`` decides a delivery exactly once, under the account lock: it ends ordered,
   refused or nothing to do, with the decision's reason, or expired if it is past the signal's
   TTL. A second call (a redelivered message, the sweeper's nudge) finds it decided and does nothing.
4. ``deliveries_sweep`` runs on beat every few seconds: it sends every delivery still pending after
   ``DELIVERY_GRACE_SECONDS`` to a worker again, until the signal's TTL
   (``SIGNAL_ORDER_TTL_SECONDS``), then expires it with its reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import locks
from strategies.models import Signal

from ..models import AccountStrategy, Delivery, DeliveryState, Order
from ..orders import sql
from ..orders.book import DeliveryRow, decision_read
from ..orders.decision import NOTHING_TO_DO, Decided, signal_decide

logger = logging.getLogger(__name__)


def signal_deadline(signal: Signal) -> datetime:
    """Past this, a signal's deliveries are no longer decided: they expire unsent."""
    return signal.created_at + timedelta(seconds=settings.SIGNAL_ORDER_TTL_SECONDS)


def expiry_reason() -> str:
    return (
        f"Expired unsent: not decided within {settings.SIGNAL_ORDER_TTL_SECONDS} s of the signal (no worker "
        "took its order message in time: Redis or the workers were down, or the queue was backed up)."
    )


def deliveries_create(*, signal: Signal) -> int:
    """One pending delivery per enabled mapping of the signal's strategy; call in the signal's
    transaction. Safe to repeat: existing rows are kept."""
    account_ids = AccountStrategy.objects.filter(strategy_id=signal.strategy_id, enabled=True).values_list(
        "account_id", flat=True
    )
    rows = [Delivery(signal_id=signal.id, account_id=account_id) for account_id in account_ids]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def deliveries_nudge(*, signal_id: int) -> bool:
    """Ask a worker to decide the signal's pending deliveries. Never raises: with Redis down the
    deliveries stay pending and the sweeper sends them once it can."""
    from ..tasks import fan_out_signal

    try:
        fan_out_signal.delay(signal_id)
    except Exception:
        logger.exception("signal %s: could not send its order message; the delivery sweeper will", signal_id)
        return False
    return True


def pending_account_ids(*, signal_id: int) -> list[int]:
    return list(
        Delivery.objects.filter(signal_id=signal_id, state=DeliveryState.PENDING)
        .order_by("account_id")
        .values_list("account_id", flat=True)
    )


@transaction.atomic
def delivery_decide(
    *,
    signal: Signal,
    account_id: int,
    market_open: bool,
    now: datetime | None = None,
    position_limit: int | None = None,
) -> Decided:
    """Decide one (signal, account) exactly once, under the account lock.

    Returns the decision; ``earlier`` is set when it had already been decided (or had expired), so
    the caller places nothing. The delivery is read with the account's book, in the same two
    statements (``book.decision_read``); no row lock of its own: every writer of a delivery's state
    (this, the sweeper's expiry) holds its account's lock first, so they cannot interleave.
    """
    account = locks.lock_account(account_id=account_id)
    now = now or timezone.now()
    read = decision_read(account_id=account_id, signal_id=signal.id, strategy_id=signal.strategy_id, now=now)
    delivery = read.delivery
    if delivery is None:
        # A signal recorded without deliveries (sent straight to an account, or mapped since):
        # written now, under the account lock, so two deciders cannot both create it.
        delivery = DeliveryRow(
            *sql.delivery_insert(signal_id=signal.id, account_id=account_id, state=DeliveryState.PENDING, now=now)
        )
    if delivery.state != DeliveryState.PENDING:
        orders = list(Order.objects.filter(signal_id=signal.id, account_id=account_id).order_by("id"))
        return Decided(orders, delivery.state, delivery.reason, earlier=True)
    if now > signal_deadline(signal):
        expired = Delivery.objects.select_related("signal__strategy", "account").get(pk=delivery.id)
        _expire(expired, now=now)
        return Decided([], DeliveryState.EXPIRED, expired.reason, earlier=True)
    decided = signal_decide(
        signal=signal,
        account_id=account_id,
        market_open=market_open,
        locked=account,
        read=read,
        position_limit=position_limit,
    )
    sql.delivery_decided(
        delivery_id=delivery.id, state=decided.outcome, reason=decided.reason, now=now, pending=DeliveryState.PENDING
    )
    return decided


def _expire(delivery: Delivery, *, now: datetime) -> None:
    from risk.models import RiskEventKind
    from risk.services import risk_event_record

    delivery.state = DeliveryState.EXPIRED
    delivery.reason = expiry_reason()
    delivery.decided_at = now
    delivery.save(update_fields=["state", "reason", "decided_at"])
    signal = delivery.signal
    risk_event_record(
        kind=RiskEventKind.ORDER_EXPIRED,
        account=delivery.account,
        strategy=signal.strategy,
        message=f"No order on {delivery.account} for {signal}: {delivery.reason}",
    )
    logger.warning("signal %s on account %s: %s", signal.id, delivery.account_id, delivery.reason)


# --- the sweeper --------------------------------------------------------------------------------


@dataclass
class Sweep:
    redriven: dict[int, list[int]] = field(default_factory=dict)  # signal id -> accounts sent again
    expired: list[tuple[int, int]] = field(default_factory=list)  # (signal, account)
    not_sent: list[int] = field(default_factory=list)  # signals whose message could not be sent


def deliveries_sweep(*, now: datetime | None = None) -> Sweep:
    """Expire what is past its signal's TTL, then send again what is pending past the grace."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.DELIVERY_GRACE_SECONDS)
    ttl = timedelta(seconds=settings.SIGNAL_ORDER_TTL_SECONDS)
    sweep = Sweep()
    pending = Delivery.objects.filter(state=DeliveryState.PENDING)
    for delivery_id, account_id in (
        pending.filter(signal__created_at__lt=now - ttl).order_by("account_id", "id").values_list("id", "account_id")
    ):
        if _expire_if_pending(delivery_id=delivery_id, account_id=account_id, now=now):
            sweep.expired.append((delivery_id, account_id))
    due = pending.filter(created_at__lte=now - grace, signal__created_at__gte=now - ttl).exclude(
        nudged_at__gt=now - grace
    )
    by_signal: dict[int, list[int]] = defaultdict(list)
    for signal_id, account_id in due.order_by("signal_id", "account_id").values_list("signal_id", "account_id"):
        by_signal[signal_id].append(account_id)
    for signal_id, account_ids in by_signal.items():
        if _send(signal_id=signal_id, account_ids=account_ids):
            Delivery.objects.filter(
                signal_id=signal_id, account_id__in=account_ids, state=DeliveryState.PENDING
            ).update(nudged_at=now)
            sweep.redriven[signal_id] = account_ids
        else:
            sweep.not_sent.append(signal_id)
    if sweep.redriven or sweep.expired:
        logger.info(
            "delivery sweep: sent again %s, expired %s",
            {s: len(a) for s, a in sweep.redriven.items()},
            len(sweep.expired),
        )
    return sweep


@transaction.atomic
def _expire_if_pending(*, delivery_id: int, account_id: int, now: datetime) -> bool:
    # The account lock first, as a decision takes it: the two never decide the same delivery.
    locks.lock_account(account_id=account_id)
    delivery = Delivery.objects.select_related("signal__strategy", "signal__instrument", "account").get(pk=delivery_id)
    if delivery.state != DeliveryState.PENDING:
        return False
    _expire(delivery, now=now)
    return True


def _send(*, signal_id: int, account_ids: Iterable[int]) -> bool:
    from ..tasks import execute_signal_for_accounts

    account_ids = list(account_ids)
    expires = Signal.objects.values_list("created_at", flat=True).get(pk=signal_id) + timedelta(
        seconds=settings.SIGNAL_ORDER_TTL_SECONDS
    )
    try:
        for start in range(0, len(account_ids), settings.ORDER_FANOUT_BATCH):
            batch = account_ids[start : start + settings.ORDER_FANOUT_BATCH]
            execute_signal_for_accounts.apply_async((signal_id, batch), expires=expires)
    except Exception:
        logger.exception("delivery sweep: could not send signal %s's order messages", signal_id)
        return False
    return True


__all__ = [
    "NOTHING_TO_DO",
    "Sweep",
    "deliveries_create",
    "deliveries_nudge",
    "deliveries_sweep",
    "delivery_decide",
    "expiry_reason",
    "pending_account_ids",
    "signal_deadline",
]

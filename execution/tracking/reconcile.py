"""Bringing the system's orders, fills and positions in line with what the broker reports.

Every read from the broker happens first, outside any transaction; then each order is updated
under its row lock. Fills are recorded only from the broker's trades (trade ids), whichever path
saw them first, so a fill seen by a postback follow-up and by reconciliation counts once.

An UNKNOWN order (its placement timed out or failed mid-way) is resolved only by finding its tag
in the order book. It is declared "not found at broker" only after ``KITE_UNKNOWN_MIN_CHECKS``
lookups spanning at least ``KITE_UNKNOWN_GRACE_SECONDS``, because a just-placed order can take a
moment to appear. It is never sent a second time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Account, AccountStatus
from accounts.models import Broker as BrokerKind

from ..brokers import (
    BrokerError,
    BrokerFill,
    BrokerHolding,
    BrokerOrder,
    BrokerPosition,
    SessionExpired,
    broker_for,
)
from ..models import FINAL_STATUSES, Order, OrderStatus, Position, PositionMismatch
from ..orders.fills import fill_record
from ..orders.sessions import account_session_lost
from ..orders.state import order_transition

logger = logging.getLogger(__name__)

# Outcomes of one resolution attempt, for the task to decide whether to try again.
RESOLVED, NOT_FOUND, RETRY, WAITING_FOR_LOGIN = "resolved", "not found", "retry", "waiting for login"
# A PENDING order claimed this long ago without an answer recorded: the worker died mid-call.
STALE_CLAIM = timedelta(minutes=2)
# Delivery: a CNC buy is a position on its day and a holding from the next trading day.
DELIVERY = "CNC"
# A holding is shares in the demat account, not on an exchange: Kite may list one bought on NSE under BSE.
EQUITY_EXCHANGES = {"NSE": "BSE", "BSE": "NSE"}


def account_can_be_read(account: Account) -> bool:
    return account.status != AccountStatus.NEEDS_LOGIN and account.is_logged_in


def order_resolve_unknown(*, order_id: int) -> str:
    """Look for one UNKNOWN order in its broker's order book by tag and record what is found.

    Returns RESOLVED, NOT_FOUND (declared not placed), RETRY (look again later) or
    WAITING_FOR_LOGIN (the account's session is gone; it stays UNKNOWN, visibly, until a login).
    """
    order = Order.objects.select_related("account").filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.UNKNOWN:
        return RESOLVED
    return _sync_from_book(order=order, not_found=order_not_found)


def order_confirm(*, order_id: int) -> str:
    """Record what the broker's order book says about one order (a postback's final status is only
    a claim until the book confirms it). Returns RESOLVED, RETRY or WAITING_FOR_LOGIN."""
    order = Order.objects.select_related("account").filter(pk=order_id).first()
    if order is None or order.is_final:
        return RESOLVED
    return _sync_from_book(order=order, not_found=lambda *, order: RETRY)


def _sync_from_book(*, order: Order, not_found) -> str:
    """Find ``order`` in its broker's book by tag and record it; ``not_found(order=...)`` otherwise."""
    account = order.account
    if not account_can_be_read(account):
        return WAITING_FOR_LOGIN
    broker = broker_for(account)
    try:
        found = broker.find_order_by_tag(order.tag)
        fills = broker.order_trades(found.order_id) if found is not None and found.filled_quantity else []
    except SessionExpired as exc:
        account_session_lost(account=account, reason=str(exc))
        return WAITING_FOR_LOGIN
    except BrokerError as exc:
        logger.info("order %s: order book not readable (%s); will look again", order.tag, exc)
        return RETRY
    if found is not None:
        order_sync(order=order, broker_order=found, fills=fills)
        return RESOLVED
    return not_found(order=order)


def order_sync(*, order: Order, broker_order: BrokerOrder, fills: list[BrokerFill]) -> Order:
    """Record the broker's view of one order: its fills first, then its status and id."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        was = order.status
        for fill in fills:
            fill_record(order=order, fill=fill)
        order.refresh_from_db()
        message = broker_order.status_message or None
        if was in (OrderStatus.UNKNOWN, OrderStatus.PENDING) and not message:
            message = f"Found in the broker's order book by tag {order.tag}."
        order_transition(
            order=order, status=broker_order.status, message=message, broker_order_id=broker_order.order_id
        )
    return order


def order_not_found(*, order: Order) -> str:
    """One more lookup that did not find the order; after enough of them, it was never placed."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.UNKNOWN:
            return RESOLVED  # a postback or another lookup got there first
        order.unknown_checks += 1
        order.save(update_fields=["unknown_checks", "updated_at"])
        waited = timezone.now() - (order.placed_at or order.created_at)
        grace = timedelta(seconds=settings.KITE_UNKNOWN_GRACE_SECONDS)
        if order.unknown_checks < settings.KITE_UNKNOWN_MIN_CHECKS or waited < grace:
            return RETRY
        order_transition(
            order=order,
            status=OrderStatus.REJECTED,
            message=(
                f"Not found at broker: no order tagged {order.tag} in the order book after "
                f"{order.unknown_checks} checks over {int(waited.total_seconds())} s, so it was never placed. "
                "It was not sent again."
            ),
        )
    return NOT_FOUND


def order_fetch_fills(*, order_id: int) -> int:
    """After a postback says an order filled: fetch its trades and record them (once each)."""
    order = Order.objects.select_related("account").get(pk=order_id)
    if not order.broker_order_id or not account_can_be_read(order.account):
        return 0
    try:
        fills = broker_for(order.account).order_trades(order.broker_order_id)
    except SessionExpired as exc:
        account_session_lost(account=order.account, reason=str(exc))
        return 0
    recorded = 0
    with transaction.atomic():
        for fill in fills:
            recorded += fill_record(order=order, fill=fill) is not None
    return recorded


# --- the periodic reconciliation ------------------------------------------------------------------


@dataclass
class ReconcileReport:
    account_id: int
    skipped: str = ""
    orders_updated: int = 0
    fills_recorded: int = 0
    not_found: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def reconcile_targets() -> list[int]:
    """Kite accounts whose session is believed valid: the only ones whose books can be read."""
    accounts = Account.objects.filter(broker=BrokerKind.KITE).exclude(status=AccountStatus.NEEDS_LOGIN)
    return [a.id for a in accounts if a.is_logged_in]


def reconcile_account(*, account_id: int) -> ReconcileReport:
    """Orders, trades and positions of one account against its broker. Read errors other than an
    expired session propagate (the task retries); nothing is written before every read succeeded."""
    report = ReconcileReport(account_id)
    account = Account.objects.get(pk=account_id)
    if not account_can_be_read(account):
        report.skipped = "needs login"
        return report
    broker = broker_for(account)
    try:
        book = broker.orders()
        trades = broker.trades()
        positions = broker.positions()
        holdings = broker.holdings()
    except SessionExpired as exc:
        account_session_lost(account=account, reason=str(exc))
        report.skipped = "session expired"
        return report

    fills_by_order: dict[str, list[BrokerFill]] = defaultdict(list)
    for fill in trades:
        fills_by_order[fill.order_id].append(fill)
    tagged = {b.tag: b for b in book if b.tag}
    ours = Order.objects.filter(account=account).filter(
        Q(tag__in=list(tagged)) | Q(broker_order_id__in=[b.order_id for b in book])
    )
    for order in ours:
        entry = tagged.get(order.tag) or next((b for b in book if b.order_id == order.broker_order_id), None)
        if entry is None:
            continue
        known = {f.broker_trade_id for f in order.fills.all()}
        new_fills = [f for f in fills_by_order.get(entry.order_id, []) if f.trade_id not in known]
        if not new_fills and order.status in FINAL_STATUSES:
            continue
        before = (order.status, order.filled_quantity)
        order = order_sync(order=order, broker_order=entry, fills=new_fills)
        report.fills_recorded += len(new_fills)
        report.orders_updated += (order.status, order.filled_quantity) != before

    _stale_claims_to_unknown(account=account, book_tags=set(tagged))
    for order in Order.objects.filter(account=account, status=OrderStatus.UNKNOWN).exclude(tag__in=list(tagged)):
        if order_not_found(order=order) == NOT_FOUND:
            report.not_found.append(order.tag)

    report.mismatches = positions_compare(account=account, broker_positions=positions, broker_holdings=holdings)
    Position.objects.filter(account=account, state_unknown=True).update(state_unknown=False)
    return report


def _stale_claims_to_unknown(*, account: Account, book_tags: set[str]) -> None:
    """A PENDING order claimed long ago with no answer recorded: its worker died mid-call."""
    stale = Order.objects.filter(
        account=account,
        status=OrderStatus.PENDING,
        placed_at__lt=timezone.now() - STALE_CLAIM,
    ).exclude(tag__in=list(book_tags))
    for order in stale:
        order_transition(
            order=order,
            status=OrderStatus.UNKNOWN,
            message="The worker stopped while placing this order; looking for it in the order book by tag.",
        )


def positions_compare(
    *, account: Account, broker_positions: list[BrokerPosition], broker_holdings: Sequence[BrokerHolding] = ()
) -> list[str]:
    """Flag every instrument/product where the ledger and the broker's quantity differ.

    The ledger is the sum over strategies; the broker knows only the account's net. MIS and NRML
    compare with the net position. CNC compares with the holding's ``opening_quantity`` (delivered
    and T1 shares the day opened with) plus the day's net CNC position (today's buys less today's
    sells, a sale out of the holding included), for the instruments the system holds or trades on
    the account; the owner's own holdings in other instruments are not the system's to flag. A
    difference opens (or refreshes) a PositionMismatch; agreement closes it. Nothing is overwritten.
    """
    from strategies.models import Instrument

    now = timezone.now()
    ledger: dict[tuple[str, str, str], int] = {}
    instrument_ids: dict[tuple[str, str, str], int] = {}
    rows = (
        Position.objects.filter(account=account)
        .values("instrument_id", "instrument__exchange", "instrument__tradingsymbol", "product")
        .annotate(quantity=Sum("quantity"))
    )
    for row in rows:
        key = (row["instrument__exchange"], row["instrument__tradingsymbol"], row["product"])
        ledger[key] = ledger.get(key, 0) + row["quantity"]
        instrument_ids[key] = row["instrument_id"]
    broker: dict[tuple[str, str, str], int] = {}
    for position in broker_positions:
        key = (position.exchange, position.tradingsymbol, position.product)
        broker[key] = broker.get(key, 0) + position.quantity

    flagged = []
    with transaction.atomic():
        open_rows = {
            (m.exchange, m.tradingsymbol, m.product): m
            for m in PositionMismatch.objects.select_for_update().filter(account=account, resolved_at__isnull=True)
        }
        delivery_keys = {key for key in set(ledger) | set(broker) | set(open_rows) if key[2] == DELIVERY}
        for holding in broker_holdings:
            key = _holding_key(holding, delivery_keys)
            if key is not None:
                broker[key] = broker.get(key, 0) + holding.opening_quantity
        for key in set(ledger) | set(broker) | set(open_rows):
            ours, theirs = ledger.get(key, 0), broker.get(key, 0)
            mismatch = open_rows.get(key)
            if ours == theirs:
                if mismatch is not None:
                    mismatch.resolved_at = now
                    mismatch.save(update_fields=["resolved_at"])
                continue
            flagged.append(f"{key[0]}:{key[1]} {key[2]}: ledger {ours:+d}, broker {theirs:+d}")
            if mismatch is None:
                instrument_id = instrument_ids.get(key)
                if instrument_id is None:
                    instrument = Instrument.objects.filter(exchange=key[0], tradingsymbol=key[1]).first()
                    instrument_id = instrument.id if instrument else None
                PositionMismatch.objects.create(
                    account=account,
                    instrument_id=instrument_id,
                    exchange=key[0],
                    tradingsymbol=key[1],
                    product=key[2],
                    ledger_quantity=ours,
                    broker_quantity=theirs,
                    first_seen_at=now,
                    last_seen_at=now,
                )
            else:
                mismatch.ledger_quantity, mismatch.broker_quantity = ours, theirs
                mismatch.last_seen_at = now
                mismatch.times_seen += 1
                mismatch.save(update_fields=["ledger_quantity", "broker_quantity", "last_seen_at", "times_seen"])
    if flagged:
        logger.warning("account %s: ledger and broker positions differ: %s", account.pk, "; ".join(flagged))
    return flagged


def _holding_key(holding: BrokerHolding, delivery_keys: set[tuple[str, str, str]]) -> tuple[str, str, str] | None:
    """The ledger's CNC key a holding counts for: its own exchange, or the other equity exchange
    with the same symbol; None when the system neither holds nor trades it (the owner's own)."""
    for exchange in (holding.exchange, EQUITY_EXCHANGES.get(holding.exchange)):
        key = (exchange, holding.tradingsymbol, DELIVERY)
        if exchange is not None and key in delivery_keys:
            return key
    return None

"""The order state machine: every status change goes through ``order_transition``."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..models import ORDER_TRANSITIONS, Order

logger = logging.getLogger(__name__)


def order_transition(
    *,
    order: Order,
    status: str,
    message: str | None = None,
    broker_order_id: str | None = None,
    also_save: Sequence[str] = (),
) -> bool:
    """Move an order to ``status`` if the state machine allows it; returns whether it moved.

    A stale or out-of-order update (an OPEN postback after COMPLETE) is ignored, not applied.
    ``also_save`` names other fields the caller changed on ``order``, written in the same UPDATE.
    """
    moved, changed = order_transition_unsaved(
        order=order, status=status, message=message, broker_order_id=broker_order_id
    )
    fields = [*changed, *also_save]
    if fields:
        order.save(update_fields=["updated_at", *fields])
    return moved


def order_transition_unsaved(
    *, order: Order, status: str, message: str | None = None, broker_order_id: str | None = None
) -> tuple[bool, list[str]]:
    """``order_transition`` on the object only: returns whether it moved and the fields to save.

    For a caller that writes more of the order in the same UPDATE (the broker's answer and its fills).
    """
    fields = []
    if broker_order_id and order.broker_order_id != broker_order_id:
        order.broker_order_id = broker_order_id
        fields.append("broker_order_id")
    if message is not None and message != order.status_message:
        order.status_message = message[:2000]
        fields.append("status_message")
    moved = False
    if status != order.status:
        if status in ORDER_TRANSITIONS.get(order.status, frozenset()):
            order.status = status
            fields.append("status")
            moved = True
        else:
            logger.info("order %s: ignored transition %s -> %s", order.tag, order.status, status)
    return moved, fields

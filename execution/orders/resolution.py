"""An order whose outcome is unknown (a timeout, a 5xx, a reset while placing) is never sent again:
it is looked for by its tag in the broker's order book later, with backoff, until it is found or
declared not placed (``execution.tracking.reconcile.order_resolve_unknown``, run by a task)."""

from __future__ import annotations

from django.db import transaction

RESOLVE_DELAYS = (1, 2, 4, 8, 15, 15, 15, 30)
RESOLVE_MAX_ATTEMPTS = 40


def order_resolution_schedule(*, order_id: int, attempt: int = 0) -> None:
    """Look for an UNKNOWN order in the book later (after the current transaction commits)."""
    from ..tasks import resolve_unknown_order

    delay = RESOLVE_DELAYS[min(attempt, len(RESOLVE_DELAYS) - 1)]
    transaction.on_commit(lambda: resolve_unknown_order.apply_async((order_id,), countdown=delay))

"""Starting the engine: the switch, then the bars it missed.

A strategy on a long timeframe would otherwise wait for its next bar close after Start (a 1h
strategy up to an hour); the latest closed bar of each timeframe is evaluated at once instead, by
a task after the switch commits (execution/engine/bar.py: ``run_latest_bars``).
"""

from __future__ import annotations

import logging

from django.db import transaction

from risk import services as risk_services
from risk.models import EngineState

logger = logging.getLogger(__name__)


def engine_start(*, actor=None, reason: str = "") -> EngineState:
    """Start the engine (refused with PermissionError while the kill switch is on) and, once that
    commits, ask a worker to evaluate each timeframe's latest closed bar."""
    with transaction.atomic():
        state = risk_services.engine_start(actor=actor, reason=reason)
        transaction.on_commit(latest_bars_nudge)
    return state


def latest_bars_nudge() -> bool:
    """Never raises: with Redis down the strategies wait for their next bar close, as before."""
    from ..tasks import evaluate_latest_bars

    try:
        evaluate_latest_bars.delay()
    except Exception:
        logger.exception("could not ask for the latest bars after Start; strategies wait for their next bar close")
        return False
    return True

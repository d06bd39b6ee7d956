"""The emergency stop that waits (the ``emergency_stop`` command) and the kill-switch reset.

The API and the dashboard start the emergency stop as a task and answer at once
(``runs.emergency_stop_start``); the command wants the result, so it runs the same operation itself
(``runs.emergency_stop_begin`` + ``runs.operation_run``: the same ``Operation`` row, the same
cancels and exits through the one decision service) and waits, hearing each step. Each records who
did it and when in the risk audit log, and each is safe to call twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from risk import services as risk_services
from risk.models import EngineState

from ..engine.schedules import set_trading_schedules_enabled
from ..models import Operation
from .runs import emergency_stop_begin, operation_run
from .squareoff import FlattenReport


@dataclass
class EmergencyStopReport:
    operation: Operation
    stopped_at: datetime
    actor: str
    reason: str
    was_already_active: bool
    schedules_disabled: int
    flatten: FlattenReport = field(repr=False)

    @property
    def summary(self) -> str:
        return (
            f"Emergency stop by {self.actor}: kill switch on, engine stopped, "
            f"{self.schedules_disabled} trading schedule(s) disabled; {self.flatten.summary}"
        )


def _actor_name(actor) -> str:
    return str(actor) if actor is not None and getattr(actor, "is_authenticated", True) else "the system"


def _actor_or_none(actor):
    # An anonymous user (or none) is recorded as no actor: the event still says when.
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def emergency_stop(
    *, actor=None, reason: str, origin: str = "a script", progress: Callable[[str], None] | None = None
) -> EmergencyStopReport:
    """Stop everything now and bring every account flat, waiting for it.

    In this order: the global kill switch trips and the engine stops (one commit: from then on no
    new entry passes the risk checks); the beat schedules that evaluate strategies are disabled;
    then, as the emergency stop's operation run here: every open order on every account is
    cancelled; every position the system holds on every account gets a MARKET exit (exits pass the
    sanity checks only). Who and when is recorded.

    Calling it again is harmless: it records the call, finds the flat positions flat and the
    in-flight exits in flight, and retries only exits that were refused.
    """
    begun = emergency_stop_begin(actor=actor, reason=reason or "Emergency stop", origin=origin, waits=True)
    operation = begun.operation
    if progress is not None:
        progress(f"Emergency stop #{operation.id}: {operation.started}")
    run = operation_run(operation_id=operation.id, progress=progress)
    if run.report is None:  # it failed: the operation's summary says why
        raise RuntimeError(run.operation.summary)
    return EmergencyStopReport(
        operation=run.operation,
        stopped_at=operation.created_at,
        actor=_actor_name(_actor_or_none(actor)),
        reason=operation.reason,
        was_already_active=begun.was_already_active,
        schedules_disabled=begun.schedules_disabled,
        flatten=run.report,
    )


def kill_switch_reset(*, actor=None, reason: str) -> EngineState:
    """Re-arm after an emergency stop: the kill switch goes off and the trading schedules come back.

    The engine stays stopped: trading resumes only when an operator starts it.
    """
    reason = (reason or "").strip() or "Kill switch reset"
    state = risk_services.kill_switch_clear(actor=_actor_or_none(actor), reason=reason)
    set_trading_schedules_enabled(enabled=True)
    return state

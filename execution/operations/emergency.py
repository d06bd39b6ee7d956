"""Emergency stop, kill-switch reset, strategy stop and account flatten: the operator's big buttons.

The ``emergency_stop`` command calls ``emergency_stop`` here and waits for it; the API and the
dashboard start the same stop as a task (``execution.operations.runs``) and answer at once. Each
records who did it and when in the risk audit log, and each is safe to call twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from risk import services as risk_services
from risk.models import EngineState, RiskEventKind

from ..engine.schedules import set_trading_schedules_enabled
from .squareoff import (
    REASON_EMERGENCY,
    FlattenReport,
    flatten,
)


@dataclass
class EmergencyStopReport:
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


def emergency_stop(*, actor=None, reason: str) -> EmergencyStopReport:
    """Stop everything now and bring every account flat.

    In this order: the global kill switch trips and the engine stops (one commit: from then on no
    new entry passes the risk checks); the beat schedules that evaluate strategies are disabled;
    every open order on every account is cancelled; every position the system holds on every
    account gets a MARKET exit (exits pass the sanity checks only). Who and when is recorded.

    Calling it again is harmless: it records the call, finds the flat positions flat and the
    in-flight exits in flight, and retries only exits that were refused.
    """
    reason = (reason or "").strip() or "Emergency stop"
    actor = _actor_or_none(actor)
    event, was_already_active = risk_services.kill_switch_trip(actor=actor, reason=reason)
    disabled = set_trading_schedules_enabled(enabled=False)
    report = flatten(scope={}, reason_code=REASON_EMERGENCY, reason=f"Emergency stop: {reason}")
    risk_services.risk_event_record(kind=RiskEventKind.SQUARE_OFF, actor=actor, message=report.summary)
    return EmergencyStopReport(
        stopped_at=event.created_at,
        actor=_actor_name(actor),
        reason=reason,
        was_already_active=was_already_active,
        schedules_disabled=disabled,
        flatten=report,
    )


def kill_switch_reset(*, actor=None, reason: str) -> EngineState:
    """Re-arm after an emergency stop: the kill switch goes off and the trading schedules come back.

    The engine stays stopped: trading resumes only when an operator starts it.
    """
    reason = (reason or "").strip() or "Kill switch reset"
    state = risk_services.kill_switch_clear(actor=_actor_or_none(actor), reason=reason)
    set_trading_schedules_enabled(enabled=True)
    return state

"""Reads of the engine's safety state."""

from .models import EngineState, RiskDecisionRecord, RiskEvent


def engine_state() -> EngineState:
    state, _ = EngineState.objects.get_or_create(pk=EngineState.SINGLETON_ID)
    return state


def engine_is_running() -> bool:
    state = EngineState.objects.filter(pk=EngineState.SINGLETON_ID).values("running", "kill_switch").first()
    return bool(state and state["running"] and not state["kill_switch"])


def risk_decisions(*, account_id: int | None = None, on_date=None):
    qs = RiskDecisionRecord.objects.select_related("account", "instrument", "strategy")
    if account_id:
        qs = qs.filter(account_id=account_id)
    if on_date:
        qs = qs.filter(created_at__date=on_date)
    return qs


def recent_risk_events(*, limit: int = 20):
    return RiskEvent.objects.select_related("account", "strategy", "actor")[:limit]

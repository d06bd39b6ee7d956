"""Writes to the engine's safety state: start, stop, kill switches, halts. Each leaves an event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountStatus

from .models import EngineState, RiskEvent, RiskEventKind


def _locked_engine_state() -> EngineState:
    EngineState.objects.get_or_create(pk=EngineState.SINGLETON_ID)
    return EngineState.objects.select_for_update().get(pk=EngineState.SINGLETON_ID)


@transaction.atomic
def engine_start(*, actor=None, reason: str = "") -> EngineState:
    """Start the engine. Refused while the global kill switch (emergency stop) is on."""
    state = _locked_engine_state()
    if state.kill_switch:
        raise PermissionError("The emergency stop is active. Reset the kill switch before starting the engine again.")
    if not state.running:
        state.running, state.reason, state.changed_by = True, reason or "started", actor
        state.save()
        RiskEvent.objects.create(kind=RiskEventKind.ENGINE_STARTED, actor=actor, message=reason or "Engine started")
    return state


@transaction.atomic
def engine_stop(*, actor=None, reason: str = "") -> EngineState:
    state = _locked_engine_state()
    if state.running:
        state.running, state.reason, state.changed_by = False, reason or "stopped", actor
        state.save()
        RiskEvent.objects.create(kind=RiskEventKind.ENGINE_STOPPED, actor=actor, message=reason or "Engine stopped")
    return state


@transaction.atomic
def account_halt(*, account: Account, reason: str, actor=None, kind: str = RiskEventKind.ACCOUNT_HALTED) -> Account:
    """Halt an account: no new entries; exits stay possible. Idempotent."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status != AccountStatus.HALTED:
        account.status, account.status_reason, account.status_changed_at = AccountStatus.HALTED, reason, timezone.now()
        account.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        RiskEvent.objects.create(kind=kind, account=account, actor=actor, message=reason)
    return account


@transaction.atomic
def account_resume(*, account: Account, actor=None, reason: str = "Resumed by operator") -> Account:
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status == AccountStatus.HALTED:
        account.status, account.status_reason, account.status_changed_at = AccountStatus.ACTIVE, "", timezone.now()
        account.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        RiskEvent.objects.create(kind=RiskEventKind.ACCOUNT_RESUMED, account=account, actor=actor, message=reason)
    return account

"""Writes to the engine's safety state: start, stop, kill switches, halts. Each leaves an event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import Account, AccountStatus
from accounts.services import account_mark_needs_login

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


@transaction.atomic
def account_needs_login(*, account: Account, reason: str, actor=None) -> Account:
    """Warn that an account has no Kite session: a visible event, and NEEDS_LOGIN unless it is halted.

    A halt stays a halt (a login must not lift it); the account does not trade either way.
    """
    if account.status != AccountStatus.HALTED:
        account = account_mark_needs_login(account=account, reason=reason)
    user = f" ({account.zerodha_user_id})" if account.zerodha_user_id else ""
    RiskEvent.objects.create(
        kind=RiskEventKind.NEEDS_LOGIN,
        account=account,
        actor=actor,
        message=f"{account.name}{user} needs a Kite login: {reason}",
    )
    return account


def kite_logins_check(*, at=None) -> list[Account]:
    """The pre-open check: every Kite account without a valid session gets a NEEDS_LOGIN warning.

    Nothing to warn about on a day the exchange is closed.
    """
    from strategies.selectors import exchange_calendar

    at = at or timezone.now()
    if not exchange_calendar().is_trading_day(at):
        return []
    reason = "not logged in before the open; log in on the Kite logins page"
    return [
        account_needs_login(account=account, reason=reason)
        for account in account_selectors.kite_accounts_not_logged_in(at=at)
    ]

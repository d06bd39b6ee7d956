"""Writes to the engine's safety state: start, stop, kill switches, halts. Each leaves an event."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.locks import lock_account
from accounts.models import Account, AccountStatus
from accounts.services import account_mark_needs_login
from strategies.calendar import to_market_time
from strategies.models import Strategy
from strategies.selectors import market_data_source

from .locks import lock_engine_state, lock_strategy
from .models import EngineState, RiskEvent, RiskEventKind
from .selectors import last_halt_event

# Daily-loss halts of earlier days are lifted this long before the day's session opens.
SESSION_START_LEAD = timedelta(minutes=15)


def risk_event_record(
    *, kind: str, message: str, account: Account | None = None, strategy: Strategy | None = None, actor=None
) -> RiskEvent:
    """Append one entry to the risk audit log."""
    return RiskEvent.objects.create(kind=kind, account=account, strategy=strategy, actor=actor, message=message)


@transaction.atomic
def engine_start(*, actor=None, reason: str = "") -> EngineState:
    """Start the engine. Refused while the global kill switch (emergency stop) is on."""
    state = lock_engine_state()
    if state.kill_switch:
        raise PermissionError("The emergency stop is active. Reset the kill switch before starting the engine again.")
    if not state.running:
        state.running, state.reason, state.changed_by = True, reason or "started", actor
        state.save()
        RiskEvent.objects.create(kind=RiskEventKind.ENGINE_STARTED, actor=actor, message=reason or "Engine started")
    return state


@transaction.atomic
def engine_stop(*, actor=None, reason: str = "") -> EngineState:
    state = lock_engine_state()
    if state.running:
        state.running, state.reason, state.changed_by = False, reason or "stopped", actor
        state.save()
        RiskEvent.objects.create(kind=RiskEventKind.ENGINE_STOPPED, actor=actor, message=reason or "Engine stopped")
    return state


@transaction.atomic
def kill_switch_trip(*, actor=None, reason: str) -> tuple[RiskEvent, bool]:
    """Trip the global kill switch and stop the engine: no new entry goes out from the commit on.

    Every call is recorded (who pressed it and when), even when the switch was already on.
    Returns the event and whether the switch was already on.
    """
    state = lock_engine_state()
    already = state.kill_switch
    state.kill_switch, state.running, state.reason, state.changed_by = True, False, reason[:200], actor
    state.save()
    message = reason + (" (the kill switch was already on)" if already else "")
    return risk_event_record(kind=RiskEventKind.EMERGENCY_STOP, actor=actor, message=message), already


@transaction.atomic
def kill_switch_clear(*, actor=None, reason: str) -> EngineState:
    """Re-arm after an emergency stop. The engine stays stopped until an operator starts it."""
    state = lock_engine_state()
    if state.kill_switch:
        state.kill_switch, state.reason, state.changed_by = False, reason[:200], actor
        state.save()
        risk_event_record(kind=RiskEventKind.KILL_SWITCH_RESET, actor=actor, message=reason)
    return state


@transaction.atomic
def strategy_trading_disable(*, strategy: Strategy, actor=None, reason: str) -> Strategy:
    """Turn a strategy's kill switch off: it sends no new entries (its exits still go out)."""
    strategy = lock_strategy(strategy_id=strategy.pk)
    if strategy.trading_enabled:
        strategy.trading_enabled = False
        strategy.save(update_fields=["trading_enabled", "updated_at"])
    risk_event_record(kind=RiskEventKind.STRATEGY_STOPPED, strategy=strategy, actor=actor, message=reason)
    return strategy


@transaction.atomic
def account_halt(*, account: Account, reason: str, actor=None, kind: str = RiskEventKind.ACCOUNT_HALTED) -> Account:
    """Halt an account: no new entries; exits stay possible. Idempotent.

    ``kind`` is ACCOUNT_HALTED (an operator) or DAILY_LOSS_BREACH (the mark-to-market task). A
    daily-loss halt is lifted at the next trading day's session start; an operator's is not. An
    operator halting an account already halted for daily loss takes it over, so it stays halted.
    """
    account = lock_account(account_id=account.pk)
    if account.status != AccountStatus.HALTED:
        account.status, account.status_reason, account.status_changed_at = (
            AccountStatus.HALTED,
            reason[:200],
            timezone.now(),
        )
        account.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        risk_event_record(kind=kind, account=account, actor=actor, message=reason)
    elif kind == RiskEventKind.ACCOUNT_HALTED:
        last = last_halt_event(account_id=account.pk)
        if last is not None and last.kind == RiskEventKind.DAILY_LOSS_BREACH:
            account.status_reason = reason[:200]
            account.save(update_fields=["status_reason", "updated_at"])
            risk_event_record(kind=kind, account=account, actor=actor, message=reason)
    return account


@transaction.atomic
def account_resume(*, account: Account, actor=None, reason: str = "Resumed by operator") -> Account:
    account = lock_account(account_id=account.pk)
    if account.status == AccountStatus.HALTED:
        account.status, account.status_reason, account.status_changed_at = AccountStatus.ACTIVE, "", timezone.now()
        account.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        risk_event_record(kind=RiskEventKind.ACCOUNT_RESUMED, account=account, actor=actor, message=reason)
    return account


def daily_loss_halts_lift(*, now: datetime | None = None) -> list[Account]:
    """At a trading day's session start, resume the accounts halted for daily loss on an earlier day.

    Operator halts stay. Safe to run at any time and any number of times: before the session
    (less ``SESSION_START_LEAD``), on a non-trading day, or with nothing to lift it does nothing.
    """
    calendar = market_data_source().calendar
    local = to_market_time(now or timezone.now())
    today = local.date()
    if not calendar.is_trading_day(today):
        return []
    session_open, _ = calendar.session_bounds(today)
    if local < session_open - SESSION_START_LEAD:
        return []
    day_start = datetime.combine(today, time.min, tzinfo=local.tzinfo)
    resumed = []
    for account_id in Account.objects.filter(status=AccountStatus.HALTED).values_list("pk", flat=True):
        account = _lift_daily_loss_halt(account_id=account_id, today=today, day_start=day_start)
        if account is not None:
            resumed.append(account)
    return resumed


@transaction.atomic
def _lift_daily_loss_halt(*, account_id: int, today, day_start: datetime) -> Account | None:
    # Decided under the account's lock, so an operator halting it meanwhile is never overridden.
    account = lock_account(account_id=account_id)
    last = last_halt_event(account_id=account.pk)
    if (
        account.status != AccountStatus.HALTED
        or last is None
        or last.kind != RiskEventKind.DAILY_LOSS_BREACH
        or last.created_at >= day_start
    ):
        return None
    halted_on = to_market_time(last.created_at).date()
    return account_resume(
        account=account,
        reason=f"New trading day {today:%d %b %Y}: the daily loss halt of {halted_on:%d %b %Y} is lifted.",
    )


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

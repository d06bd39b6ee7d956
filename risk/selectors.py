"""Reads of the engine's safety state."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from accounts.models import AccountStatus

from .models import EngineState, RiskDecisionRecord, RiskEvent, RiskEventKind

# The events that halt or resume an account; the latest of them says why a halted account is halted.
HALT_EVENT_KINDS = (RiskEventKind.ACCOUNT_HALTED, RiskEventKind.DAILY_LOSS_BREACH, RiskEventKind.ACCOUNT_RESUMED)
HALT_DAILY_LOSS = "daily_loss"
HALT_OPERATOR = "operator"


def engine_state() -> EngineState:
    state, _ = EngineState.objects.get_or_create(pk=EngineState.SINGLETON_ID)
    return state


@dataclass(frozen=True)
class EngineFlags:
    running: bool
    kill_switch: bool


# Read in every order decision, under its account lock: one plain statement of this app's own table
# (the ORM took seven times as long to build it as the database took to answer).
_ENGINE_FLAGS_SQL = "SELECT running, kill_switch FROM risk_enginestate WHERE id = %s"


def engine_flags() -> EngineFlags:
    """The engine's two switches as every order decision reads them (no row yet: stopped, not tripped)."""
    with connection.cursor() as cursor:
        cursor.execute(_ENGINE_FLAGS_SQL, [EngineState.SINGLETON_ID])
        row = cursor.fetchone()
    return EngineFlags(*(bool(v) for v in row)) if row else EngineFlags(False, False)


def engine_is_running() -> bool:
    state = EngineState.objects.filter(pk=EngineState.SINGLETON_ID).values("running", "kill_switch").first()
    return bool(state and state["running"] and not state["kill_switch"])


def risk_decisions(
    *, account_id: int | None = None, on_date: date | None = None, approved: bool | None = None
) -> QuerySet[RiskDecisionRecord]:
    """Pre-trade decisions, newest first: per account, per market day (IST), approved or refused."""
    qs = RiskDecisionRecord.objects.select_related("account", "instrument", "strategy", "order")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if on_date is not None:
        start = datetime.combine(on_date, time.min, tzinfo=ZoneInfo(settings.MARKET_TIME_ZONE))
        qs = qs.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    if approved is not None:
        qs = qs.filter(approved=approved)
    return qs


def failed_checks(record: RiskDecisionRecord) -> list[dict]:
    """The checks that refused a decision, each ``{"name", "passed", "reason"}``."""
    return [check for check in record.checks if not check.get("passed")]


def recent_risk_events(*, limit: int = 20):
    return RiskEvent.objects.select_related("account", "strategy", "actor")[:limit]


def last_halt_event(*, account_id: int) -> RiskEvent | None:
    """The latest event that halted or resumed the account."""
    return (
        RiskEvent.objects.filter(account_id=account_id, kind__in=HALT_EVENT_KINDS)
        .order_by("-created_at", "-id")
        .first()
    )


def halt_kinds(*, account_ids: list[int]) -> dict[int, str]:
    """Why each halted account among ``account_ids`` is halted: ``"daily_loss"`` (lifted on the next
    trading day) or ``"operator"`` (only an operator resumes it; also a halt with no event). One query."""
    latest = dict(
        RiskEvent.objects.filter(account_id__in=account_ids, account__status=AccountStatus.HALTED)
        .filter(kind__in=HALT_EVENT_KINDS)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("account_id")], order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rank=1)
        .values_list("account_id", "kind")
    )
    return {
        account_id: HALT_DAILY_LOSS if kind == RiskEventKind.DAILY_LOSS_BREACH else HALT_OPERATOR
        for account_id, kind in latest.items()
    }


# Charge rates are read on every fill: kept per process for a short while, so an admin edit
# applies to fills within CHARGE_RATES_TTL seconds in every worker (at once in the editing process).
CHARGE_RATES_TTL = 30.0
_charge_rates_cache: dict = {}


def charge_rates(*, exchange: str, product: str):
    """The ``risk.charges.ChargeRates`` for an exchange and product: the admin's row, else the
    built-in Zerodha equity rates (NSE/BSE, MIS/CNC), else None (no charges modelled there).

    A deleted row falls back to the built-in rates rather than to no charges: to model a segment
    as free, set its rates to zero.
    """
    import time as _time

    from .charges import DEFAULT_RATES
    from .models import ChargeSchedule

    cached = _charge_rates_cache.get("all")
    if cached is None or _time.monotonic() - cached[0] > CHARGE_RATES_TTL:
        cached = (_time.monotonic(), {(s.exchange, s.product): s.rates() for s in ChargeSchedule.objects.all()})
        _charge_rates_cache["all"] = cached
    return cached[1].get((exchange, product)) or DEFAULT_RATES.get((exchange, product))


def charge_rates_forget() -> None:
    """Drop this process's cached rates (after an edit)."""
    _charge_rates_cache.clear()

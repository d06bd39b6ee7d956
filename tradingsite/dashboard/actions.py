"""The dashboard's buttons: staff only, POST with CSRF. Each parses, calls one service, says what happened."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from accounts.models import Account
from execution.engine import switch as engine_switch
from execution.engine.signals import manual_signal_submit
from execution.operations import emergency
from execution.operations.runs import account_flatten_start, emergency_stop_start, strategy_stop_start
from risk import services as risk_services
from strategies.models import Strategy

from .access import safe_next, staff_action
from .forms import EmergencyStopForm, ManualSignalForm, ReasonForm
from .views import signals_page

logger = logging.getLogger(__name__)


def _reason(request: HttpRequest, default: str) -> str:
    form = ReasonForm(request.POST)
    return (form.is_valid() and form.cleaned_data["reason"]) or default


@staff_action
def engine_start(request: HttpRequest) -> HttpResponse:
    try:
        engine_switch.engine_start(actor=request.user, reason=_reason(request, "Started from the dashboard"))
    except PermissionError as exc:
        messages.error(request, f"The engine was not started: {exc}")
    else:
        messages.success(request, "Engine started: the latest closed bars are evaluated now, then each bar close.")
    return redirect(safe_next(request))


@staff_action
def engine_stop(request: HttpRequest) -> HttpResponse:
    risk_services.engine_stop(actor=request.user, reason=_reason(request, "Stopped from the dashboard"))
    messages.success(request, "Engine stopped: no strategy is evaluated and no new entry goes out.")
    return redirect(safe_next(request))


@staff_action
def emergency_stop(request: HttpRequest) -> HttpResponse:
    form = EmergencyStopForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    origin = f"the dashboard ({request.META.get('REMOTE_ADDR') or 'an unknown address'})"
    operation = emergency_stop_start(actor=request.user, reason=reason, origin=origin)
    messages.warning(request, f"Emergency stop #{operation.id}: {operation.started} This page follows it to the end.")
    # To the operation's own page, wherever it was pressed: that is where the exits are seen going out.
    return redirect("dashboard:operation", operation_id=operation.id)


@staff_action
def kill_switch_reset(request: HttpRequest) -> HttpResponse:
    emergency.kill_switch_reset(actor=request.user, reason=_reason(request, "Kill switch reset from the dashboard"))
    messages.success(request, "Kill switch reset. The engine stays stopped until you start it.")
    return redirect(safe_next(request))


@staff_action
def account_halt(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=account_id)
    risk_services.account_halt(
        account=account, actor=request.user, reason=_reason(request, "Halted from the dashboard")
    )
    messages.success(request, f"{account} halted: no new entries; exits stay possible.")
    return redirect(safe_next(request, "dashboard:accounts"))


@staff_action
def account_resume(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=account_id)
    risk_services.account_resume(
        account=account, actor=request.user, reason=_reason(request, "Resumed from the dashboard")
    )
    messages.success(request, f"{account} resumed.")
    return redirect(safe_next(request, "dashboard:accounts"))


@staff_action
def account_flatten(request: HttpRequest, account_id: int) -> HttpResponse:
    """The API's flatten (the same service): cancel one account's orders and close its positions in a task."""
    account = get_object_or_404(Account, pk=account_id)
    operation = account_flatten_start(
        account=account, actor=request.user, reason=_reason(request, "Flattened from the dashboard")
    )
    messages.warning(
        request, f"Account flatten #{operation.id} of {account}: {operation.started} This page follows it to the end."
    )
    return redirect("dashboard:operation", operation_id=operation.id)


@staff_action
def strategy_stop(request: HttpRequest, strategy_id: int) -> HttpResponse:
    """The API's strategy stop (the same service): switched off at once, its positions closed in a task."""
    strategy = get_object_or_404(Strategy, pk=strategy_id)
    operation = strategy_stop_start(
        strategy=strategy, actor=request.user, reason=_reason(request, "Stopped from the dashboard")
    )
    messages.warning(request, f"Strategy stop #{operation.id}: {operation.started} This page follows it to the end.")
    return redirect("dashboard:operation", operation_id=operation.id)


@staff_action
def manual_signal(request: HttpRequest) -> HttpResponse:
    form = ManualSignalForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            signal = manual_signal_submit(
                strategy=data["strategy"],
                instrument=data["instrument"],
                target=data["direction"],
                stop_price=data["stop_price"],
                note=data["note"] or f"Manual signal by {request.user}",
            )
        except ValueError as exc:
            form.add_error(getattr(exc, "field", None), str(exc))
        else:
            messages.success(
                request,
                f"Signal #{signal.id} sent to every account mapped to {signal.strategy}. "
                "Its orders appear below as each account handles it.",
            )
            return redirect("dashboard:signal", signal_id=signal.id)
    return signals_page(request, form=form, status=400)


@staff_action
def strategy_settings_save(request: HttpRequest, strategy_id: int) -> HttpResponse:
    from django.core.exceptions import ValidationError

    from strategies import services as strategy_services

    from .forms import StrategySettingsForm
    from .views import strategy_settings_page

    strategy = get_object_or_404(Strategy, pk=strategy_id)
    form = StrategySettingsForm(request.POST, strategy=strategy)
    if form.is_valid():
        data = form.cleaned_data
        try:
            strategy_services.strategy_update(
                strategy=strategy,
                parameters=data["parameters"],
                max_positions=data["max_positions"],
                enter_on_first_bar=data["enter_on_first_bar"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(None if field in ("parameters", "__all__") else field, error)
        else:
            messages.success(request, f"{strategy.name}: settings saved; they apply from its next bar.")
            return redirect("dashboard:strategy-settings", strategy_id=strategy.id)
    return strategy_settings_page(request, form=form, status=400)


@staff_action
def strategy_webhook_rotate(request: HttpRequest, strategy_id: int) -> HttpResponse:
    """Create the strategy's webhook or rotate its secret; the secret is shown in this answer only.

    Rendered, not redirected: the secret never goes into a message (a cookie or the session).
    """
    from strategies import services as strategy_services

    from .forms import StrategySettingsForm
    from .views import strategy_settings_page

    strategy = get_object_or_404(Strategy, pk=strategy_id)
    webhook, secret = strategy_services.strategy_webhook_rotate(strategy=strategy, actor=request.user)
    logger.info("webhook secret of strategy %s set from the dashboard by %s", strategy.name, request.user)
    return strategy_settings_page(
        request, form=StrategySettingsForm(strategy=strategy), webhook=webhook, new_secret=secret
    )

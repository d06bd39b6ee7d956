"""The daily Kite login: a page of every Kite account, a login redirect per account, Kite's callback."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from . import selectors, services
from .models import Account, Broker

# Account ids whose login this browser session started. Kite's redirect carries only the
# request_token and our redirect_params, so the callback accepts only an account the operator
# asked to log in here: a crafted callback link cannot attach a session to another account.
PENDING_LOGINS = "kite_login_pending"


def staff_required(view: Callable) -> Callable:
    """Logged in (else the login page) and staff (else 403): a Kite login changes an account."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Logging accounts in to Kite needs staff rights.")
        return view(request, *args, **kwargs)

    return wrapper


@login_required
@require_safe
def kite_logins(request: HttpRequest) -> HttpResponse:
    accounts = list(selectors.kite_accounts())
    rows = [{"account": account, "logged_in": account.is_logged_in} for account in accounts]
    context = {
        "rows": rows,
        "needs_login": sum(not row["logged_in"] for row in rows),
        "can_log_in": request.user.is_staff,
        "now": timezone.now(),
    }
    return render(request, "accounts/kite_logins.html", context)


@staff_required
def kite_login(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=account_id, broker=Broker.KITE)
    try:
        url = services.kite_login_url(account)
    except services.KiteLoginError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:kite-logins")
    pending = set(request.session.get(PENDING_LOGINS, [])) | {account.pk}
    request.session[PENDING_LOGINS] = sorted(pending)
    return redirect(url)


@staff_required
def kite_callback(request: HttpRequest) -> HttpResponse:
    pending = list(request.session.get(PENDING_LOGINS, []))
    account_id = _callback_account(request.GET.get("account_id"), pending)
    if account_id is None:
        messages.error(
            request,
            "This Kite login was not started from this browser, or it has already been completed: "
            "use the account's “Log in with Kite” button.",
        )
        return redirect("accounts:kite-logins")
    request.session[PENDING_LOGINS] = [i for i in pending if i != account_id]
    account = get_object_or_404(Account, pk=account_id, broker=Broker.KITE)
    status = request.GET.get("status", "")
    if status != "success":
        messages.error(request, f"Kite reports the login of {account.name} did not succeed (status “{status}”).")
        return redirect("accounts:kite-logins")
    try:
        account = services.kite_login_complete(account=account, request_token=request.GET.get("request_token", ""))
    except services.KiteLoginError as exc:
        messages.error(request, str(exc))
    else:
        until = timezone.localtime(account.access_token_expires_at)
        messages.success(request, f"{account.name} is logged in to Kite until {until:%H:%M} on {until:%d %b}.")
    return redirect("accounts:kite-logins")


def _callback_account(raw: str | None, pending: list[int]) -> int | None:
    """The account a callback belongs to: the one in redirect_params if this session started its
    login, or the only login in progress when Kite's redirect lost the parameter."""
    if raw:
        try:
            account_id = int(raw)
        except ValueError:
            return None
        return account_id if account_id in pending else None
    return pending[0] if len(pending) == 1 else None

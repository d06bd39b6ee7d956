"""Who may see and who may change: every page needs a login; every change needs staff and a POST."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect


def viewer_required(view: Callable) -> Callable:
    """A logged-in user, reading (GET or HEAD: a page that changes nothing accepts nothing else).
    When the session ends under a live-refreshing page, the browser goes to the login page instead
    of htmx swapping the login form into a table cell."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            if request.method not in ("GET", "HEAD"):
                return HttpResponseNotAllowed(["GET", "HEAD"])
            return view(request, *args, **kwargs)
        if request.htmx:
            next_url = request.htmx.current_url_abs_path or resolve_url(settings.LOGIN_REDIRECT_URL)
            return HttpResponseClientRedirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")
        return redirect_to_login(request.get_full_path())

    return wrapper


def staff_action(view: Callable) -> Callable:
    """A state change: POST (so CSRF applies), by a logged-in staff user."""

    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Changing the trading system's state needs a staff user.")
        return view(request, *args, **kwargs)

    return wrapper


def safe_next(request: HttpRequest, default: str = "dashboard:overview") -> str:
    """Where to go after an action: the form's ``next`` if it is on this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url(default)

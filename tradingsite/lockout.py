"""What a locked-out login sees (django-axes calls this): which login is locked, and for how long."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .api.errors import error_body

LOCKED_STATUS = 429


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed logins for this username from your address: this login is locked for {minutes} "
        f"minutes after the last failed try. Wait, then log in again; a staff user can unlock it sooner "
        f"(manage.py axes_reset_username USERNAME)."
    )


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    request = getattr(request, "_request", request)
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(code="locked_out", message=lockout_message()), status=LOCKED_STATUS)
    else:
        context = {"message": lockout_message(), "username": (credentials or {}).get("username", "")}
        response = render(request, "security/locked_out.html", context, status=LOCKED_STATUS)
    response["Retry-After"] = retry_after
    return response

"""A second factor for staff (django-otp): a TOTP authenticator, with single-use recovery codes.

Where ``OTP_REQUIRED_FOR_STAFF`` is on (production's default), or once a staff user has enrolled
an authenticator, a staff session counts only after its second factor: until then every page
leads to ``/two-factor/`` (enrol, or enter a code) and the API refuses the session. Staff API
tokens are issued only with the second factor (``POST /api/auth/token`` with ``otp_token``), so a
token carries it. Non-staff viewers, who cannot change anything, log in with a password.
"""

from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .api.errors import error_body
from .dashboard.access import safe_next

RECOVERY_CODES = 10
AUTHENTICATOR = "Authenticator"


def required_for(user) -> bool:
    """Whether ``user`` must give a second factor: staff, where it is required or they enrolled one."""
    if not (user.is_authenticated and user.is_staff):
        return False
    return settings.OTP_REQUIRED_FOR_STAFF or user_has_device(user, confirmed=True)


def verify_code(user, code: str):
    """The device that accepts ``code`` (an authenticator's code or an unused recovery code), or None.

    Each device's own throttle applies: after a wrong code, the next try waits longer.
    """
    code = "".join((code or "").split())
    if not code:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            allowed, _ = device.verify_is_allowed()
            if allowed and device.verify_token(code):
                return device
    return None


def _pending_authenticator(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)


@transaction.atomic
def _confirm(user, device: TOTPDevice) -> list[str]:
    """The authenticator confirmed; a fresh set of recovery codes (any earlier ones stop working)."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def two_factor(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator (QR code, then a code from it) or give a code for this session."""
    user = request.user
    if not user.is_authenticated:
        return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}")
    next_url = safe_next(request)
    enrolled = user_has_device(user, confirmed=True)
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "")
        if enrolled:
            device = verify_code(user, code)
            if device is not None:
                otp_login(request, device)
                return redirect(next_url)
        else:
            device = _pending_authenticator(user)
            if device.verify_token("".join(code.split())):
                codes = _confirm(user, device)
                otp_login(request, device)
                return render(request, "security/recovery_codes.html", {"codes": codes, "next": next_url})
        # A wrong code is a failed login: it counts towards the lockout (django-axes).
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
        if getattr(request, "axes_locked_out", False):
            from .lockout import lockout_response

            return lockout_response(request, credentials={"username": user.get_username()})
        error = "That code is not right (or was already used). Try the current code."
    context = {"enrolled": enrolled, "error": error, "next": next_url}
    if not enrolled:
        device = _pending_authenticator(user)
        context["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(scale=4, omitsize=False)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "security/two_factor.html", context, status=200 if not error else 400)


# Paths an authenticated staff user may reach before the second factor: the page that asks for
# it, logging out, and the static files those pages load.
OPEN_BEFORE_SECOND_FACTOR = ("/two-factor/", "/logout/", "/admin/logout/", "/login/", "/admin/login/")


class SecondFactorMiddleware:
    """A staff session without its second factor reaches only the two-factor page (after
    django_otp's OTPMiddleware, which tells whether this session's device was verified)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff or user.is_verified():
            return self.get_response(request)
        path = request.path
        if path in OPEN_BEFORE_SECOND_FACTOR or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return self.get_response(request)
        if not required_for(user):
            return self.get_response(request)
        message = "This staff login needs its second factor: enter a code at /two-factor/."
        if path.startswith("/api/"):
            return JsonResponse(error_body(code="second_factor_required", message=message), status=403)
        return redirect(f"{reverse('two-factor')}?{urlencode({'next': request.get_full_path()})}")

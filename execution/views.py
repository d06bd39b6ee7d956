"""Kite's order postbacks. Kite cannot log in or send a CSRF token: the checksum is the authentication."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import strict_json
from .tracking.postbacks import (
    PostbackInvalid,
    PostbackRefused,
    postback_apply,
    postback_skip_reason,
    postback_verify,
)


@csrf_exempt
@require_POST
def kite_postback(request: HttpRequest) -> JsonResponse:
    try:
        payload = strict_json.loads(request.body or b"null")
        account = postback_verify(payload=payload)
    except (strict_json.JSONRefused, PostbackInvalid) as exc:
        return JsonResponse({"status": "error", "message": str(exc)}, status=400)
    except PostbackRefused as exc:
        return JsonResponse({"status": "error", "message": str(exc)}, status=403)
    # A stale or repeated postback is acknowledged (Kite would otherwise retry it) and does nothing.
    skipped = postback_skip_reason(account=account, payload=payload)
    if skipped:
        return JsonResponse({"status": "success", "order": None, "ignored": skipped})
    order = postback_apply(account=account, payload=payload)
    return JsonResponse({"status": "success", "order": order.tag if order else None})

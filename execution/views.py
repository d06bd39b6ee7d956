"""Kite's order postbacks. Kite cannot log in or send a CSRF token: the checksum is the authentication."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .services.postbacks import PostbackInvalid, PostbackRefused, postback_apply, postback_verify


@csrf_exempt
@require_POST
def kite_postback(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body or b"null")
        account = postback_verify(payload=payload)
    except (ValueError, PostbackInvalid) as exc:
        message = str(exc) if isinstance(exc, PostbackInvalid) else "The postback body is not valid JSON."
        return JsonResponse({"status": "error", "message": message}, status=400)
    except PostbackRefused as exc:
        return JsonResponse({"status": "error", "message": str(exc)}, status=403)
    order = postback_apply(account=account, payload=payload)
    return JsonResponse({"status": "success", "order": order.tag if order else None})

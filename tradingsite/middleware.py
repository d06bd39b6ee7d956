"""Request guards that run before any view reads the body."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .api.errors import error_body


class RequestBodyLimitMiddleware:
    """A body larger than ``REQUEST_BODY_MAX_BYTES`` is refused with 413 before anything reads it.

    Django enforces ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only when a form body is parsed, and raises an
    exception DRF does not map (a 500); a JSON body read by DRF is not checked at all. Deciding on
    ``Content-Length`` here costs nothing and answers every path the same way; the API in its
    error shape. A body without a length is never read by Django's WSGI request, so it cannot
    smuggle more.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.REQUEST_BODY_MAX_BYTES
        if not raw.isdigit():
            return _refuse(request, 400, "invalid", "The Content-Length header is not a number of bytes.")
        if int(raw) > limit:
            return _refuse(request, 413, "too_large", f"The request body is larger than the limit of {limit} bytes.")
        return self.get_response(request)


def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code=code, message=message), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")

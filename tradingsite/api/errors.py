"""One error body for every API error.

``{"error": {"code": "...", "message": "...", "fields": {"field": ["reason", ...]}}}``

DRF's own exceptions, Django's ``Http404``/``PermissionDenied`` and the ``ValidationError`` that
services raise (the model's ``full_clean``, the 100% allocation rule) all come out in this shape,
so a client reads one format whatever went wrong.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..database_errors import DATABASE_UNAVAILABLE, database_unavailable_response

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


class Conflict(exceptions.APIException):
    """The request is valid but the system's state refuses it (e.g. the kill switch is on)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the system."


def error_body(*, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"field": [...], "legs.0.price": [...]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = NON_FIELD if key in ("__all__", NON_FIELD) and not prefix else f"{prefix}{key}"
            for sub_key, reasons in _flatten(value, f"{name}.").items():
                out.setdefault(sub_key, []).extend(reasons)
        return out
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            if item:
                for sub_key, reasons in _flatten(item, f"{prefix}{index}.").items():
                    out.setdefault(sub_key, []).extend(reasons)
        return out
    key = prefix[:-1] if prefix else NON_FIELD
    items = detail if isinstance(detail, list) else [detail]
    return {key: [str(item) for item in items]}


def _validation_message(fields: dict[str, list[str]]) -> str:
    # The first reason, named, so a client that shows only the message still says what is wrong.
    if not fields:
        return "The request is invalid."
    name, reasons = next(iter(fields.items()))
    first = reasons[0] if reasons else "invalid"
    return first if name == NON_FIELD else f"{name}: {first}"


def _from_django_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        detail = {(NON_FIELD if k == "__all__" else k): v for k, v in exc.message_dict.items()}
    else:
        detail = {NON_FIELD: exc.messages}
    return exceptions.ValidationError(detail=detail)


def api_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, DjangoValidationError):
        exc = _from_django_validation_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DATABASE_UNAVAILABLE):
        # Not a bug: PostgreSQL is restarting or unreachable. 503 with Retry-After, in the one shape.
        set_rollback()
        return database_unavailable_response(context["request"], exc)
    if not isinstance(exc, exceptions.APIException):
        # A bug, not a client error: log it with its traceback and still answer in the one format.
        view = context.get("view")
        logger.exception("Unhandled error in API view %s", type(view).__name__ if view else "?")
        set_rollback()
        return Response(
            error_body(code="server_error", message="Internal server error; the details are in the server log."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        body = error_body(code="invalid", message=_validation_message(fields), fields=fields)
    else:
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else _validation_message(_flatten(detail))
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(code=code, message=message)
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)

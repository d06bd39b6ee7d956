"""A database that cannot be reached (restarting, failed over, out of connections) answers 503, not 500.

While PostgreSQL restarts, every request that touches it fails with ``OperationalError`` (cannot
connect, the server ended the session) or ``InterfaceError`` (the connection is already closed).
That is not a bug in the request: the client is told to come back in a few seconds (``Retry-After``),
the API in its one error shape, and the connection is dropped at the end of the request by Django's
own rule (``CONN_HEALTH_CHECKS``), so the next request after the restart connects afresh.

Two places see these errors: the API's exception handler (``tradingsite/api/errors.py``: DRF turns
every exception in an API view into a response there) and ``server_error``, the site's 500 handler,
which Django calls for an exception anywhere else: a page's view or a middleware (the session, the
second-factor check).
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# A restart takes seconds; the client's retry should not hammer the database while it comes back.
RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable right now (restarting or unreachable). Try again in a few seconds."


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    from .api.errors import error_body

    logger.warning("database unavailable: %s %s answered 503 (%s)", request.method, request.path, exc)
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(code="database_unavailable", message=MESSAGE), status=503)
    else:
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: Django calls it while handling the exception, so ``sys.exc_info()`` holds it."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable_response(request, exc)
    return defaults.server_error(request)

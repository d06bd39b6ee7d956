"""Logging filters: a refused request is one line in the log, not a traceback."""

from __future__ import annotations

import logging


class OneLineForbidden(logging.Filter):
    """Django logs a 403 (a viewer pressing a staff button, a bad CSRF token) with the exception's
    traceback. A refusal is expected behaviour, not an error: keep the line, name the user, drop
    the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            request = getattr(record, "request", None)
            user = getattr(request, "user", None)
            who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
            reason = ""
            if record.exc_info and record.exc_info[1] is not None:
                reason = str(record.exc_info[1])
            record.msg = f"{record.getMessage()} (user {who}{': ' + reason if reason else ''})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True

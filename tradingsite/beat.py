"""Beat's schedule from the database (django-celery-beat), riding out a PostgreSQL restart.

django-celery-beat catches a database error where it looks for changes and where it saves what ran,
but not where it reads the schedule: at start, after a change it saw, and at its full re-read every
five minutes. A beat that started while PostgreSQL was down, or whose re-read fell in an outage,
exited (and under honcho, ``make run``, took every other process with it). Here the schedule it last
read is kept until the database answers again, and then read whole.
"""

from __future__ import annotations

import datetime
import logging

from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler as _DatabaseScheduler

from .database_errors import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)


class DatabaseScheduler(_DatabaseScheduler):
    @property
    def schedule(self):
        try:
            return super().schedule
        except DATABASE_UNAVAILABLE as exc:
            kept = self._schedule or {}
            logger.warning(
                "beat: the database is unavailable (%s); keeping the %d schedule entries it last read, "
                "reading them again at the next tick",
                str(exc).strip(),
                len(kept),
            )
            close_old_connections()  # the broken connection is dropped; the next read connects afresh
            # A full re-read at the next tick (naive, as django-celery-beat keeps this time).
            self._last_full_sync = datetime.datetime.min  # noqa: DTZ901
            return kept

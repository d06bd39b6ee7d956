"""The Celery app. Workers and beat load Django settings from the ``CELERY_`` namespace."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingsite.settings")

app = Celery("tradingsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender, **kwargs):
    # The embedded default's broker is folders on disk; kombu expects them to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(sender=None, **kwargs):
    """Django's per-request rule around each task: drop a connection that is broken or past CONN_MAX_AGE.

    Celery's Django fixup would otherwise close every connection before and after each task (unless
    CELERY_DB_REUSE_MAX is set, see settings), so each order task paid for a new PostgreSQL connection.
    With CONN_MAX_AGE 0 (SQLite) this still closes after every task, as before.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return  # an eager task runs inside its caller's request and transaction
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()

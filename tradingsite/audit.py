"""The audit of configuration changes (django-auditlog): who, when, from where, before and after.

Changes are recorded at the model, whatever path saved them: the admin, the API, the dashboard, a
management command, a Celery task or the order path (a daily-loss halt). Each entry names the
actor (the logged-in user, or none for the system), the client address or the command, and each
changed field's value before and after. Secret fields are never registered: encrypted credentials
and passwords do not reach the log, not even as ciphertext.
"""

from __future__ import annotations

import getpass
import sys
from contextlib import ExitStack, contextmanager

from auditlog.context import auditlog_value, set_extra_data
from auditlog.middleware import AuditlogMiddleware
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model

from .client_address import client_address

# Model -> fields left out: secrets, and bookkeeping that changes on its own (timestamps, errors).
AUDITED = {
    "accounts.Account": [
        "api_secret_encrypted",
        "access_token_encrypted",
        "access_token_expires_at",
        "status_changed_at",
        "created_at",
        "updated_at",
    ],
    "strategies.Strategy": ["last_evaluated_at", "last_error", "created_at", "updated_at"],
    "execution.AccountStrategy": ["created_at", "updated_at"],
    "risk.EngineState": ["changed_at"],
}
USER_FIELDS = ["username", "is_active", "is_staff", "is_superuser"]
# Beat schedules (an emergency stop disables the trading ones; an operator may edit them in the
# admin): their configuration only, not the run counters beat writes on every run.
SCHEDULE_FIELDS = ["name", "task", "enabled", "interval", "crontab", "args", "kwargs", "expires", "one_off"]


def register_audited_models() -> None:
    from django.apps import apps

    for label, exclude in AUDITED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            m2m = {"instruments"} if label == "strategies.Strategy" else set()
            auditlog.register(model, exclude_fields=exclude, m2m_fields=m2m)
    user_model = get_user_model()
    if not auditlog.contains(user_model):
        auditlog.register(user_model, include_fields=USER_FIELDS)
    schedule = apps.get_model("django_celery_beat", "PeriodicTask")
    if not auditlog.contains(schedule):
        auditlog.register(schedule, include_fields=SCHEDULE_FIELDS)


def _surface(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "dashboard"


class AuditMiddleware(AuditlogMiddleware):
    """auditlog's middleware with the project's client address (trusted proxies only, never a
    client's own X-Forwarded-For) and the actor read when the entry is written, so a user that DRF
    authenticates by token inside the view is recorded too."""

    def get_extra_data(self, request):
        def actor_id():
            user = getattr(request, "user", None)
            return user.pk if user is not None and user.is_authenticated else None

        return {
            "remote_addr": client_address(request),
            "remote_port": None,
            "actor_id": actor_id,
            "additional_data": lambda: {"via": _surface(request.path), "path": request.path},
        }


@contextmanager
def audit_source(**data):
    """Entries written inside are tagged with ``data`` (e.g. ``via="command", command="trading start"``).

    auditlog's own context leaves its value set on exit; the previous one is put back here, so a
    command that runs inside another context (or a request inside a server command) stays right.
    """
    previous = auditlog_value.get(None)
    try:
        with set_extra_data(context_data={"additional_data": data}):
            yield
    finally:
        if previous is not None:
            auditlog_value.set(previous)


def install_command_context() -> None:
    """Every management command (manage.py or call_command) records itself as the source."""
    from django.core.management.base import BaseCommand

    if getattr(BaseCommand.execute, "_audited", False):
        return
    original = BaseCommand.execute

    def execute(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        with audit_source(via="command", command=_command_line(name, args, options), os_user=_os_user()):
            return original(self, *args, **options)

    execute._audited = True
    BaseCommand.execute = execute


# Options every command has; the rest, as given, say what the command was asked to do.
_COMMON_OPTIONS = {"verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}


def _command_line(name: str, args: tuple, options: dict) -> str:
    if sys.argv[1:2] == [name]:  # run from manage.py: its own words
        return " ".join([name, *sys.argv[2:]])[:500]
    given = [str(arg) for arg in args]
    given += [f"--{key}={value}" for key, value in sorted(options.items()) if key not in _COMMON_OPTIONS and value]
    return " ".join([name, *given])[:500]


_task_contexts: dict[str, ExitStack] = {}


def task_started(*, task_id: str, name: str) -> None:
    stack = ExitStack()
    stack.enter_context(audit_source(via="task", task=name))
    _task_contexts[task_id] = stack


def task_finished(*, task_id: str) -> None:
    stack = _task_contexts.pop(task_id, None)
    if stack is not None:
        stack.close()


def install_task_context() -> None:
    """Changes a Celery task makes (a daily-loss halt, a kill switch tripped by the order path) are
    tagged with the task's name. Eager tasks run inside their caller's request and keep its tag."""
    from celery.signals import task_postrun, task_prerun

    def started(sender=None, task_id=None, **kwargs):
        if sender is not None and task_id is not None and not getattr(sender.request, "is_eager", False):
            task_started(task_id=task_id, name=sender.name)

    def finished(task_id=None, **kwargs):
        if task_id is not None:
            task_finished(task_id=task_id)

    task_prerun.connect(started, weak=False, dispatch_uid="audit-task-started")
    task_postrun.connect(finished, weak=False, dispatch_uid="audit-task-finished")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container)
        return ""

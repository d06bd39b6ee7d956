"""Configuration changes made in bulk reach the audit log too: the emergency stop's trading
schedules, and no queryset .update() on an audited model in the product code."""

import ast
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django_celery_beat.models import PeriodicTask
from knox.models import AuthToken
from rest_framework.test import APIClient

from execution.engine.schedules import TRADING_TASKS, ensure_beat_schedules
from tradingsite.audit import AUDITED, SCHEDULE_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("accounts", "strategies", "risk", "execution", "tradingsite")


@pytest.mark.django_db
def test_the_emergency_stop_and_its_reset_record_each_trading_schedule(django_user_model):
    ensure_beat_schedules()
    schedules = list(PeriodicTask.objects.filter(task__in=TRADING_TASKS, enabled=True))
    assert schedules
    desk = django_user_model.objects.create_user("desk", password="pw", is_staff=True, is_superuser=True)
    _, token = AuthToken.objects.create(user=desk)
    client = APIClient(REMOTE_ADDR="192.0.2.20")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.post("/api/system/emergency-stop", {"reason": "drill"}, format="json").status_code in (200, 202)
    for schedule in schedules:
        schedule.refresh_from_db()
        assert schedule.enabled is False
        [entry] = LogEntry.objects.get_for_object(schedule).filter(action=LogEntry.Action.UPDATE)
        assert entry.changes_dict == {"enabled": ["True", "False"]}
        assert (entry.actor, entry.remote_addr, entry.additional_data["via"]) == (desk, "192.0.2.20", "api")

    assert client.post("/api/system/kill-switch-reset", {"reason": "drill over"}, format="json").status_code == 200
    for schedule in schedules:
        latest = LogEntry.objects.get_for_object(schedule).order_by("-timestamp", "-id").first()
        assert latest.changes_dict == {"enabled": ["False", "True"]} and latest.actor == desk


@pytest.mark.django_db
def test_beats_own_run_bookkeeping_is_not_logged():
    ensure_beat_schedules()
    schedule = PeriodicTask.objects.filter(task__in=TRADING_TASKS).first()
    before = LogEntry.objects.count()
    schedule.total_run_count += 1
    schedule.save(update_fields=["total_run_count"])
    assert LogEntry.objects.count() == before
    assert "total_run_count" not in SCHEDULE_FIELDS


def _audited_models() -> dict[str, set[str]]:
    """Model class name -> the fields left out of the audit (bookkeeping a bulk update may write)."""
    out = {label.split(".")[1]: set(exclude) for label, exclude in AUDITED.items()}
    out["PeriodicTask"] = {"last_run_at", "total_run_count", "date_changed", "description"}
    out["User"] = {"last_login"}
    return out


def _bulk_writes(tree: ast.AST, audited: dict[str, set[str]]):
    """(line, model, fields) of each Model.objects...update()/bulk_update() whose fields are audited."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("update", "bulk_update"):
            continue
        chain, receiver = [], node.func.value
        while isinstance(receiver, ast.Call | ast.Attribute):
            receiver = receiver.func if isinstance(receiver, ast.Call) else receiver
            if isinstance(receiver, ast.Attribute):
                chain.append(receiver.attr)
                receiver = receiver.value
        if not (isinstance(receiver, ast.Name) and receiver.id in audited and "objects" in chain):
            continue
        if node.func.attr == "update":
            fields = {keyword.arg for keyword in node.keywords}
        else:
            fields = {elt.value for elt in getattr(node.args[1], "elts", [])} if len(node.args) > 1 else {"?"}
        if fields - audited[receiver.id]:
            yield node.lineno, receiver.id, sorted(fields - audited[receiver.id])


def test_no_queryset_update_bypasses_the_audit_in_product_code():
    """A queryset .update() (or bulk_update) sends no signal, so django-auditlog never sees it: a
    change of an audited field must go through save()."""
    audited = _audited_models()
    found = []
    for app in PRODUCT:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for line, model, fields in _bulk_writes(ast.parse(path.read_text()), audited):
                found.append(f"{path.relative_to(ROOT)}:{line} {model} {fields}")
    assert not found, f"audited fields written by a queryset update (use save()): {found}"


def test_the_bypass_check_finds_a_bulk_update():
    audited = _audited_models()
    code = (
        "Account.objects.filter(pk=1).update(trading_enabled=False)\n"
        "Strategy.objects.filter(pk=1).update(last_error='x')\n"  # bookkeeping, not audited
        "PeriodicTask.objects.filter(task='t').exclude(enabled=True).update(enabled=True)\n"
    )
    assert [(line, model) for line, model, _ in _bulk_writes(ast.parse(code), audited)] == [
        (1, "Account"),
        (3, "PeriodicTask"),
    ]

"""The database, not the broker, holds what must happen to an operation: one whose message was lost
is sent again by the operations sweep, and one whose worker died mid-run is marked failed and
replaced by a new one of the same kind and scope, which flattens what is left, once."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from execution.models import Operation, OperationKind, OperationState, Order, OrderLeg, Position
from execution.operations.runs import account_flatten_start, emergency_stop_begin, operation_run
from execution.operations.sweep import operations_sweep
from tests.execution.book import WorkerKilled, two_accounts_three_positions

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(engine_running):
    return two_accounts_three_positions()


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("ops", is_staff=True)


def open_positions() -> int:
    return Position.objects.exclude(quantity=0).count()


def exits_per_position() -> dict[tuple, int]:
    counts: dict[tuple, int] = {}
    for order in Order.objects.filter(leg=OrderLeg.EXIT):
        key = (order.account_id, order.strategy_id, order.instrument_id)
        counts[key] = counts.get(key, 0) + 1
    return counts


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_an_emergency_stop_whose_message_was_lost_is_run_by_the_sweep(book, operator, eager_tasks, settings):
    # The test's transaction never commits: the message queued on commit is never sent, as when
    # Redis lost it. The kill switch is on; nothing flattens the book but the sweep.
    operation = emergency_stop_begin(actor=operator, reason="drill", origin="a test").operation
    assert open_positions() == 3

    early = operations_sweep(now=later(settings.OPERATION_REQUEUE_SECONDS - 1))
    operation.refresh_from_db()
    assert early.requeued == [] and operation.state == OperationState.QUEUED  # its message may be on its way

    sweep = operations_sweep(now=later(settings.OPERATION_REQUEUE_SECONDS + 1))

    operation.refresh_from_db()
    assert sweep.requeued == [operation.id]
    assert operation.state == OperationState.DONE
    assert open_positions() == 0
    assert set(exits_per_position().values()) == {1}


def test_the_sweep_and_the_original_message_run_it_once(book, eager_tasks, settings):
    operation = account_flatten_start(account=book["asha"], reason="by hand")

    operations_sweep(now=later(settings.OPERATION_REQUEUE_SECONDS + 1))
    late = operation_run(operation_id=operation.id)  # the original message, delivered after all

    assert late.report is None  # it found the operation taken
    operation.refresh_from_db()
    assert operation.state == OperationState.DONE
    assert Order.objects.filter(leg=OrderLeg.EXIT).count() == 2  # Asha's two positions, one exit each
    assert not Position.objects.filter(account=book["asha"]).exclude(quantity=0).exists()
    assert Position.objects.filter(account=book["bharat"]).exclude(quantity=0).count() == 1


def test_the_queue_down_leaves_it_queued_for_the_next_sweep(book, settings, monkeypatch):
    from execution import tasks

    operation = account_flatten_start(account=book["asha"], reason="by hand")

    def redis_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(tasks.run_operation, "delay", redis_down)
    sweep = operations_sweep(now=later(settings.OPERATION_REQUEUE_SECONDS + 1))

    operation.refresh_from_db()
    assert sweep.requeued == [] and sweep.not_sent == [operation.id]
    assert operation.state == OperationState.QUEUED and operation.nudged_at is None
    assert open_positions() == 3


def test_a_run_whose_worker_died_is_failed_and_replaced_and_the_book_ends_flat_once(
    book, operator, eager_tasks, settings
):
    asha, bharat = book["asha"], book["bharat"]
    operation = emergency_stop_begin(actor=operator, reason="drill", origin="a test").operation

    def killed_after_ashas_first_exit(line: str) -> None:
        if line.startswith("exit") and f"on account {asha.id}" in line:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        operation_run(operation_id=operation.id, progress=killed_after_ashas_first_exit)
    operation.refresh_from_db()
    assert operation.state == OperationState.RUNNING and operation.heartbeat_at is not None
    assert open_positions() == 2  # Asha's second position and Bharat's are still open

    quiet = operations_sweep(now=operation.heartbeat_at + timedelta(seconds=settings.OPERATION_STALL_SECONDS - 1))
    assert quiet.stalled == [] and Operation.objects.count() == 1

    sweep = operations_sweep(now=operation.heartbeat_at + timedelta(seconds=settings.OPERATION_STALL_SECONDS + 1))

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED and operation.finished_at is not None
    assert "worker" in operation.summary and "lost" in operation.summary
    assert "last reported" in operation.summary
    [replacement] = Operation.objects.exclude(pk=operation.pk)
    assert sweep.stalled == [operation.id] and sweep.replaced == {operation.id: replacement.id}
    assert f"#{operation.id}" in replacement.reason and f"#{replacement.id}" in operation.summary
    assert (replacement.kind, replacement.actor, replacement.account, replacement.strategy) == (
        OperationKind.EMERGENCY_STOP,
        operator,
        None,
        None,
    )
    assert replacement.state == OperationState.DONE  # sent on commit (eager here) and run
    assert open_positions() == 0
    assert set(exits_per_position().values()) == {1}  # three positions, three exits: none sent twice
    assert Order.objects.filter(operation=replacement, leg=OrderLeg.EXIT).count() == 2
    assert {bharat.id, asha.id} == set(replacement.report["accounts_done"])

    again = operations_sweep(now=later(settings.OPERATION_STALL_SECONDS * 2))
    assert again.stalled == [] and Operation.objects.count() == 2


def test_a_run_reporting_recently_is_left_alone(book, eager_tasks, settings):
    operation = account_flatten_start(account=book["asha"], reason="by hand")
    Operation.objects.filter(pk=operation.pk).update(
        state=OperationState.RUNNING, running_since=timezone.now(), heartbeat_at=timezone.now()
    )

    sweep = operations_sweep(now=later(settings.OPERATION_STALL_SECONDS - 5))

    operation.refresh_from_db()
    assert sweep.stalled == [] and sweep.requeued == []
    assert operation.state == OperationState.RUNNING and Operation.objects.count() == 1
    assert open_positions() == 3  # never run a second time while it runs


def test_a_stalled_square_off_is_failed_but_not_replaced(book, eager_tasks, settings):
    operation = Operation.objects.create(
        kind=OperationKind.INTRADAY_SQUARE_OFF, reason="MIS square-off", started="in a task"
    )
    Operation.objects.filter(pk=operation.pk).update(
        state=OperationState.RUNNING, running_since=timezone.now(), heartbeat_at=timezone.now()
    )

    sweep = operations_sweep(now=later(settings.OPERATION_STALL_SECONDS + 1))

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED and sweep.replaced == {}
    assert Operation.objects.count() == 1  # beat's minute tick starts the next square-off itself


def test_an_operation_from_an_earlier_day_is_failed_not_run(book, eager_tasks, settings):
    operation = account_flatten_start(account=book["asha"], reason="by hand")

    sweep = operations_sweep(now=later(24 * 3600))

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED and sweep.requeued == []
    assert "start it again" in operation.summary
    assert open_positions() == 3


def test_an_existing_deployment_gets_the_sweep_schedule_from_setup_schedules(db):
    from django_celery_beat.models import PeriodicTask

    from execution.engine.schedules import ensure_beat_schedules

    ensure_beat_schedules()
    PeriodicTask.objects.filter(task="execution.tasks.sweep_operations").delete()  # an earlier release's set

    assert ensure_beat_schedules() == ["trading:sweep operations"]
    sweep = PeriodicTask.objects.get(task="execution.tasks.sweep_operations")
    assert sweep.enabled and sweep.interval.every == 5 and sweep.expire_seconds == 5


def test_a_paper_exit_claimed_by_the_lost_run_and_never_answered_is_exited_by_the_replacement(
    book, operator, eager_tasks, settings, monkeypatch
):
    """Killed between claiming an exit and recording the paper broker's answer: that exit never
    happened. The replacement must close its position, not skip it as an exit in flight (seen with the
    real processes: the book stayed with one position open for good)."""
    from execution.brokers.paper import PaperBroker

    operation = emergency_stop_begin(actor=operator, reason="drill", origin="a test").operation
    place = PaperBroker.place_order

    def killed_while_placing(self, request):
        monkeypatch.setattr(PaperBroker, "place_order", place)  # only the first placement dies
        raise WorkerKilled

    monkeypatch.setattr(PaperBroker, "place_order", killed_while_placing)
    with pytest.raises(WorkerKilled):
        operation_run(operation_id=operation.id)
    [unanswered] = Order.objects.filter(operation=operation, leg=OrderLeg.EXIT)
    assert unanswered.status == "PENDING" and unanswered.placed_at is not None

    operation.refresh_from_db()
    operations_sweep(now=operation.heartbeat_at + timedelta(seconds=settings.OPERATION_STALL_SECONDS + 1))

    unanswered.refresh_from_db()
    assert unanswered.status == "CANCELLED" and "Never placed" in unanswered.status_message
    assert open_positions() == 0
    filled = Order.objects.filter(leg=OrderLeg.EXIT, status="COMPLETE")
    assert filled.count() == 3  # three positions, one filled exit each
    assert len({(o.account_id, o.strategy_id, o.instrument_id) for o in filled}) == 3

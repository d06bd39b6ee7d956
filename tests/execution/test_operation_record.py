"""An operation's record is exact while it runs, when it fails and when it is killed: each exit it
sends and each order it cancels carries its id, and its report is written as each account finishes,
so the Operations page and the API show what it did, never an estimate from its scope."""

from decimal import Decimal

import pytest

from execution.models import Operation, OperationState, Order, OrderLeg, OrderStatus, Position
from execution.operations.runs import account_flatten_start, emergency_stop_begin, operation_run
from execution.selectors import operation_detail, operations_progress
from tests.execution.book import WorkerKilled, two_accounts_three_positions

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(engine_running):
    return two_accounts_three_positions()


def unsent_entry(account, strategy, instrument) -> Order:
    return Order.objects.create(
        account=account,
        strategy=strategy,
        instrument=instrument,
        leg=OrderLeg.ENTRY,
        side="BUY",
        quantity=5,
        product=strategy.product,
        order_type="LIMIT",
        price=Decimal("1.00"),
        reference_price=Decimal("1.00"),
        tag=f"T{Order.objects.count():08d}",
        status=OrderStatus.PENDING,
    )


def emergency(reason: str) -> Operation:
    return emergency_stop_begin(reason=reason, origin="a test").operation


def test_a_killed_operation_still_shows_the_accounts_it_finished_and_every_exit_it_sent(book):
    asha, bharat = book["asha"], book["bharat"]
    operation = emergency("drill")

    def killed_on_bharats_exit(line: str) -> None:
        if line.startswith("exit") and f"on account {bharat.id}" in line:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        operation_run(operation_id=operation.id, progress=killed_on_bharats_exit)

    operation.refresh_from_db()
    assert operation.state == OperationState.RUNNING  # nobody lived to say it ended
    assert operation.report.get("accounts_done") == [asha.id]
    detail = operation_detail(operation_id=operation.id)
    rows = {row.account.name: row for row in detail.accounts}
    assert rows["Asha"].done and len(rows["Asha"].exits) == 2
    # Bharat's exit was sent before the kill: it is recorded, the account is not done.
    assert not rows["Bharat"].done and len(rows["Bharat"].exits) == 1
    assert detail.progress.exits_sent == 3 and detail.progress.accounts_done == 1
    assert set(Order.objects.filter(operation=operation).values_list("account_id", flat=True)) == {asha.id, bharat.id}


def test_a_failed_operation_keeps_what_it_did_and_its_error_under_the_account(book):
    asha, bharat = book["asha"], book["bharat"]
    first = unsent_entry(asha, book["trend"], book["tcs"])
    second = unsent_entry(bharat, book["trend"], book["infy"])
    operation = emergency("drill")

    def stdout_gone(line: str) -> None:
        # The emergency_stop command prints each step: its terminal went away mid-way.
        if second.tag in line:
            raise BrokenPipeError("stdout closed")

    run = operation_run(operation_id=operation.id, progress=stdout_gone)

    operation.refresh_from_db()
    assert run.report is None and operation.state == OperationState.FAILED
    assert operation.summary == "Failed: BrokenPipeError: stdout closed"
    assert operation.report.get("errors") == [
        {"account_id": bharat.id, "message": "Failed: BrokenPipeError: stdout closed"}
    ]
    assert set(operation.report["cancelled"]) == {first.id, second.id}
    detail = operation_detail(operation_id=operation.id)
    rows = {row.account.name: row for row in detail.accounts}
    assert [o.id for o in rows["Asha"].cancelled] == [first.id]
    assert rows["Bharat"].errors == ["Failed: BrokenPipeError: stdout closed"] and detail.errors == []
    assert detail.progress.cancelled == 2 and detail.progress.errors == 1


def test_two_overlapping_operations_count_only_their_own_orders(book):
    asha = book["asha"]
    everything = emergency("drill")

    def killed_after_the_first_exit(line: str) -> None:
        if line.startswith("exit"):
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        operation_run(operation_id=everything.id, progress=killed_after_the_first_exit)
    # While the emergency stop still shows as running, an operator flattens Asha.
    flatten = account_flatten_start(account=asha, reason="by hand")
    operation_run(operation_id=flatten.id)

    everything.refresh_from_db()
    flatten.refresh_from_db()
    assert everything.state == OperationState.RUNNING and flatten.state == OperationState.DONE
    assert not Position.objects.filter(account=asha).exclude(quantity=0).exists()
    progress = operations_progress([everything, flatten])
    # Asha's two exits: one sent by each. Neither counts the other's.
    assert progress[everything.id].exits_sent == 1
    assert progress[flatten.id].exits_sent == 1
    mine = {o.id for row in operation_detail(operation_id=everything.id).accounts for o in row.exits}
    theirs = {o.id for row in operation_detail(operation_id=flatten.id).accounts for o in row.exits}
    assert len(mine) == len(theirs) == 1 and not mine & theirs

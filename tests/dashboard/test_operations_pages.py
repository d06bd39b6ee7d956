"""The Operations pages: what each emergency stop, flatten and square-off did, account by account,
in India time, refreshing while it runs; and the emergency stop button lands on its page."""

import itertools
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from execution.models import Operation, OperationKind, OperationState, Order, OrderStatus, Position
from tests.factories import AccountFactory, InstrumentFactory, StrategyFactory

pytestmark = pytest.mark.django_db

_tags = itertools.count(1)
# 09:15 IST on a Monday, stored in UTC.
MARKET_OPEN = datetime(2025, 1, 6, 3, 45, tzinfo=UTC)


def order(account, instrument, *, status=OrderStatus.COMPLETE, leg="exit", side="SELL", tag=None, **fields) -> Order:
    return Order.objects.create(
        account=account,
        instrument=instrument,
        leg=leg,
        side=side,
        quantity=fields.pop("quantity", 5),
        product=fields.pop("product", "MIS"),
        reference_price=Decimal("100"),
        tag=tag or f"Q{next(_tags):08d}T",
        status=status,
        **fields,
    )


def operation(*, kind=OperationKind.EMERGENCY_STOP, state=OperationState.DONE, created_at=None, **fields) -> Operation:
    op = Operation.objects.create(kind=kind, state=state, reason=fields.pop("reason", "Exchange glitch"), **fields)
    created_at = created_at or timezone.now()
    Operation.objects.filter(pk=op.pk).update(created_at=created_at)
    op.refresh_from_db()
    return op


def done_emergency_stop(staff, *, created_at=MARKET_OPEN) -> tuple[Operation, dict]:
    """An emergency stop that ran over two accounts: one exit filled, one still working, one refused;
    one order cancelled, one it could not cancel, one position skipped, one error on Bharat."""
    asha, bharat = AccountFactory(name="Asha"), AccountFactory(name="Bharat")
    infy, tcs = InstrumentFactory(tradingsymbol="INFY"), InstrumentFactory(tradingsymbol="TCS")
    filled = order(asha, infy, status=OrderStatus.COMPLETE, filled_quantity=5)
    working = order(bharat, infy, status=OrderStatus.OPEN)
    refused = order(bharat, tcs, status=OrderStatus.REJECTED, status_message="RMS: margin exceeds")
    cancelled = order(asha, tcs, leg="entry", side="BUY", status=OrderStatus.CANCELLED, tag="S0000ABCA000001E")
    stuck = order(bharat, tcs, leg="entry", side="BUY", status=OrderStatus.OPEN, tag="S0000ABDA000002E")
    skipped = Position.objects.create(account=asha, instrument=tcs, product="MIS", quantity=3)
    op = operation(
        actor=staff,
        created_at=created_at,
        started="Kill switch on, engine stopped; cancelling open orders and squaring off every position in a task.",
        summary="Emergency stop: Exchange glitch: 1 open order(s) cancelled, 3 exit order(s) sent.",
        report={
            "cancelled": [cancelled.id],
            "not_cancelled": {str(stuck.id): f"{stuck.tag}: the broker did not answer (timeout)"},
            "exit_orders": [filled.id, working.id, refused.id],
            "failed_exits": [refused.id],
            "skipped": {str(skipped.id): "an exit is already in flight"},
            "errors": [{"account_id": bharat.id, "message": "NSE:WIPRO: BrokerUnavailable: down"}],
        },
    )
    Operation.objects.filter(pk=op.pk).update(
        running_since=created_at + timedelta(seconds=1), finished_at=created_at + timedelta(seconds=7)
    )
    op.refresh_from_db()
    return op, {
        "asha": asha,
        "bharat": bharat,
        "filled": filled,
        "working": working,
        "refused": refused,
        "cancelled": cancelled,
        "stuck": stuck,
    }


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.parametrize("name,args", [("dashboard:operations", []), ("dashboard:operation", [1])])
def test_the_operations_pages_need_a_login(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboard:login") + "?next=")
    live = client.get(reverse(name, args=args), headers={"HX-Request": "true"})
    assert live["HX-Redirect"].startswith(reverse("dashboard:login"))


def test_the_list_shows_each_operation_newest_first_with_who_why_when_in_ist_and_its_progress(viewer_client, staff):
    done, _ = done_emergency_stop(staff)
    square_off = operation(
        kind=OperationKind.INTRADAY_SQUARE_OFF,
        state=OperationState.QUEUED,
        reason="Intraday square-off of MIS positions at 15:15 IST",
        created_at=MARKET_OPEN + timedelta(hours=6),
    )

    response = viewer_client.get(reverse("dashboard:operations"))  # read-only: a viewer sees it
    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(r'<tr class="operation-row" data-operation="(\d+)" data-state="(\w+)"', page)
    assert rows == [(str(square_off.id), "queued"), (str(done.id), "done")]
    text = text_of(response)
    assert "MIS square-off Queued Beat (MIS square-off time) MIS positions, every account" in text
    assert "Emergency stop Done operator Every account Exchange glitch" in text
    # 03:45 UTC is 09:15 IST; it finished 7 seconds later.
    assert "06 Jan 2025 09:15:00 06 Jan 2025 09:15:07" in text
    assert "3 exits sent · 1 position flat · 1 working · 1 refused, still open · 1 order cancelled" in text
    assert "Waiting for a worker" in text
    assert f'href="{reverse("dashboard:operation", args=[done.id])}"' in page
    assert 'hx-trigger="every 3s"' in page


def test_the_list_filters_by_kind_and_state_and_ignores_a_bad_value(viewer_client, staff):
    done, _ = done_emergency_stop(staff)
    account = AccountFactory(name="Chitra")
    flatten = operation(kind=OperationKind.ACCOUNT_FLATTEN, state=OperationState.RUNNING, account=account)

    def shown(query: str) -> list[int]:
        page = viewer_client.get(reverse("dashboard:operations") + query).content.decode()
        return [int(i) for i in re.findall(r'data-operation="(\d+)"', page)]

    assert shown("?kind=account_flatten") == [flatten.id]
    assert shown("?state=done") == [done.id]
    assert shown("?kind=emergency_stop&state=running") == []
    assert shown("?kind=nonsense&page=zzz") == [flatten.id, done.id]


def test_the_list_pages_and_its_queries_do_not_grow_with_the_operations(
    viewer_client, staff, django_assert_max_num_queries
):
    done_emergency_stop(staff)
    account = AccountFactory(name="Dev")
    operation(
        kind=OperationKind.ACCOUNT_FLATTEN, state=OperationState.RUNNING, account=account, running_since=timezone.now()
    )
    with CaptureQueriesContext(connection) as few:
        assert viewer_client.get(reverse("dashboard:operations")).status_code == 200

    instrument = InstrumentFactory(tradingsymbol="HDFCBANK")
    for n in range(40):
        exits = [order(account, instrument).id for _ in range(3)]
        operation(
            kind=OperationKind.ACCOUNT_FLATTEN,
            account=account,
            actor=staff,
            report={"exit_orders": exits, "cancelled": [], "not_cancelled": {}, "skipped": {}, "errors": []},
            created_at=MARKET_OPEN + timedelta(minutes=n),
        )
        operation(
            kind=OperationKind.STRATEGY_STOP,
            state=OperationState.RUNNING,
            strategy=StrategyFactory(),
            running_since=timezone.now(),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer_client.get(reverse("dashboard:operations"))
    assert response.status_code == 200
    assert "82 operations · page 1 of 4" in text_of(response)
    second = viewer_client.get(reverse("dashboard:operations") + "?page=2")
    assert len(re.findall(r'class="operation-row"', second.content.decode())) == 25


def test_the_detail_shows_each_account_its_orders_and_why(viewer_client, staff):
    op, made = done_emergency_stop(staff)
    response = viewer_client.get(reverse("dashboard:operation", args=[op.id]))
    assert response.status_code == 200
    page, text = response.content.decode(), text_of(response)

    asha, bharat = made["asha"], made["bharat"]
    parts = page.split('<div class="card mb-3 operation-account" data-account="')[1:]
    blocks = {part.split('"', 1)[0]: part for part in parts}
    assert list(blocks) == ["Asha", "Bharat"]
    assert "1 exit sent · 1 order cancelled" in text_of_html(blocks["Asha"])
    assert "2 exits sent · 0 orders cancelled" in text_of_html(blocks["Bharat"])
    # Each order is in its account's table, linked to the orders page showing this operation's orders.
    assert made["filled"].tag in blocks["Asha"] and made["cancelled"].tag in blocks["Asha"]
    assert made["refused"].tag in blocks["Bharat"] and "RMS: margin exceeds" in blocks["Bharat"]
    assert f"/orders/?operation={op.id}&amp;account={asha.id}" in blocks["Asha"]
    assert f"/orders/?operation={op.id}&amp;account={bharat.id}" in blocks["Bharat"]
    # Why some things were not done, under the account they concern.
    assert "not cancelled: " + made["stuck"].tag + ": the broker did not answer (timeout)" in text_of_html(
        blocks["Bharat"]
    )
    assert "TCS" in blocks["Asha"] and "an exit is already in flight" in blocks["Asha"]
    assert "BrokerUnavailable: down" in blocks["Bharat"]
    # Asha still holds the skipped TCS position; Bharat holds none.
    assert "1 position still open" in text_of_html(blocks["Asha"]) and "flat" in text_of_html(blocks["Bharat"])
    assert "Started 06 Jan 2025 09:15:00 IST" in text
    assert "Finished 06 Jan 2025 09:15:07 IST · its task took 6 s" in text
    assert "Started by operator" in text
    # An exit still working: the page keeps refreshing until it fills.
    assert 'hx-trigger="every 2s"' in page


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_detail_stops_refreshing_once_nothing_more_will_change(viewer_client, staff):
    op, made = done_emergency_stop(staff)
    Order.objects.filter(pk=made["working"].pk).update(status=OrderStatus.COMPLETE)
    page = viewer_client.get(reverse("dashboard:operation", args=[op.id])).content.decode()
    assert "hx-trigger" not in page.split('id="live"')[1].split(">")[0]
    assert 'id="operation-settled"' in page

    fragment = viewer_client.get(reverse("dashboard:operation", args=[op.id]), headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<div id="live"')
    assert "<nav" not in fragment.content.decode()


def test_a_running_operation_shows_its_own_orders_and_the_accounts_it_has_done(viewer_client, staff):
    asha, bharat = AccountFactory(name="Asha"), AccountFactory(name="Bharat")
    infy = InstrumentFactory(tradingsymbol="INFY")
    began = timezone.now() - timedelta(seconds=30)
    op = operation(
        kind=OperationKind.EMERGENCY_STOP,
        state=OperationState.RUNNING,
        actor=staff,
        running_since=began,
        created_at=began,
        report={"accounts_done": [asha.id], "errors": [], "not_cancelled": {}, "skipped": {}},
    )
    other = operation(kind=OperationKind.ACCOUNT_FLATTEN, state=OperationState.RUNNING, account=bharat)
    sent = order(asha, infy, status=OrderStatus.OPEN, operation=op)
    cancelled = order(
        bharat, infy, leg="entry", side="BUY", status=OrderStatus.CANCELLED, tag="S00000001A000001E", operation=op
    )
    theirs = order(bharat, infy, operation=other)  # the overlapping flatten's exit: not this operation's
    order(asha, infy, status=OrderStatus.OPEN)  # an exit in its scope no operation sent

    response = viewer_client.get(reverse("dashboard:operation", args=[op.id]))
    text, page = text_of(response), response.content.decode()
    assert "1 exit sent so far · 0 positions flat · 1 working · 1 order cancelled" in text
    assert sent.tag in page and cancelled.tag in page and theirs.tag not in page
    assert "1 account done" in text
    blocks = {p.split('"', 1)[0]: p for p in page.split('<div class="card mb-3 operation-account" data-account="')[1:]}
    assert "account-done" in blocks["Asha"] and "account-under-way" in blocks["Bharat"]
    assert 'hx-trigger="every 2s"' in page
    listed = text_of(viewer_client.get(reverse("dashboard:operations")))
    assert "1 exit sent so far · 0 positions flat · 1 working · 1 order cancelled" in listed


def test_a_running_operation_says_when_it_last_reported_and_a_finished_one_does_not(viewer_client, staff):
    now = MARKET_OPEN + timedelta(minutes=5)
    running = operation(
        state=OperationState.RUNNING,
        actor=staff,
        created_at=now - timedelta(seconds=40),
        running_since=now - timedelta(seconds=39),
        heartbeat_at=now - timedelta(seconds=12),  # 09:19:48 IST
    )
    done, _ = done_emergency_stop(staff)

    with time_machine.travel(now, tick=False):
        listed = viewer_client.get(reverse("dashboard:operations")).content.decode()
        detail = viewer_client.get(reverse("dashboard:operation", args=[running.id])).content.decode()
        finished = viewer_client.get(reverse("dashboard:operation", args=[done.id])).content.decode()
        live = viewer_client.get(reverse("dashboard:operation", args=[running.id]), headers={"HX-Request": "true"})

    row = listed.split(f'data-operation="{running.id}"')[1].split("</tr>")[0]
    for html in (row, detail, live.content.decode()):
        report = re.search(r'<time class="operation-last-report[^"]*"[^>]*>[^<]*</time>', html).group(0)
        assert "last report 12 s ago" in report
        assert 'title="Last report at 06 Jan 2025 09:19:48 IST"' in report
        assert "text-danger" not in report
    assert "last report" not in listed.split(f'data-operation="{done.id}"')[1].split("</tr>")[0]
    assert "last report" not in finished


def test_a_run_silent_past_the_stall_limit_is_flagged(viewer_client, staff, settings):
    settings.OPERATION_STALL_SECONDS = 120
    now = MARKET_OPEN + timedelta(minutes=10)
    running = operation(
        state=OperationState.RUNNING,
        actor=staff,
        created_at=now - timedelta(minutes=6),
        heartbeat_at=now - timedelta(seconds=200),
    )
    with time_machine.travel(now, tick=False):
        text = text_of(viewer_client.get(reverse("dashboard:operation", args=[running.id])))
        page = viewer_client.get(reverse("dashboard:operation", args=[running.id])).content.decode()
    assert "last report 3 min ago" in text
    assert "silent longer than 120 s: the sweep fails it and starts a replacement" in text
    assert re.search(r'<time class="operation-last-report[^"]*text-danger', page)


def test_an_unknown_operation_is_a_404(viewer_client):
    assert viewer_client.get(reverse("dashboard:operation", args=[999])).status_code == 404


def test_the_orders_page_shows_one_operations_orders(viewer_client, staff):
    op, made = done_emergency_stop(staff)
    other = order(
        made["asha"], InstrumentFactory(tradingsymbol="SBIN"), leg="entry", side="BUY", tag="S0000XYZA000001E"
    )
    page = viewer_client.get(reverse("dashboard:orders") + f"?operation={op.id}&account={made['bharat'].id}")
    html = page.content.decode()
    assert made["refused"].tag in html and made["stuck"].tag in html
    assert made["filled"].tag not in html and other.tag not in html
    assert f'href="{reverse("dashboard:operation", args=[op.id])}"' in html
    assert other.tag not in viewer_client.get(reverse("dashboard:orders") + "?operation=999").content.decode()


def test_the_emergency_stop_button_lands_on_its_operation_page(staff_client):
    response = staff_client.post(reverse("dashboard:emergency-stop"), {"reason": "Exchange glitch", "next": "/"})
    op = Operation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:operation", args=[op.id])
    page = staff_client.get(response["Location"])
    text = text_of(page)
    assert f"Emergency stop #{op.id}" in text and "/api/" not in text
    assert "Exchange glitch" in text


def test_the_nav_links_the_operations_page(viewer_client):
    page = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert f'href="{reverse("dashboard:operations")}" id="nav-operations">Operations</a>' in page


def test_a_viewer_sees_no_button_on_the_operation_page(viewer_client, staff):
    op, _ = done_emergency_stop(staff)
    page = viewer_client.get(reverse("dashboard:operation", args=[op.id])).content.decode()
    main = page.split("<main")[1].split("</main>")[0]
    assert 'method="post"' not in main
    assert Client().get(reverse("dashboard:operation", args=[op.id])).status_code == 302

"""Flatten one account and stop one strategy from the dashboard, in a real browser, after Start:
each button asks in a dialog, lands on its operation's page, and only its own positions go flat.

As in test_operator_flow: pytest-django's live server, a real Celery worker (Redis), the paper broker.
"""

import time

import pytest

from accounts.models import Account
from execution.demo import demo_seed
from execution.models import Operation, OperationKind, Order, Position
from strategies.models import Strategy
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEMO_STRATEGY = "SMA 3/8 crossover 1m"  # mapped onto all four demo accounts
DEMO_ACCOUNTS = ["Paper Asha", "Paper Bharat", "Paper Chitra", "Paper Dev"]
FLATTENED = "Paper Asha"


def shot(page, artifacts, name: str) -> None:
    page.wait_for_timeout(400)  # a dialog's fade-in, so the picture shows it as the operator reads it
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def held(**scope):
    return Position.objects.filter(**scope).exclude(quantity=0)


def follow_to_the_end(page, base: str, operation: Operation) -> None:
    """On the operation's page until it is done and every exit has filled; it went out cleanly."""
    assert page.url == f"{base}/operations/{operation.id}/"
    page.locator("#operation-settled").wait_for(timeout=90_000)
    assert page.locator("#operation-state .operation-state").inner_text() == "Done"
    operation.refresh_from_db()
    assert operation.report["exit_orders"] and operation.report["failed_exits"] == []


def test_flatten_one_account_then_stop_one_strategy(celery_worker, live_server, page, artifacts):
    seed = demo_seed(admin_username="admin")
    base = live_server.url
    log_in(page, base, seed.admin_username, seed.admin_password)

    # Start: within a minute every demo account holds what the 1m strategy wants.
    page.click("#engine-start")
    page.wait_for_selector("#engine-status:text-is('Running')")
    on_every_account = held(strategy__name=DEMO_STRATEGY, instrument__tradingsymbol="INFY")
    deadline = time.monotonic() + 60
    while on_every_account.count() < len(DEMO_ACCOUNTS) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert on_every_account.count() == len(DEMO_ACCOUNTS), "the demo did not take its positions within a minute"

    # Halt Paper Asha first (the flatten dialog says so: a flatten alone leaves its strategies free
    # to enter again on their next signal), then flatten it, confirmed in the dialog with a reason.
    page.goto(base + "/broker-accounts/")
    row = page.locator(f"#accounts-table tr[data-account='{FLATTENED}']")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Halt").click()
    page.wait_for_load_state()
    row.get_by_role("button", name="Resume").wait_for()
    row.get_by_role("button", name="Flatten").click()
    dialog = page.locator("#account-flatten-modal")
    dialog.wait_for(state="visible")
    assert f"Flatten {FLATTENED}" in dialog.locator(".modal-title").inner_text()
    assert "all its positions" in dialog.inner_text()
    dialog.locator("#account-flatten-reason").fill("Broker margin call")
    shot(page, artifacts, "flatten-01-confirm")
    page.click("#account-flatten-confirm")

    page.wait_for_url("**/operations/*/")
    operation = Operation.objects.get(kind=OperationKind.ACCOUNT_FLATTEN)
    asha = Account.objects.get(name=FLATTENED)
    assert operation.account == asha and operation.actor.username == seed.admin_username
    assert operation.reason == "Broker margin call"
    assert f"Account flatten #{operation.id}" in page.locator("main h1").inner_text()
    shot(page, artifacts, "flatten-02-operation")
    follow_to_the_end(page, base, operation)
    section = page.locator(f".operation-account[data-account='{FLATTENED}']")
    assert section.locator(".account-open-positions").inner_text() == "flat"
    shot(page, artifacts, "flatten-03-done")

    # That account is flat; the others still hold their positions, on the page and in the book.
    assert not held(account=asha).exists()
    exits = Order.objects.filter(id__in=operation.report["exit_orders"])
    assert {o.account_id for o in exits} == {asha.id}
    page.goto(base + "/broker-accounts/")
    assert page.locator(f"#accounts-table tr[data-account='{FLATTENED}'] .account-open").inner_text() == "0"
    for name in DEMO_ACCOUNTS[1:]:
        assert held(account__name=name).exists(), f"{name} was flattened too"
        assert int(page.locator(f"#accounts-table tr[data-account='{name}'] .account-open").inner_text()) > 0
    shot(page, artifacts, "flatten-04-accounts")

    # Stop the 1m strategy from its page: switched off, only its positions closed, on every account.
    strategy = Strategy.objects.get(name=DEMO_STRATEGY)
    assert held(strategy=strategy).exists() and held().exclude(strategy=strategy).exists()
    page.goto(f"{base}/strategies/{strategy.id}/")
    page.click("#strategy-stop")
    dialog = page.locator("#strategy-stop-modal")
    dialog.wait_for(state="visible")
    assert f"Stop {DEMO_STRATEGY}" in dialog.locator(".modal-title").inner_text()
    shot(page, artifacts, "strategy-stop-01-confirm")
    page.click("#strategy-stop-confirm")

    page.wait_for_url("**/operations/*/")
    operation = Operation.objects.get(kind=OperationKind.STRATEGY_STOP)
    assert operation.strategy == strategy and operation.actor.username == seed.admin_username
    assert f"Strategy stop #{operation.id}" in page.locator("main h1").inner_text()
    follow_to_the_end(page, base, operation)
    shot(page, artifacts, "strategy-stop-02-done")
    strategy.refresh_from_db()
    assert not strategy.trading_enabled
    assert not held(strategy=strategy).exists()
    # Other strategies' positions stay: every exit it sent was the stopped strategy's.
    exits = Order.objects.filter(id__in=operation.report["exit_orders"])
    assert {o.strategy_id for o in exits} == {strategy.id}
    assert held().exclude(strategy=strategy).exists()

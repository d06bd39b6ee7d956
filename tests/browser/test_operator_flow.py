"""The operator's morning, in a real browser: log in, start, trade by hand, emergency stop (and
follow it on its operation page until every account is flat).

The pages run on pytest-django's live server; orders go through a real Celery worker (Redis) and
the paper broker, exactly as ``make run`` does, and the live regions refresh by themselves.
"""

import time

import pytest

from execution.demo import demo_seed
from execution.models import Operation, OperationKind, Order, OrderStatus, Position
from risk.selectors import engine_state
from tests.browser.conftest import DESKTOP, PHONE, csp_violations, log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEMO_STRATEGY = "SMA 3/8 crossover 1m"  # mapped onto all four demo accounts
DEMO_ACCOUNTS = ["Paper Asha", "Paper Bharat", "Paper Chitra", "Paper Dev"]


def shot(page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_log_in_start_send_a_signal_and_emergency_stop(celery_worker, live_server, page, artifacts):
    seed = demo_seed(admin_username="admin")
    base = live_server.url

    # Log in, and the overview shows the demo book with the engine stopped.
    page.goto(base + "/")
    assert "/login/" in page.url
    shot(page, artifacts, "01-login")
    log_in(page, base, seed.admin_username, seed.admin_password)
    for name in DEMO_ACCOUNTS:
        assert page.locator("#overview-accounts").get_by_text(name).is_visible()
    assert page.locator("#engine-status").inner_text() == "Stopped"
    assert page.locator("#simulated-badge").is_visible()
    shot(page, artifacts, "02-overview-demo")

    # Start the engine: the strategies' latest closed bars are evaluated at once, and within a minute
    # every demo account holds what its strategies want (the demo's strategies are never flat).
    page.click("#engine-start")
    page.wait_for_selector("#engine-status:text-is('Running')")
    assert engine_state().running
    shot(page, artifacts, "03-engine-started")
    held = Position.objects.filter(strategy__name=DEMO_STRATEGY, instrument__tradingsymbol="INFY").exclude(quantity=0)
    deadline = time.monotonic() + 60
    while held.count() < len(DEMO_ACCOUNTS) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert held.count() == len(DEMO_ACCOUNTS), "the demo did not take its positions within a minute of Start"
    page.goto(base + "/")
    assert int(page.locator("#open-positions-count").inner_text()) >= len(DEMO_ACCOUNTS)
    shot(page, artifacts, "04-positions-taken-at-start")

    # Exit INFY by hand on the 1m strategy (flat: no stop needed).
    page.goto(base + "/signals/")
    page.select_option("#id_strategy", label=DEMO_STRATEGY)
    page.select_option("#id_instrument", label="NSE:INFY")
    page.select_option("#id_direction", value="0")
    shot(page, artifacts, "05-manual-exit-form")
    page.click("#manual-signal-submit")
    page.wait_for_url("**/signals/*/")
    shot(page, artifacts, "06-signal-sent")
    signal_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # Its orders appear as the accounts handle it, by live refresh: the page is never reloaded.
    page.evaluate("window.__stillTheSamePage = true")
    # Locators, not wait_for_function: the Content-Security-Policy forbids the eval it needs.
    complete = page.locator("#signal-orders tr.order-row[data-status=COMPLETE]")
    complete.nth(len(DEMO_ACCOUNTS) - 1).wait_for(timeout=90_000)
    assert complete.count() == len(DEMO_ACCOUNTS)  # one exit per account
    assert page.evaluate("window.__stillTheSamePage") is True
    for name in DEMO_ACCOUNTS:
        assert page.locator("#signal-orders").get_by_text(name).is_visible()
    orders = Order.objects.filter(signal_id=signal_id)
    assert orders.count() == len(DEMO_ACCOUNTS) and {o.status for o in orders} == {OrderStatus.COMPLETE}
    assert not held.exists(), "INFY is flat on every account after the manual exit"
    shot(page, artifacts, "07-exits-complete")

    # Emergency stop from the overview, confirmed in its dialog: every position goes flat.
    page.goto(base + "/")
    page.click("#engine-emergency-stop")
    dialog = page.locator("#emergency-stop-modal")
    dialog.wait_for(state="visible")
    assert "squares off" in dialog.inner_text()
    shot(page, artifacts, "08-emergency-confirm")
    open_before = Position.objects.exclude(quantity=0).count()
    assert open_before > 0  # the demo's other strategies and instruments
    page.click("#emergency-stop-confirm")

    # It lands on the emergency stop's own page, which follows it by live refresh until it is done
    # and every exit has filled, then stops refreshing.
    page.wait_for_url("**/operations/*/")
    operation = Operation.objects.get(kind=OperationKind.EMERGENCY_STOP)
    assert page.url == f"{base}/operations/{operation.id}/"
    assert f"Emergency stop #{operation.id}" in page.locator("main h1").inner_text()
    shot(page, artifacts, "09-emergency-stop-operation")
    page.locator("#operation-settled").wait_for(timeout=90_000)
    assert page.locator("#operation-state .operation-state").inner_text() == "Done"
    assert page.locator("#operation-finished time").inner_text().endswith(" IST")
    operation.refresh_from_db()
    assert len(operation.report["exit_orders"]) == open_before and operation.report["failed_exits"] == []
    exits = "1 exit sent" if open_before == 1 else f"{open_before} exits sent"
    flat = "1 position flat" if open_before == 1 else f"{open_before} positions flat"
    assert page.locator("#operation-facts .exits-sent").inner_text() == exits
    assert page.locator("#operation-facts .positions-flat").inner_text() == flat
    assert page.locator("#operation-open-positions").inner_text() == "0 positions still open"
    accounts = page.locator(".operation-account")
    assert accounts.count() >= 1
    for n in range(accounts.count()):
        assert accounts.nth(n).locator(".account-open-positions").inner_text() == "flat"
        assert accounts.nth(n).locator("tr.order-row[data-status=COMPLETE]").count() >= 1
    shot(page, artifacts, "10-emergency-stop-done")

    # The overview agrees: kill switch on, every account flat.
    page.goto(base + "/")
    page.wait_for_selector("#engine-status:text-is('Emergency stop: kill switch on')")
    page.wait_for_selector("#overview-positions >> text=every account is flat")
    assert page.locator("#open-positions-count").inner_text() == "0"
    assert not Position.objects.exclude(quantity=0).exists()
    state = engine_state()
    assert state.kill_switch and not state.running
    shot(page, artifacts, "11-flat-after-emergency-stop")


PAGES = [
    "/",
    "/pnl/",
    "/risk/",
    "/broker-accounts/",
    "/strategies/",
    "/mappings/",
    "/positions/",
    "/orders/",
    "/signals/",
    "/operations/",
]


def test_every_page_fits_a_phone_and_a_desktop(live_server, browser, artifacts):
    from tradingsite.benchmarks.dashboard import BookSize, build_trading_book

    seed = demo_seed(admin_username="admin")
    build_trading_book(size=BookSize(accounts=6, strategies=3, orders=120))
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        refused = csp_violations(page)
        log_in(page, live_server.url, seed.admin_username, seed.admin_password)
        for path in PAGES:
            page.goto(live_server.url + path)
            page.wait_for_selector("#live")
            if path == "/pnl/":
                page.locator("#pnl-charts[data-updated]:not([data-updated=''])").wait_for()
            # Wide tables scroll inside their .table-responsive box; the page itself never does.
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a {label} screen"
            if label == "phone":
                # A stacked row's cell shows its value whole: nothing runs past the cell's right edge
                # (hidden by the table's scroll box, as "₹0.00 of ₹10,000.0…" was on the accounts page).
                spilled = page.evaluate(
                    """() => Array.from(document.querySelectorAll('table.table-stack td[data-label]'))
                        .filter((td) => td.scrollWidth > td.clientWidth + 1)
                        .map((td) => td.dataset.label + ': ' + td.innerText.replace(/\\s+/g, ' ').trim())"""
                )
                assert spilled == [], f"{path}: cells run off a phone screen: {spilled}"
            name = path.strip("/").replace("/", "-") or "overview"
            # A phone's first screen is what a trader sees; the desktop shot is the whole page.
            page.screenshot(path=str(artifacts / f"page-{name}-{label}.png"), full_page=label == "desktop")
        context.close()
        assert refused == [], f"the Content-Security-Policy refused something on a {label} screen"

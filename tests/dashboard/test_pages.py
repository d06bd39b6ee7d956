"""Every dashboard page: login required, renders with data, refreshes as a fragment, and runs the
same number of queries whatever the size of the book."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from execution.models import Fill, Order, OrderStatus, Position
from strategies.models import Signal
from tradingsite.benchmarks.dashboard import BookSize, build_trading_book

PAGES = [
    ("dashboard:overview", {}),
    ("dashboard:pnl", {}),
    ("dashboard:pnl-charts", {}),
    ("dashboard:risk", {}),
    ("dashboard:accounts", {}),
    ("dashboard:strategies", {}),
    ("dashboard:mappings", {}),
    ("dashboard:positions", {}),
    ("dashboard:orders", {}),
    ("dashboard:signals", {}),
]
LIVE_PAGES = [name for name, _ in PAGES if name != "dashboard:pnl-charts"]


def url_of(name: str) -> str:
    return reverse(name)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [name for name, _ in PAGES])
def test_every_page_sends_an_anonymous_visitor_to_the_login_page(client, name):
    response = client.get(url_of(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboard:login") + "?next=")


@pytest.mark.django_db
def test_a_live_refresh_after_the_session_ended_sends_the_browser_to_log_in(client):
    response = client.get(url_of("dashboard:orders"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("dashboard:login"))
    assert "<table" not in response.content.decode()


@pytest.mark.django_db
def test_the_login_page_logs_a_user_in_and_lands_on_the_overview(client, viewer):
    page = client.get(reverse("dashboard:login"))
    assert page.status_code == 200
    response = client.post(reverse("dashboard:login"), {"username": "viewer", "password": "pw-viewer"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:overview")
    assert client.get(reverse("dashboard:overview")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", LIVE_PAGES)
def test_each_page_renders_the_book_and_refreshes_as_a_fragment(viewer_client, name):
    build_trading_book(size=BookSize(accounts=3, strategies=2, orders=30))
    page = viewer_client.get(url_of(name))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html and 'hx-trigger="every' in html
    assert "/static/vendor/htmx/htmx.min.js" in html
    # Every script and stylesheet is served locally: nothing loads from another host.
    assert not re.search(r'(src|href)="(https?:)?//', html)

    fragment = viewer_client.get(url_of(name), headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert "<html" not in body and 'id="live"' in body and 'hx-trigger="every' in body


SMALL_AND_LARGER = (BookSize(accounts=2, strategies=2, orders=20), BookSize(accounts=8, strategies=4, orders=400))


def two_books():
    """Yield after building each book in turn: the second adds to the first (more of everything)."""
    for i, size in enumerate(SMALL_AND_LARGER):
        build_trading_book(size=size, prefix=f"B{i}", seed=i + 1)
        yield size


@pytest.mark.django_db
@pytest.mark.parametrize("name", [name for name, _ in PAGES])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_queries_per_page_do_not_grow_with_the_book(viewer_client, django_assert_num_queries, name, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    counts = []
    for _ in two_books():
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get(url_of(name), headers=headers).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], f"{name}: {counts[0]} queries on the small book, {counts[1]} on the larger"
    with django_assert_num_queries(counts[0]):
        viewer_client.get(url_of(name), headers=headers)
    assert counts[0] <= 25


@pytest.mark.django_db
def test_a_signal_page_and_its_orders_use_a_fixed_number_of_queries(viewer_client, django_assert_num_queries):
    counts = []
    for size in two_books():
        signal = Signal.objects.order_by("-id").first()
        assert Order.objects.filter(signal=signal).count() == size.accounts
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get(reverse("dashboard:signal", args=[signal.id])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_the_orders_page_shows_blocked_and_rejected_orders_as_failures_with_their_reasons(viewer_client):
    build_trading_book(size=BookSize(accounts=4, strategies=2, orders=200))
    blocked = Order.objects.filter(status=OrderStatus.BLOCKED).select_related("risk_decision").first()
    rejected = Order.objects.filter(status=OrderStatus.REJECTED).first()

    html = viewer_client.get(reverse("dashboard:orders"), {"status": "BLOCKED"}).content.decode()
    rows = re.findall(r'<tr class="order-row" data-status="(\w+)">', html)
    assert rows and set(rows) == {"BLOCKED"}
    assert "Blocked by risk checks" in html
    assert blocked.risk_decision.checks[0]["reason"].replace("&", "&amp;") in html.replace("&#x27;", "'")
    assert "text-bg-danger" in html and "text-bg-success" not in html

    html = viewer_client.get(reverse("dashboard:orders"), {"status": "REJECTED"}).content.decode()
    assert "Rejected" in html and rejected.status_message in html


@pytest.mark.django_db
def test_the_orders_page_pages_through_orders_newest_first(viewer_client):
    build_trading_book(size=BookSize(accounts=5, strategies=2, orders=120))
    first = viewer_client.get(reverse("dashboard:orders"))
    assert first.context["page"].paginator.count == 120
    assert len(first.context["page"].object_list) == 50
    third = viewer_client.get(reverse("dashboard:orders"), {"page": 3})
    assert len(third.context["page"].object_list) == 20
    newest = Order.objects.order_by("-created_at", "-id").first()
    assert first.context["page"].object_list[0] == newest


@pytest.mark.django_db
def test_pages_label_simulated_prices_as_simulated(viewer_client, settings):
    build_trading_book(size=BookSize(accounts=2, strategies=1, orders=4))
    settings.MARKET_DATA_SOURCE = "simulated"
    assert 'id="simulated-badge"' in viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert "simulated" in viewer_client.get(reverse("dashboard:signals")).content.decode()
    assert viewer_client.get(reverse("dashboard:pnl-charts")).json()["simulated"] is True
    settings.MARKET_DATA_SOURCE = "database"
    assert 'id="simulated-badge"' not in viewer_client.get(reverse("dashboard:overview")).content.decode()


@pytest.mark.django_db
def test_the_overview_shows_halted_accounts_and_todays_pnl(viewer_client):
    build_trading_book(size=BookSize(accounts=10, strategies=3, orders=100))
    response = viewer_client.get(reverse("dashboard:overview"))
    html = response.content.decode()
    assert "BENCH account 009 halted" in html  # every tenth account of the book is halted
    total = response.context["totals"]["total"]
    realised = sum(f.realised_pnl for f in Fill.objects.all())
    unrealised = sum(p.unrealised_pnl for p in Position.objects.exclude(quantity=0))
    assert total == realised + unrealised


@pytest.mark.django_db
def test_the_charts_endpoint_draws_the_same_figures_as_the_tables(viewer_client):
    build_trading_book(size=BookSize(accounts=3, strategies=2, orders=60))
    data = viewer_client.get(reverse("dashboard:pnl-charts")).json()
    page = viewer_client.get(reverse("dashboard:pnl")).context
    assert data["by_account"]["labels"] == [r["account"].name for r in page["accounts"]]
    assert data["by_account"]["realised"] == [float(r["realised"]) for r in page["accounts"]]
    assert data["by_strategy"]["labels"] == [r["strategy"] for r in page["by_strategy"]]
    assert data["equity"]["points"][-1]["equity"] == pytest.approx(float(page["totals"]["total"]))
    assert data["equity"]["points"][-1]["net"] == pytest.approx(float(page["totals"]["net"]))


@pytest.mark.django_db
def test_the_equity_curve_ends_now_with_todays_realised_and_unrealised_pnl(viewer_client):
    build_trading_book(size=BookSize(accounts=1, strategies=1, orders=0))
    Fill.objects.all().delete()
    Position.objects.all().delete()
    from execution.models import EquitySnapshot
    from execution.selectors import equity_curve

    EquitySnapshot.objects.all().delete()
    from tests.factories import AccountFactory, InstrumentFactory

    account, instrument = AccountFactory(), InstrumentFactory()
    now = timezone.now()
    order = Order.objects.create(
        account=account, instrument=instrument, leg="exit", side="SELL", quantity=10, product="MIS",
        reference_price=Decimal("100"), tag="CURVE1",
    )  # fmt: skip
    for i, (minutes_ago, pnl) in enumerate([(30, "100"), (30, "20"), (10, "-50")]):
        Fill.objects.create(
            order=order, account=account, broker_trade_id=f"T{i}", quantity=1, price=Decimal("100"),
            realised_pnl=Decimal(pnl), filled_at=now - timedelta(minutes=minutes_ago),
        )  # fmt: skip
    Fill.objects.create(
        order=order,
        account=account,
        broker_trade_id="Y",
        quantity=1,
        price=Decimal("100"),
        realised_pnl=Decimal("999"),
        filled_at=now - timedelta(days=2),
    )  # fmt: skip  (yesterday's fill is not today's P&L)
    Position.objects.create(
        account=account, instrument=instrument, product="MIS", quantity=5, average_price=Decimal("100"),
        last_price=Decimal("104"), unrealised_pnl=Decimal("20"),
    )  # fmt: skip

    curve = equity_curve(now)
    assert curve["points"] == []  # no mark stored yet (tests/execution/test_charges_and_equity.py)
    assert curve["realised"] == Decimal("70")
    assert curve["unrealised"] == Decimal("20")
    assert curve["now"]["equity"] == Decimal("90")


@pytest.mark.django_db
def test_the_risk_page_says_which_accounts_cannot_open_entries_and_why(staff_client):
    from risk.services import engine_start

    build_trading_book(size=BookSize(accounts=10, strategies=2, orders=200))
    engine_start(reason="test")
    html = staff_client.get(reverse("dashboard:risk")).content.decode()
    rows = dict(re.findall(r'<td class="fw-semibold">(BENCH account \d+)<.*?<td>\s*(.*?)</td>', html, re.S))
    assert "Blocked" in rows["BENCH account 009"] and "Halted" in rows["BENCH account 009"]
    assert "Allowed" in rows["BENCH account 000"] or "Daily loss limit reached" in rows["BENCH account 000"]
    # A refused decision's failed check is shown with its reason.
    assert "daily_loss: Today&#x27;s P&amp;L is" in html


@pytest.mark.django_db
def test_a_kite_account_that_is_not_logged_in_gets_a_login_button(viewer_client):
    from tests.factories import AccountFactory

    kite = AccountFactory(name="Kite Esha", broker="kite", zerodha_user_id="AB1234", api_key="key")
    AccountFactory(name="Paper Farah")
    html = viewer_client.get(reverse("dashboard:accounts")).content.decode()
    assert f'href="{reverse("accounts:kite-login", args=[kite.id])}"' in html
    assert "Log in with Kite" in html and html.count("Log in with Kite") == 1  # paper accounts need none
    overview = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert "Kite Esha needs login" in overview


@pytest.mark.django_db
def test_the_risk_and_mappings_pages_show_each_mappings_capital_per_position(staff_client):
    """The seed's example: ₹50,000 allocated to a strategy of three instruments, ₹16,666.66 a position."""
    from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

    strategy = StrategyFactory(name="SMA three", instruments=[InstrumentFactory() for _ in range(3)])
    account = AccountFactory(name="Paper Asha", capital=Decimal("100000"))
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("50"))

    risk = staff_client.get(reverse("dashboard:risk")).content.decode()
    assert "SMA three: ₹16,666.66 a position (₹50,000.00 ÷ 3)" in risk
    mappings = staff_client.get(reverse("dashboard:mappings")).content.decode()
    assert "₹16,666.66" in mappings and "÷ 3 positions" in mappings

    strategy.max_positions = 2
    strategy.save()
    assert (
        "SMA three: ₹25,000.00 a position (₹50,000.00 ÷ 2)"
        in staff_client.get(reverse("dashboard:risk")).content.decode()
    )

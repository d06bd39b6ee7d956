"""The Kite adapter against the local emulator, through the real kiteconnect client."""

import time
from decimal import Decimal

import pytest
from kiteconnect import KiteConnect

from execution.brokers import (
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    OutcomeUnknown,
    RateLimited,
    SessionExpired,
    broker_for,
)
from execution.brokers.budget import LocalOrderBudget, RedisOrderBudget, Window
from execution.brokers.kite import KiteBroker, order_status

pytestmark = pytest.mark.django_db


def request(tag="S00000001A000001E", **overrides) -> OrderRequest:
    fields = dict(
        tag=tag,
        exchange="NSE",
        tradingsymbol="INFY",
        instrument_token=408065,
        side="BUY",
        quantity=3,
        product="MIS",
        order_type="MARKET",
        reference_price=Decimal("1500"),
    )
    fields.update(overrides)
    return OrderRequest(**fields)


@pytest.fixture
def account(kite_settings, make_kite_account):
    return make_kite_account(1)


@pytest.fixture
def broker(account):
    broker = broker_for(account)
    assert isinstance(broker, KiteBroker)
    return broker


def posts(emu, tag=None, status=None):
    return sum(
        1
        for r in emu.requests
        if r.method == "POST" and r.path.startswith("/orders/") and (tag is None or r.params.get("tag") == tag)
        if status is None or r.status == status
    )


def test_a_market_order_carries_protection_algo_id_and_tag(broker, kite_emulator):
    result = broker.place_order(request())

    assert result.status == "SUBMITTED"
    [order] = kite_emulator.orders("key1", tag="S00000001A000001E")
    assert order["order_id"] == result.order_id
    assert order["status"] == "COMPLETE"
    sent = next(r.params for r in kite_emulator.requests if r.method == "POST")
    assert sent["market_protection"] == "-1"
    assert sent["algo_id"] == "ALGO123"
    assert sent["quantity"] == "3" and sent["transaction_type"] == "BUY" and sent["product"] == "MIS"


@pytest.mark.parametrize(
    ("order_type", "price", "trigger", "product"),
    [
        ("LIMIT", Decimal("1490.05"), None, "CNC"),
        ("SL", Decimal("1510"), Decimal("1505"), "NRML"),
        ("SL-M", None, Decimal("1505"), "MIS"),
    ],
)
def test_limit_and_stop_orders(broker, kite_emulator, order_type, price, trigger, product):
    kite_emulator.set_fill_mode("open")
    result = broker.place_order(request(order_type=order_type, price=price, trigger_price=trigger, product=product))

    order = kite_emulator.order(result.order_id)
    assert order["order_type"] == order_type and order["product"] == product
    if price is not None:
        assert Decimal(str(order["price"])) == price
    if trigger is not None:
        assert Decimal(str(order["trigger_price"])) == trigger
    sent = next(r.params for r in kite_emulator.requests if r.method == "POST")
    assert ("market_protection" in sent) == (order_type == "SL-M")
    [mine] = [o for o in broker.orders() if o.order_id == result.order_id]
    assert mine.status == "OPEN"  # OPEN or TRIGGER PENDING: live at the exchange


def test_a_limit_order_without_a_price_is_refused_before_sending(broker, kite_emulator):
    with pytest.raises(BrokerRejected, match="needs a price"):
        broker.place_order(request(order_type="LIMIT"))
    assert posts(kite_emulator) == 0


def test_market_protection_setting_is_validated(broker, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.KITE_MARKET_PROTECTION = 0
    with pytest.raises(ImproperlyConfigured, match="KITE_MARKET_PROTECTION"):
        broker.place_order(request())


def test_order_book_trades_positions_and_ltp(broker, kite_emulator):
    kite_emulator.set_fill_mode("partial", fraction=0.5)
    placed = broker.place_order(request(quantity=10))

    [order] = [o for o in broker.orders() if o.tag == "S00000001A000001E"]
    assert (order.order_id, order.status, order.filled_quantity, order.quantity) == (placed.order_id, "OPEN", 5, 10)
    assert order.average_price == Decimal("1500")
    [trade] = broker.trades()
    assert (trade.order_id, trade.quantity, trade.price) == (placed.order_id, 5, Decimal("1500"))
    assert trade.filled_at.tzinfo is not None
    assert broker.order_trades(placed.order_id) == [trade]
    [position] = broker.positions()
    assert (position.tradingsymbol, position.product, position.quantity) == ("INFY", "MIS", 5)
    kite_emulator.set_ltp("NSE:SBIN", 812.35)
    assert broker.ltp(["NSE:INFY", "NSE:SBIN"]) == {"NSE:INFY": Decimal("1500"), "NSE:SBIN": Decimal("812.35")}


def test_cancel(broker, kite_emulator):
    kite_emulator.set_fill_mode("open")
    placed = broker.place_order(request(order_type="LIMIT", price=Decimal("1400")))
    broker.cancel_order(placed.order_id)
    assert kite_emulator.order(placed.order_id)["status"] == "CANCELLED"
    with pytest.raises(BrokerRejected, match="cancel"):
        broker.cancel_order(placed.order_id)  # already cancelled: Kite refuses


def test_orders_of_several_accounts_reuse_one_connection_with_their_own_credentials(
    kite_settings, make_kite_account, kite_emulator
):
    """A new connection (a TLS handshake at Kite) per order would cost more than the order itself."""
    first, second = make_kite_account(1), make_kite_account(2)

    broker_for(first).place_order(request(tag="S00000001A000001E"))
    broker_for(second).place_order(request(tag="S00000001A000002E"))
    broker_for(first).place_order(request(tag="S00000002A000001E"))

    sent = [r for r in kite_emulator.requests if r.method == "POST" and r.path.startswith("/orders/")]
    assert [r.api_key for r in sent] == [first.api_key, second.api_key, first.api_key]
    assert len({(r.client_ip, r.client_port) for r in sent}) == 1
    assert kite_emulator.orders(first.api_key, tag="S00000001A000002E") == []  # each order on its own account


def test_kite_statuses_map_onto_the_projects():
    assert order_status("TRIGGER PENDING") == "OPEN"
    assert order_status("OPEN PENDING") == "SUBMITTED"
    assert order_status("AMO REQ RECEIVED") == "SUBMITTED"
    assert order_status("CANCEL PENDING") == "OPEN"
    assert order_status("COMPLETE") == "COMPLETE"
    assert order_status("REJECTED") == "REJECTED"
    assert order_status("something new") == "SUBMITTED"


@pytest.mark.parametrize(
    ("kind", "error", "placed"),
    [
        ("input_exception", BrokerRejected, False),
        ("order_exception", BrokerRejected, False),
        ("expired_token", SessionExpired, False),
        ("http_500", OutcomeUnknown, False),
        ("http_502", OutcomeUnknown, False),
        ("http_503", OutcomeUnknown, False),
        ("html_502", OutcomeUnknown, False),
        ("connection_reset", OutcomeUnknown, False),
        ("accept_then_hang", OutcomeUnknown, True),
        ("accept_then_reset", OutcomeUnknown, True),
        ("accept_then_500", OutcomeUnknown, True),
        ("accept_then_502", OutcomeUnknown, True),
        ("accept_then_503", OutcomeUnknown, True),
    ],
)
def test_placement_faults_map_onto_the_projects_errors(broker, kite_emulator, kind, error, placed):
    kite_emulator.inject_fault("key1", kind, route="place_order", count=1, seconds=2 if "hang" in kind else None)

    with pytest.raises(error):
        broker.place_order(request())

    assert posts(kite_emulator) == 1  # never a second POST
    assert len(kite_emulator.orders("key1", tag="S00000001A000001E")) == (1 if placed else 0)


def test_a_non_whitelisted_ip_is_explained_to_the_trader(broker, kite_emulator):
    kite_emulator.inject_fault("key1", "ip_not_whitelisted")

    with pytest.raises(BrokerRejected) as caught:
        broker.place_order(request())

    message = str(caught.value)
    assert "IP address is not whitelisted" in message
    assert "Kite developer console" in message
    assert kite_emulator.orders("key1") == []


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("http_503", BrokerUnavailable),
        ("html_502", BrokerUnavailable),
        ("connection_reset", BrokerUnavailable),
        ("expired_token", SessionExpired),
    ],
)
def test_read_faults(broker, kite_emulator, kind, error):
    kite_emulator.inject_fault("key1", kind, route="orders")
    with pytest.raises(error):
        broker.orders()


def test_a_read_that_hangs_is_unavailable(broker, kite_emulator):
    kite_emulator.inject_fault("key1", "latency", route="positions", seconds=2)
    with pytest.raises(BrokerUnavailable, match="no answer"):
        broker.positions()


# --- 429 ------------------------------------------------------------------------------------------


def test_429_then_not_in_the_book_is_sent_once_more(broker, kite_emulator, kite_settings):
    kite_settings.KITE_RATE_LIMIT_BACKOFF_SECONDS = 0.4
    kite_emulator.rate_limits_enabled = True
    kite_emulator.rate_limits["orders"] = [(1, 0.3)]
    broker.place_order(request(tag="OTHER1"))  # uses the one request of the window

    result = broker.place_order(request())

    assert posts(kite_emulator, "S00000001A000001E", status=429) == 1
    assert posts(kite_emulator, "S00000001A000001E", status=200) == 1
    [order] = kite_emulator.orders("key1", tag="S00000001A000001E")
    assert order["order_id"] == result.order_id


def test_429_twice_is_not_sent(broker, kite_emulator):
    kite_emulator.rate_limits_enabled = True
    kite_emulator.rate_limits["orders"] = [(1, 5.0)]
    broker.place_order(request(tag="OTHER1"))

    with pytest.raises(RateLimited, match="Not sent"):
        broker.place_order(request())

    assert posts(kite_emulator, "S00000001A000001E", status=429) == 2
    assert kite_emulator.orders("key1", tag="S00000001A000001E") == []


def test_429_but_found_in_the_book_is_adopted_not_sent_again(broker, kite_emulator, account):
    # The order reached Kite (sent here directly) although the answer we get is a 429.
    kite_emulator.rate_limits_enabled = True
    kite_emulator.rate_limits["orders"] = [(1, 5.0)]
    direct = KiteConnect(account.api_key, access_token=account.get_access_token(), root=kite_emulator.root)
    order_id = direct.place_order(**broker.order_params(request()))

    result = broker.place_order(request())

    assert result.order_id == order_id
    assert result.status == "COMPLETE"
    assert posts(kite_emulator, "S00000001A000001E") == 2  # the direct one and our refused one
    assert len(kite_emulator.orders("key1", tag="S00000001A000001E")) == 1


def test_the_budget_keeps_a_burst_under_kites_limits(broker, kite_emulator):
    kite_emulator.rate_limits_enabled = True  # Kite's own numbers: 10/s, 400/min

    started = time.monotonic()
    for i in range(25):
        broker.place_order(request(tag=f"BURST{i}"))

    assert kite_emulator.count_requests(status=429) == 0
    assert len(kite_emulator.orders("key1")) == 25
    assert time.monotonic() - started >= 2.0  # 25 orders need at least two more windows


# --- the budget itself ----------------------------------------------------------------------------


@pytest.fixture(params=["local", "redis"])
def budget(request, settings):
    windows = (Window(3, 0.5), Window(5, 2.0))
    if request.param == "local":
        return LocalOrderBudget(windows)
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    return RedisOrderBudget(settings.REDIS_URL, windows, prefix=f"test{time.time_ns()}:")


def test_budget_windows(budget):
    assert [budget.try_acquire("a") for _ in range(3)] == [0, 0, 0]
    wait = budget.try_acquire("a")
    assert 0.3 < wait <= 0.5
    assert budget.try_acquire("b") == 0  # per account
    time.sleep(wait + 0.02)
    assert budget.try_acquire("a") == 0
    assert budget.try_acquire("a") == 0
    assert budget.try_acquire("a") > 1.0  # the per-2 s window (5) is full now


def test_budget_gives_up_rather_than_wait_too_long(budget):
    for _ in range(5):
        budget.acquire("a", max_wait=2)
    with pytest.raises(RateLimited, match="Not sent"):
        budget.acquire("a", max_wait=0.2)


def test_a_proxy_from_the_environment_carries_kite_calls(kite_settings, make_kite_account, monkeypatch):
    """Some traders reach Kite through a proxy with their whitelisted static IP: the environment's
    proxy settings (read once per session, not per request) still apply. Port 9 refuses."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(BrokerUnavailable):
        broker_for(make_kite_account(1)).ltp(["NSE:INFY"])


def test_hosts_the_environment_excludes_from_the_proxy_are_reached_directly(
    kite_settings, make_kite_account, monkeypatch
):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert broker_for(make_kite_account(1)).ltp(["NSE:INFY"]) == {"NSE:INFY": Decimal("1500")}


def test_a_ca_bundle_from_the_environment_verifies_kites_certificate(kite_settings, make_kite_account, monkeypatch):
    """A TLS-inspecting corporate proxy needs its CA: REQUESTS_CA_BUNDLE is honoured as requests does."""
    from accounts.kite import kite_client

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corporate-ca.pem")
    session = kite_client(make_kite_account(1)).reqsession
    settings = session.merge_environment_settings("https://api.kite.trade/orders", {}, None, True, None)
    assert settings["verify"] == "/etc/ssl/certs/corporate-ca.pem"


def test_the_next_days_login_is_used_at_once_by_a_worker_that_placed_with_the_old_token(
    kite_settings, make_kite_account, kite_emulator
):
    """A worker keeps each account's client between orders; a new login must replace it."""
    from accounts.models import Account

    account = make_kite_account(1)
    broker_for(Account.objects.get(pk=account.pk)).place_order(request(tag="S00000001A000001E"))

    kite_emulator.expire_token(account.api_key)  # the old session ends at 06:00
    account.set_access_token(kite_emulator.login(account.api_key), expires_at=account.access_token_expires_at)
    account.save()

    placed = broker_for(Account.objects.get(pk=account.pk)).place_order(request(tag="S00000002A000001E"))
    assert kite_emulator.order(placed.order_id)["tag"] == "S00000002A000001E"

"""Realtime P&L per account and per strategy: realised today plus unrealised at the last mark."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from execution.models import Fill, Order, Position
from execution.selectors import market_today_start
from tests.factories import AccountFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def realised_fill(*, account, strategy, instrument, pnl: str, when, charges: str = "0"):
    order = Order.objects.create(
        account=account,
        strategy=strategy,
        instrument=instrument,
        leg="exit",
        side="SELL",
        quantity=1,
        product="MIS",
        reference_price="100",
        tag=f"P{Order.objects.count() + 1}",
        status="COMPLETE",
    )
    return Fill.objects.create(
        order=order,
        account=account,
        broker_trade_id=f"PT{order.pk}",
        quantity=1,
        price="100",
        realised_pnl=pnl,
        charges=charges,
        filled_at=when,
    )


def test_pnl_by_account_and_strategy_with_totals(staff, book):
    asha, bharat, infy, tcs, sma = book["asha"], book["bharat"], book["infy"], book["tcs"], book["strategy"]
    rsi = StrategyFactory(name="RSI 15m", instruments=[tcs])
    today = market_today_start() + timedelta(hours=10)
    realised_fill(account=asha, strategy=sma, instrument=infy, pnl="1200.50", when=today, charges="12.40")
    realised_fill(account=bharat, strategy=rsi, instrument=tcs, pnl="-300.25", when=today)
    realised_fill(
        account=asha,
        strategy=sma,
        instrument=infy,
        pnl="9999",
        when=market_today_start() - timedelta(hours=1),
        charges="50",
    )
    Position.objects.create(
        account=asha,
        strategy=sma,
        instrument=infy,
        product="MIS",
        quantity=10,
        average_price="100",
        last_price="110",
        unrealised_pnl="100.00",
    )
    Position.objects.create(
        account=bharat,
        strategy=rsi,
        instrument=tcs,
        product="MIS",
        quantity=-4,
        average_price="50",
        last_price="55",
        unrealised_pnl="-20.00",
    )

    body = staff.get("/api/pnl/realtime").json()

    accounts = {row["account"]: row for row in body["accounts"]}
    assert accounts["Asha"] == {
        "account_id": asha.id,
        "account": "Asha",
        "realised": "1200.50",  # yesterday's fill does not count today
        "unrealised": "100.00",
        "total": "1300.50",
        "charges": "12.40",  # nor do its charges
        "net": "1288.10",
        "open_positions": 1,
    }
    assert (accounts["Bharat"]["realised"], accounts["Bharat"]["unrealised"], accounts["Bharat"]["total"]) == (
        "-300.25",
        "-20.00",
        "-320.25",
    )
    strategies = {row["strategy"]: row for row in body["strategies"]}
    assert (strategies["SMA 5/20 1m"]["total"], strategies["RSI 15m"]["total"]) == ("1300.50", "-320.25")

    totals = body["totals"]
    assert (totals["realised"], totals["unrealised"], totals["total"]) == ("900.25", "80.00", "980.25")
    assert (totals["charges"], totals["net"]) == ("12.40", "967.85")
    assert totals["open_positions"] == 2
    assert Decimal(totals["exposure"]) == Decimal("10") * 110 + Decimal("4") * 55
    assert sum(Decimal(r["total"]) for r in body["accounts"]) == Decimal(totals["total"])
    assert sum(Decimal(r["total"]) for r in body["strategies"]) == Decimal(totals["total"])


def test_pnl_with_no_trades_is_zero_for_everyone(staff, book):
    body = staff.get("/api/pnl/realtime").json()
    assert {row["account"] for row in body["accounts"]} == {"Asha", "Bharat"}
    assert all(row["total"] == "0.00" for row in body["accounts"] + body["strategies"])
    assert body["totals"]["total"] == "0.00"
    assert body["day_start"].endswith("T00:00:00+05:30"), "today begins at midnight IST"


def test_pnl_takes_the_same_number_of_queries_whatever_the_book_size(staff, book):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get("/api/pnl/realtime").status_code == 200
        return len(captured)

    small = queries()
    strategy, infy = book["strategy"], book["infy"]
    for n in range(15):
        account = AccountFactory(name=f"More {n}")
        realised_fill(account=account, strategy=strategy, instrument=infy, pnl="10", when=market_today_start())
        Position.objects.create(account=account, strategy=strategy, instrument=infy, product="MIS", quantity=n + 1)
    assert queries() == small

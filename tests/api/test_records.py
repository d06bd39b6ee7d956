"""Read-only lists: orders, fills, positions, signals, risk decisions; their filters and pagination."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from execution.models import Fill, Order, OrderStatus, Position
from risk.models import RiskDecisionRecord
from strategies.models import Signal
from tests.api.conftest import error_of
from tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db


def record_order(*, account, strategy, instrument, status=OrderStatus.COMPLETE, side="BUY", quantity=10, when=None):
    """One signal, its risk decision and order, and a fill when the order completed."""
    when = when or timezone.now()
    signal = Signal.objects.create(
        strategy=strategy, instrument=instrument, bar_time=when, target=1 if side == "BUY" else -1, price="100"
    )
    approved = status != OrderStatus.BLOCKED
    decision = RiskDecisionRecord.objects.create(
        account=account,
        strategy=strategy,
        signal=signal,
        instrument=instrument,
        side=side,
        quantity=quantity,
        reference_price="100",
        approved=approved,
        summary="approved" if approved else "Daily loss limit reached",
        checks=[{"name": "daily_loss", "passed": approved, "reason": "" if approved else "limit reached"}],
    )
    order = Order.objects.create(
        account=account,
        strategy=strategy,
        signal=signal,
        instrument=instrument,
        risk_decision=decision,
        leg="entry",
        side=side,
        quantity=quantity,
        product="MIS",
        reference_price="100",
        tag=f"T{Order.objects.count() + 1}",
        status=status,
    )
    Order.objects.filter(pk=order.pk).update(created_at=when)
    if status == OrderStatus.COMPLETE:
        Fill.objects.create(
            order=order,
            account=account,
            broker_trade_id=f"TR{order.pk}",
            quantity=quantity,
            price="100",
            realised_pnl="0",
            filled_at=when,
        )
    return order


@pytest.fixture
def history(book):
    asha, bharat, infy, tcs, sma = book["asha"], book["bharat"], book["infy"], book["tcs"], book["strategy"]
    rsi = StrategyFactory(name="RSI 15m", instruments=[tcs])
    yesterday = timezone.now() - timedelta(days=1)
    return {
        **book,
        "rsi": rsi,
        "orders": [
            record_order(account=asha, strategy=sma, instrument=infy),
            record_order(account=asha, strategy=sma, instrument=tcs, status=OrderStatus.REJECTED, when=yesterday),
            record_order(account=bharat, strategy=sma, instrument=infy, status=OrderStatus.BLOCKED),
            record_order(account=bharat, strategy=rsi, instrument=tcs, side="SELL"),
        ],
        "yesterday": yesterday,
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_orders_filter_by_account_strategy_status_symbol_and_date(staff, history):
    o = history["orders"]
    asha, bharat, rsi = history["asha"], history["bharat"], history["rsi"]
    assert ids(staff.get("/api/orders")) == {x.id for x in o}
    assert ids(staff.get(f"/api/orders?account={asha.id}")) == {o[0].id, o[1].id}
    assert ids(staff.get(f"/api/orders?strategy={rsi.id}")) == {o[3].id}
    assert ids(staff.get("/api/orders?status=REJECTED&status=BLOCKED")) == {o[1].id, o[2].id}
    assert ids(staff.get("/api/orders?symbol=NSE:TCS")) == {o[1].id, o[3].id}
    assert ids(staff.get(f"/api/orders?instrument={history['infy'].id}&account={bharat.id}")) == {o[2].id}
    cutoff = (history["yesterday"] + timedelta(hours=1)).isoformat()
    assert ids(staff.get("/api/orders", {"created_before": cutoff})) == {o[1].id}
    assert ids(staff.get("/api/orders", {"created_after": cutoff})) == {o[0].id, o[2].id, o[3].id}


def test_an_order_shows_its_risk_reasons_and_broker_message(staff, history):
    blocked = history["orders"][2]
    row = staff.get(f"/api/orders/{blocked.id}").json()
    assert (row["status"], row["risk_summary"], row["account_name"]) == (
        "BLOCKED",
        "Daily loss limit reached",
        "Bharat",
    )


def test_a_bad_date_filter_is_a_400_naming_it(staff, history):
    response = staff.get("/api/orders?created_after=yesterday-ish")
    assert response.status_code == 400
    assert "created_after" in error_of(response)["fields"]


def test_pagination(staff, history):
    first = staff.get("/api/orders?page_size=3").json()
    assert first["count"] == 4
    assert len(first["results"]) == 3
    assert first["next"] and first["previous"] is None
    second = staff.get("/api/orders?page_size=3&page=2").json()
    assert len(second["results"]) == 1
    assert {r["id"] for r in first["results"] + second["results"]} == {o.id for o in history["orders"]}

    beyond = staff.get("/api/orders?page=99")
    assert beyond.status_code == 404
    assert error_of(beyond)["code"] == "not_found"


def test_fills_filter_by_account_strategy_and_symbol(staff, history):
    o = history["orders"]
    assert {f["order"] for f in staff.get("/api/fills").json()["results"]} == {o[0].id, o[3].id}
    rows = staff.get(f"/api/fills?strategy={history['rsi'].id}").json()["results"]
    assert [(r["order"], r["side"], r["instrument_symbol"]) for r in rows] == [(o[3].id, "SELL", "NSE:TCS")]
    assert ids(staff.get(f"/api/fills?account={history['asha'].id}&symbol=INFY")) == {Fill.objects.get(order=o[0]).id}


def test_positions_filter_open_and_flat(staff, history):
    asha, infy, tcs, sma = history["asha"], history["infy"], history["tcs"], history["strategy"]
    held = Position.objects.create(account=asha, strategy=sma, instrument=infy, product="MIS", quantity=5)
    flat = Position.objects.create(account=asha, strategy=sma, instrument=tcs, product="MIS", quantity=0)
    assert ids(staff.get("/api/positions?open=true")) == {held.id}
    assert ids(staff.get("/api/positions?open=false")) == {flat.id}
    assert ids(staff.get(f"/api/positions?account={history['bharat'].id}")) == set()


def test_signals_filter_by_strategy_and_target(staff, history):
    sells = staff.get("/api/signals?target=-1").json()["results"]
    assert [(s["strategy_name"], s["target"]) for s in sells] == [("RSI 15m", -1)]
    assert len(staff.get(f"/api/signals?strategy={history['strategy'].id}").json()["results"]) == 3


def test_risk_decisions_filter_by_approval_and_show_each_check(staff, history):
    refused = staff.get("/api/risk-decisions?approved=false").json()["results"]
    assert len(refused) == 1
    assert refused[0]["checks"] == [{"name": "daily_loss", "passed": False, "reason": "limit reached"}]
    assert refused[0]["account_name"] == "Bharat"
    assert len(staff.get(f"/api/risk-decisions?account={history['asha'].id}").json()["results"]) == 2


def test_lists_are_read_only(staff, history):
    order = history["orders"][0]
    assert staff.post("/api/orders", {}, format="json").status_code == 405
    assert staff.patch(f"/api/orders/{order.id}", {"status": "CANCELLED"}, format="json").status_code == 405
    assert staff.delete(f"/api/fills/{Fill.objects.first().id}").status_code == 405
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETE
    assert Decimal(staff.get(f"/api/orders/{order.id}").json()["reference_price"]) == Decimal("100")


def test_times_with_any_offset_are_read_as_utc_and_impossible_ones_refused(staff, history):
    # PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows: the filter normalises to UTC.
    assert staff.get("/api/orders", {"created_after": "2001-09-07T12:35:02+16:49"}).status_code == 200
    out_of_range = staff.get("/api/orders", {"created_before": "0001-01-01T01:00:00+05:00"})
    assert out_of_range.status_code == 400
    assert "out of range" in error_of(out_of_range)["fields"]["created_before"][0]


def test_the_evaluation_ledger_lists_with_filters_and_a_strategy_shows_its_state(viewer, book):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from execution.engine.bar import run_timeframe

    ist = ZoneInfo("Asia/Kolkata")
    strategy = book["strategy"]
    run_timeframe(timeframe="1m", now=datetime(2026, 11, 20, 10, 0, 5, tzinfo=ist))  # engine stopped
    run_timeframe(timeframe="1m", now=datetime(2026, 11, 20, 10, 1, 5, tzinfo=ist), force=True)

    everything = viewer.get("/api/evaluations")
    assert everything.status_code == 200 and everything.json()["count"] >= 2
    skipped = viewer.get(f"/api/evaluations?strategy={strategy.pk}&outcome=skipped").json()["results"]
    assert [(row["reason_code"], row["bar_close"][11:16]) for row in skipped] == [("engine_stopped", "10:00")]
    after = viewer.get("/api/evaluations", {"bar_after": "2026-11-20T10:01:00+05:30", "outcome": "evaluated"})
    [row] = [r for r in after.json()["results"] if r["strategy"] == strategy.pk]
    assert row["instruments_evaluated"] == row["instruments_total"] >= 1
    bad = viewer.get("/api/evaluations?outcome=sideways")
    assert bad.status_code == 400 and "outcome" in bad.json()["error"]["fields"]

    state = viewer.get(f"/api/strategies/{strategy.pk}/state")
    assert state.status_code == 200
    first = state.json()[0]
    assert first["last_outcome"] == "evaluated" and set(first["indicators"]) >= {"atr"}
    assert [bar["outcome"] for bar in first["bars"]] == ["evaluated", "skipped"]

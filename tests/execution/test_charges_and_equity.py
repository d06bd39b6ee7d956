"""Charges on every fill, P&L net of them, and the equity snapshots behind the equity curve."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from execution.engine.schedules import ensure_beat_schedules
from execution.models import EquityResolution, EquitySnapshot, Fill, OrderStatus, Position
from execution.operations.daily_loss import mark_to_market_tick
from execution.selectors import equity_curve, pnl_snapshot
from execution.tracking.equity import equity_snapshots_compact
from risk.charges import NSE_EQUITY_INTRADAY, fill_charges
from risk.models import ChargeSchedule
from strategies.marketdata import SimulatedMarketData
from tests.execution.book import trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(monkeypatch):
    """Move one instrument's simulated price: ``market.move(instrument, price)``."""

    class Market:
        overrides: dict[int, Decimal] = {}

        def move(self, instrument, price):
            self.overrides[instrument.instrument_token] = Decimal(price)

    fake = Market()
    real_ltp = SimulatedMarketData.ltp

    def ltp(self, instruments, at=None):
        prices = real_ltp(self, instruments, at)
        return {token: fake.overrides.get(token, price) for token, price in prices.items()}

    monkeypatch.setattr(SimulatedMarketData, "ltp", ltp)
    return fake


@pytest.fixture
def book(engine_running):
    instrument = InstrumentFactory(tradingsymbol="SBIN", exchange="NSE")
    strategy = StrategyFactory(instruments=[instrument])
    account = AccountFactory()
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("50"), risk_per_trade_pct=Decimal("2"))
    return account, strategy, instrument


def test_a_paper_fill_pays_the_charges_model_and_pnl_shows_net_of_them(book, admin_client):
    account, strategy, instrument = book
    [entry] = trade(account, strategy, instrument, 1)
    [exit_] = trade(account, strategy, instrument, 0)
    assert entry.status == exit_.status == OrderStatus.COMPLETE
    rates = ChargeSchedule.objects.get(exchange="NSE", product="MIS").rates()
    paid = Decimal("0")
    for order in (entry, exit_):
        fill = Fill.objects.get(order=order)
        expected = fill_charges(rates=rates, side=order.side, quantity=fill.quantity, price=fill.price).total
        assert fill.charges == expected > 0
        assert fill.charges_estimated  # the model's figure: no broker figure is known for paper
        paid += fill.charges

    totals = pnl_snapshot().totals()
    assert totals["charges"] == paid
    assert totals["net"] == totals["total"] - paid
    realtime = admin_client.get(reverse("api:pnl-realtime")).json()
    assert Decimal(realtime["totals"]["charges"]) == paid
    assert Decimal(realtime["totals"]["net"]) == totals["net"]
    [row] = [a for a in realtime["accounts"] if a["account_id"] == account.id]
    assert Decimal(row["net"]) == totals["net"]
    page = admin_client.get(reverse("dashboard:pnl")).content.decode()
    assert 'id="net-today"' in page and "Charges" in page


def test_rates_edited_in_the_admin_apply_to_the_next_fill(book, admin_client):
    account, strategy, instrument = book
    schedule = ChargeSchedule.objects.get(exchange="NSE", product="MIS")
    trade(account, strategy, instrument, 1)  # warms this process's cache of the rates
    change = reverse("admin:risk_chargeschedule_change", args=[schedule.id])
    form = {
        "exchange": "NSE",
        "product": "MIS",
        "brokerage_pct": "0",
        "brokerage_cap_per_order": "",
        "stt_buy_pct": "0",
        "stt_sell_pct": "0",
        "exchange_txn_pct": "0",
        "sebi_per_crore": "0",
        "stamp_buy_pct": "0",
        "gst_pct": "0",
    }
    assert admin_client.post(change, form).status_code == 302
    [exit_] = trade(account, strategy, instrument, 0)
    assert Fill.objects.get(order=exit_).charges == Decimal("0")


def test_a_segment_without_rates_pays_nothing_rather_than_failing(engine_running):
    instrument = InstrumentFactory(tradingsymbol="NIFTYFUT", exchange="NFO")
    strategy = StrategyFactory(instruments=[instrument], product="NRML")
    account = AccountFactory()
    MappingFactory(account=account, strategy=strategy)
    [entry] = trade(account, strategy, instrument, 1)
    assert entry.status == OrderStatus.COMPLETE
    assert Fill.objects.get(order=entry).charges == Decimal("0")


def test_every_mark_stores_the_minute_so_the_curve_moves_with_unrealised_pnl(book, market):
    account, strategy, instrument = book
    trade(account, strategy, instrument, 1)
    position = Position.objects.get(account=account)
    start = timezone.now().replace(second=5, microsecond=0)

    market.move(instrument, position.average_price + 10)
    mark_to_market_tick(now=start)
    market.move(instrument, position.average_price + 20)
    mark_to_market_tick(now=start + timedelta(seconds=15))  # same minute: replaces the point
    market.move(instrument, position.average_price - 5)
    mark_to_market_tick(now=start + timedelta(minutes=1))

    rows = list(EquitySnapshot.objects.filter(account=account).order_by("at"))
    assert [r.at for r in rows] == [start.replace(second=0), start.replace(second=0) + timedelta(minutes=1)]
    assert rows[0].unrealised == 20 * position.quantity and rows[1].unrealised == -5 * position.quantity
    assert rows[0].charges == Fill.objects.get(account=account).charges

    curve = equity_curve(start + timedelta(minutes=1, seconds=30))
    assert [p["equity"] for p in curve["points"]] == [rows[0].equity, rows[1].equity]
    assert [p["net"] for p in curve["points"]] == [rows[0].net, rows[1].net]
    assert curve["now"]["equity"] == pnl_snapshot().totals()["total"]


def test_the_charts_json_puts_the_curve_on_a_time_axis(book, market, admin_client):
    account, strategy, instrument = book
    trade(account, strategy, instrument, 1)
    now = timezone.now()
    mark_to_market_tick(now=now - timedelta(minutes=3))
    mark_to_market_tick(now=now - timedelta(minutes=1))
    data = admin_client.get(reverse("dashboard:pnl-charts")).json()["equity"]
    times = [p["t"] for p in data["points"]]
    # Two marks two minutes apart, then now: the gaps are real times, not evenly spaced labels.
    assert len(times) == 3 and times == sorted(times)
    assert times[1] - times[0] == 120_000
    assert abs(times[2] - now.timestamp() * 1000) < 60_000


def test_minute_snapshots_past_the_retention_become_one_a_day(settings):
    settings.EQUITY_MINUTE_RETENTION_DAYS = 2
    a, b = AccountFactory(), AccountFactory()
    now = timezone.now()
    old_day = now - timedelta(days=5)
    for account, minutes in ((a, [0, 1, 2]), (b, [0, 1])):
        for m in minutes:
            at = old_day.replace(second=0, microsecond=0) + timedelta(minutes=m)
            EquitySnapshot.objects.create(
                account=account, at=at, marked_at=at, realised=Decimal(m), unrealised=Decimal("1"), charges=Decimal("0")
            )
    recent = now.replace(second=0, microsecond=0)
    EquitySnapshot.objects.create(
        account=a, at=recent, marked_at=recent, realised=Decimal("9"), unrealised=Decimal("0"), charges=Decimal("0")
    )

    assert equity_snapshots_compact(now=now) == 5
    days = EquitySnapshot.objects.filter(resolution=EquityResolution.DAY).order_by("account_id")
    assert [(d.account_id, d.realised) for d in days] == [(a.id, Decimal("2")), (b.id, Decimal("1"))]
    assert EquitySnapshot.objects.filter(resolution=EquityResolution.MINUTE).count() == 1  # today's stays
    assert equity_snapshots_compact(now=now) == 0  # safe to run again


def test_the_nightly_compaction_has_a_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    ensure_beat_schedules()
    task = PeriodicTask.objects.get(name="trading:compact equity snapshots")
    assert task.task == "execution.tasks.compact_equity_snapshots" and task.crontab.hour == "2"


def test_a_deleted_rates_row_falls_back_to_zerodhas_rates_not_to_free_trading(book):
    account, strategy, instrument = book
    ChargeSchedule.objects.filter(exchange="NSE", product="MIS").delete()
    from risk.selectors import charge_rates_forget

    charge_rates_forget()
    [entry] = trade(account, strategy, instrument, 1)
    fill = Fill.objects.get(order=entry)
    assert (
        fill.charges
        == fill_charges(rates=NSE_EQUITY_INTRADAY, side="BUY", quantity=fill.quantity, price=fill.price).total
        > 0
    )


def test_a_kite_fill_shows_the_models_charges_until_the_brokers_are_known(kite_book, kite_emulator, infy):
    from execution.engine.fanout import execute_signal_for_account
    from execution.tracking.reconcile import reconcile_account
    from tests.execution.conftest import new_signal

    strategy, [account] = kite_book(1)
    signal = new_signal(strategy, infy)
    [order] = execute_signal_for_account(signal_id=signal.id, account_id=account.id)
    reconcile_account(account_id=account.id)  # Kite's trades become fills
    [fill] = Fill.objects.filter(order=order)
    expected = fill_charges(rates=NSE_EQUITY_INTRADAY, side=order.side, quantity=fill.quantity, price=fill.price)
    assert fill.charges == expected.total > 0 and fill.charges_estimated

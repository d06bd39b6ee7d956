"""Every pre-trade decision is recorded with its reasons and can be listed per account and per day."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from execution.models import OrderStatus
from risk.models import RiskDecisionRecord
from risk.selectors import failed_checks, risk_decisions
from risk.services import engine_stop
from tests.execution.book import trade
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

IST = ZoneInfo("Asia/Kolkata")
pytestmark = pytest.mark.django_db


@pytest.fixture
def two_accounts(engine_running):
    instrument = InstrumentFactory(tradingsymbol="INFY")
    strategy = StrategyFactory(instruments=[instrument])
    asha, bharat = AccountFactory(name="Asha"), AccountFactory(name="Bharat", trading_enabled=False)
    for account in (asha, bharat):
        MappingFactory(account=account, strategy=strategy)
    return strategy, instrument, asha, bharat


def test_a_blocked_order_carries_every_failing_reason(two_accounts):
    strategy, instrument, _, bharat = two_accounts
    engine_stop(reason="lunch")

    [order] = trade(bharat, strategy, instrument, 1)

    assert order.status == OrderStatus.BLOCKED
    failed = failed_checks(order.risk_decision)
    assert {c["name"] for c in failed} == {"engine_running", "account_enabled"}
    for check in failed:  # each failing check's own words are in the order's message
        assert f"{check['name']}: {check['reason'].rstrip('.')}" in order.status_message
    assert order.status_message.startswith("Refused: 2 of")


def test_decisions_per_account_per_market_day(two_accounts):
    strategy, instrument, asha, bharat = two_accounts
    trade(asha, strategy, instrument, 1)
    trade(asha, strategy, instrument, 0)
    trade(bharat, strategy, instrument, 1)
    # One decision just before midnight India time on the 19th, one just after: different market days,
    # though both fall on the 19th in UTC.
    late, early = RiskDecisionRecord.objects.filter(account=asha).order_by("id")
    RiskDecisionRecord.objects.filter(pk=late.pk).update(created_at=datetime(2026, 11, 19, 23, 59, tzinfo=IST))
    RiskDecisionRecord.objects.filter(pk=early.pk).update(created_at=datetime(2026, 11, 20, 0, 1, tzinfo=IST))

    assert [r.id for r in risk_decisions(account_id=asha.id, on_date=date(2026, 11, 19))] == [late.id]
    assert [r.id for r in risk_decisions(account_id=asha.id, on_date=date(2026, 11, 20))] == [early.id]
    assert risk_decisions(account_id=asha.id).count() == 2
    [refused] = risk_decisions(account_id=bharat.id, approved=False)
    assert refused.order.status == OrderStatus.BLOCKED and not refused.approved
    assert risk_decisions(approved=True).count() == 2
    assert list(risk_decisions(on_date=date(2026, 11, 20) + timedelta(days=1000))) == []


def test_approved_decisions_record_every_check_and_the_sizing(two_accounts):
    strategy, instrument, asha, _ = two_accounts
    [order] = trade(asha, strategy, instrument, 1)
    record = order.risk_decision
    assert record.approved and record.summary.startswith("Approved: all")
    assert all(c["passed"] and c["reason"] for c in record.checks)
    assert Decimal(record.sizing["risk_budget"]) == Decimal("1000")  # 2% of 50% of ₹1,00,000

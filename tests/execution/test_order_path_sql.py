"""The order path's plain-SQL reads build the same model instances the ORM would.

Run on PostgreSQL by the suite and on SQLite by tests/test_embedded_sqlite.py, where the
backend's converters matter (decimals stored as floats, datetimes as naive text).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from accounts.locks import lock_account
from accounts.models import Account
from execution import selectors
from strategies.models import Signal
from tests.factories import AccountFactory, InstrumentFactory, StrategyFactory


def _field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.django_db
def test_the_signal_for_execution_is_the_signal_the_orm_reads_with_its_strategy_and_instrument():
    instrument = InstrumentFactory(tick_size=Decimal("0.05"), lot_size=25)
    strategy = StrategyFactory(parameters={"fast_period": 7, "slow_period": 21}, instruments=[instrument])
    signal = Signal.objects.create(
        strategy=strategy,
        instrument=instrument,
        bar_time=timezone.now() - timedelta(minutes=1),
        target=-1,
        price=Decimal("1234.5500"),
        stop_price=Decimal("1250.2500"),
        note="test",
    )
    expected = Signal.objects.select_related("strategy", "instrument").get(pk=signal.pk)

    read = selectors.signal_for_execution(signal_id=signal.pk)

    assert _field_values(read) == _field_values(expected)
    assert _field_values(read.strategy) == _field_values(expected.strategy)
    assert _field_values(read.instrument) == _field_values(expected.instrument)
    # Typed as the ORM types them: a Decimal with the field's places, a dict, an aware datetime.
    assert read.price == Decimal("1234.5500") and isinstance(read.price, Decimal)
    assert read.strategy.parameters == {"fast_period": 7, "slow_period": 21}
    assert timezone.is_aware(read.bar_time)
    assert not read._state.adding  # a saved row: it can be refreshed and saved as any other


@pytest.mark.django_db
def test_a_missing_signal_raises_does_not_exist():
    with pytest.raises(Signal.DoesNotExist):
        selectors.signal_for_execution(signal_id=987654)


@pytest.mark.django_db(transaction=True)
def test_the_account_lock_needs_a_transaction_and_returns_the_account_with_its_secrets():
    account = AccountFactory(capital=Decimal("250000.50"), daily_loss_limit=Decimal("1234.56"))
    account.set_access_token("token-abc", expires_at=timezone.now() + timedelta(hours=1))
    account.save()

    with pytest.raises(TransactionManagementError):
        lock_account(account_id=account.pk)  # a row lock outside a transaction would end at once

    with transaction.atomic():
        locked = lock_account(account_id=account.pk)
        assert _field_values(locked) == _field_values(Account.objects.get(pk=account.pk))
        assert locked.capital == Decimal("250000.50")
        assert locked.get_access_token() == "token-abc"
        locked.daily_loss_limit = Decimal("999.00")
        locked.save(update_fields=["daily_loss_limit"])
    assert Account.objects.get(pk=account.pk).daily_loss_limit == Decimal("999.00")

    with transaction.atomic(), pytest.raises(Account.DoesNotExist):
        lock_account(account_id=account.pk + 1000)


@pytest.mark.django_db
def test_a_row_inserted_in_plain_sql_reads_back_as_the_instance_that_was_inserted():
    from execution.orders.sql import ModelColumns
    from risk.models import RiskDecisionRecord

    account, instrument = AccountFactory(), InstrumentFactory()
    record = RiskDecisionRecord(
        account=account,
        strategy=StrategyFactory(),
        instrument=instrument,
        side="BUY",
        quantity=40,
        reference_price=Decimal("101.2500"),
        approved=False,
        summary="Daily loss limit reached",
        checks=[{"name": "daily_loss", "passed": False, "reason": "Loss 5,100.00 over the limit 5,000.00"}],
        sizing={"quantity": "40"},
    )

    ModelColumns(RiskDecisionRecord).insert(record)

    assert record.pk is not None and not record._state.adding
    assert record.created_at is not None  # auto_now_add, as save() would have set it
    stored = RiskDecisionRecord.objects.get(pk=record.pk)
    assert _field_values(stored) == _field_values(record)
    assert stored.checks[0]["reason"] == "Loss 5,100.00 over the limit 5,000.00"

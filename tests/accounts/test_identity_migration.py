"""accounts.0002 (one account per Kite identity) on a database that already has two accounts on one
identity: it stops with the accounts to fix, changes nothing, and goes through once they are fixed."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("accounts", "0001_initial")
TARGET = ("accounts", "0002_one_account_per_kite_identity")


@pytest.fixture
def at_0001():
    call_command("migrate", *BEFORE, verbosity=0)
    try:
        yield MigrationExecutor(connection).loader.project_state([BEFORE]).apps
    finally:
        call_command("migrate", verbosity=0)  # every app back at its latest migration for the other tests


def make(apps, name: str, **identity):
    Account = apps.get_model("accounts", "Account")
    limits = {"capital": Decimal("100000"), "daily_loss_limit": Decimal("5000"), "max_order_quantity": 100}
    return Account.objects.create(name=name, max_order_value=Decimal("50000"), **limits, **identity)


def applied(migration: tuple[str, str]) -> bool:
    return MigrationRecorder(connection).migration_qs.filter(app=migration[0], name=migration[1]).exists()


def test_duplicate_kite_identities_stop_the_migration_naming_the_accounts(at_0001):
    asha = make(at_0001, "Asha", api_key="kite-app-1", zerodha_user_id="AB1234")
    copy = make(at_0001, "Asha (copy)", api_key="kite-app-1", zerodha_user_id="AB1234")
    old = make(at_0001, "Old Asha", zerodha_user_id="AB1234")
    make(at_0001, "Paper one")  # blank identities are not duplicates
    make(at_0001, "Paper two")

    with pytest.raises(CommandError) as refused:
        call_command("migrate", *TARGET, verbosity=0)

    message = str(refused.value)
    assert "one account per Kite identity" in message
    assert f"accounts #{asha.pk} 'Asha', #{copy.pk} 'Asha (copy)' share one api_key" in message
    assert f"#{asha.pk} 'Asha', #{copy.pk} 'Asha (copy)', #{old.pk} 'Old Asha' share the Zerodha user id AB1234" in (
        message
    )
    assert "kite-app-1" not in message and "Paper" not in message
    assert "run manage.py migrate again" in message
    assert not applied(TARGET)

    Account = at_0001.get_model("accounts", "Account")
    Account.objects.filter(pk__in=[copy.pk, old.pk]).update(api_key="", zerodha_user_id="")
    call_command("migrate", *TARGET, verbosity=0)
    assert applied(TARGET)

"""One account per Kite identity: a second account on an api_key or a Zerodha user id is refused,
with an error that names the account holding it, from the API, the admin and the services."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Account, Broker
from accounts.services import account_create, account_update
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

LIMITS = {
    "capital": "500000",
    "daily_loss_limit": "10000",
    "max_order_quantity": 100,
    "max_order_value": "100000",
}


@pytest.fixture
def asha_kite(db):
    account = Account(
        name="Asha Kite",
        broker=Broker.KITE,
        zerodha_user_id="AB1234",
        api_key="asha-key",
        capital=Decimal("500000"),
        daily_loss_limit=Decimal("10000"),
        max_order_quantity=100,
        max_order_value=Decimal("100000"),
    )
    account.set_api_secret("asha-secret")
    account.save()
    return account


@pytest.mark.parametrize(
    ("field", "other"),
    [("api_key", {"zerodha_user_id": "CD5678"}), ("zerodha_user_id", {"api_key": "other-key"})],
)
def test_create_zerodha_refuses_a_taken_identity_naming_its_account(staff, asha_kite, field, other):
    body = {"name": "Second", "api_key": "asha-key", "zerodha_user_id": "AB1234", "api_secret": "s", **LIMITS, **other}
    response = staff.post("/api/accounts/create-zerodha", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert field in error["fields"]
    assert "Asha Kite" in error["fields"][field][0]
    assert Account.objects.count() == 1


def test_the_api_refuses_moving_an_account_onto_a_taken_identity(staff, asha_kite):
    second = account_create(
        name="Bharat",
        broker=Broker.KITE,
        zerodha_user_id="CD5678",
        api_key="b-key",
        **{k: Decimal(str(v)) if k != "max_order_quantity" else v for k, v in LIMITS.items()},
    )
    response = staff.patch(f"/api/accounts/{second.id}", {"api_key": "asha-key"}, format="json")
    assert response.status_code == 400
    assert "Asha Kite" in error_of(response)["fields"]["api_key"][0]
    second.refresh_from_db()
    assert second.api_key == "b-key"
    # The account itself keeps its own identity on a save.
    assert staff.patch(f"/api/accounts/{asha_kite.id}", {"capital": "600000"}, format="json").status_code == 200


def test_the_admin_form_names_the_account_that_has_the_identity(client, django_user_model, asha_kite):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    form = {
        "name": "Copy",
        "broker": "kite",
        "zerodha_user_id": "AB1234",
        "api_key": "asha-key",
        "status": "active",
        "max_open_positions": 10,
        "trading_enabled": "on",
        **LIMITS,
    }
    response = client.post(reverse("admin:accounts_account_add"), form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "already belongs to the account “Asha Kite”" in page
    assert Account.objects.count() == 1


def test_the_service_and_the_database_refuse_a_duplicate(asha_kite):
    copy = Account.objects.get(pk=asha_kite.pk)
    with pytest.raises(ValidationError) as refused:
        account_update(
            account=account_create(
                name="P", **{k: Decimal(str(v)) if k != "max_order_quantity" else v for k, v in LIMITS.items()}
            ),
            zerodha_user_id="AB1234",
        )
    assert "Asha Kite" in str(refused.value)
    copy.pk, copy.name = None, "Raw copy"
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()  # past the validation (a race, a raw save): the constraint holds


def test_paper_accounts_without_kite_identity_are_many(db):
    for name in ("P1", "P2", "P3"):
        account_create(name=name, **{k: Decimal(str(v)) if k != "max_order_quantity" else v for k, v in LIMITS.items()})
    assert Account.objects.filter(api_key="", zerodha_user_id="").count() == 3

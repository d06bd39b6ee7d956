"""The admin as an operator uses it, with CSRF checks on: actions, inlines, read-only records."""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import AccountStatus
from execution.models import AccountStrategy, Order
from risk.models import RiskEvent, RiskEventKind
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


class CsrfAdmin:
    """A logged-in staff browser that sends the CSRF token the admin's pages hand out."""

    def __init__(self, user):
        self.client = Client(enforce_csrf_checks=True)
        self.client.force_login(user)

    def get(self, url):
        return self.client.get(url)

    def post(self, url, data, *, follow=True):
        page = self.client.get(url)
        assert page.status_code == 200, url
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
        return self.client.post(url, {**data, "csrfmiddlewaretoken": token}, follow=follow)

    def action(self, changelist_url, action, objects):
        return self.post(changelist_url, {"action": action, "_selected_action": [o.pk for o in objects]})


@pytest.fixture
def operator():
    user = get_user_model().objects.create_superuser("boss", "", "pw-for-tests-only")
    return user


@pytest.fixture
def browser(operator):
    return CsrfAdmin(operator)


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_without_the_csrf_token_an_action_is_refused(operator):
    account = AccountFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post("/admin/accounts/account/", {"action": "halt_accounts", "_selected_action": [account.pk]})
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_halt_and_resume_accounts(browser, operator):
    asha, bharat = AccountFactory(name="Asha"), AccountFactory(name="Bharat")
    response = browser.action("/admin/accounts/account/", "halt_accounts", [asha, bharat])
    assert shown_messages(response) == ["2 account(s) halted: Asha, Bharat."]
    asha.refresh_from_db()
    assert asha.status == AccountStatus.HALTED
    assert "boss" in asha.status_reason
    assert RiskEvent.objects.filter(kind=RiskEventKind.ACCOUNT_HALTED, actor=operator).count() == 2

    response = browser.action("/admin/accounts/account/", "resume_accounts", [asha])
    assert shown_messages(response) == ["1 account(s) resumed: Asha."]
    asha.refresh_from_db()
    assert asha.status == AccountStatus.ACTIVE
    assert RiskEvent.objects.get(kind=RiskEventKind.ACCOUNT_RESUMED).actor == operator


def test_resume_leaves_an_account_that_needs_a_login_alone(browser):
    kite = AccountFactory(name="Kite Dev", status=AccountStatus.NEEDS_LOGIN)
    response = browser.action("/admin/accounts/account/", "resume_accounts", [kite])
    assert shown_messages(response) == ["Not halted, left as they are: Kite Dev (needs kite login)."]
    kite.refresh_from_db()
    assert kite.status == AccountStatus.NEEDS_LOGIN


def test_status_is_not_editable_in_the_account_form(browser):
    account = AccountFactory(name="Asha")
    page = browser.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert 'name="status"' not in page


def test_activate_and_deactivate_strategies(browser):
    sma, ema = StrategyFactory(name="SMA"), StrategyFactory(name="EMA", active=False)
    response = browser.action("/admin/strategies/strategy/", "deactivate", [sma, ema])
    assert shown_messages(response) == [
        "1 strategy(ies) deactivated: SMA.",
        "1 strategy(ies) were already deactivated.",
    ]
    sma.refresh_from_db()
    assert sma.active is False
    assert LogEntry.objects.filter(object_id=str(sma.pk), change_message="Deactivated from the admin").exists()

    response = browser.action("/admin/strategies/strategy/", "activate", [sma, ema])
    assert shown_messages(response) == ["2 strategy(ies) activated: EMA, SMA."]
    sma.refresh_from_db()
    ema.refresh_from_db()
    assert sma.active and ema.active


def account_change_form(account, mappings, extra_rows=()):
    """The account change form's POST data, with its mapping inline rows."""
    data = {
        "name": account.name,
        "broker": account.broker,
        "zerodha_user_id": account.zerodha_user_id,
        "capital": str(account.capital),
        "daily_loss_limit": str(account.daily_loss_limit),
        "max_order_quantity": str(account.max_order_quantity),
        "max_order_value": str(account.max_order_value),
        "max_open_positions": str(account.max_open_positions),
        "trading_enabled": "on",
        "api_key": "",
        "api_secret": "",
    }
    rows = list(mappings) + list(extra_rows)
    prefix = "mappings"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(len(rows)),
            f"{prefix}-INITIAL_FORMS": str(len(mappings)),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    )
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def mapping_row(mapping, **changes):
    row = {
        "id": str(mapping.pk),
        "account": str(mapping.account_id),
        "strategy": str(mapping.strategy_id),
        "allocation_pct": str(mapping.allocation_pct),
        "risk_per_trade_pct": str(mapping.risk_per_trade_pct),
        "enabled": "on" if mapping.enabled else "",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v != ""}


def test_mappings_are_edited_inline_on_the_account(browser):
    account = AccountFactory(name="Asha")
    trend, reversion = StrategyFactory(name="Trend"), StrategyFactory(name="Reversion")
    existing = MappingFactory(account=account, strategy=trend, allocation_pct=Decimal("60"))
    page = browser.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "Trend" in page and "account-strategy mapping" in page.lower()
    url = f"/admin/accounts/account/{account.pk}/change/"
    new_row = {"strategy": str(reversion.pk), "allocation_pct": "50", "risk_per_trade_pct": "1", "enabled": "on"}

    # Moving allocation in one save: the new row is checked beside Trend's saved 60%, and the
    # operator is told how to do it.
    moved = browser.post(url, account_change_form(account, [mapping_row(existing, allocation_pct="40")], [new_row]))
    page = moved.content.decode()
    assert "At most 40.00% is left" in page and "save the lowered mapping first" in page
    assert AccountStrategy.objects.filter(account=account).count() == 1

    lowered = browser.post(url, account_change_form(account, [mapping_row(existing, allocation_pct="40")]))
    assert not lowered.context.get("errors")
    added = browser.post(url, account_change_form(account, [mapping_row(existing, allocation_pct="40")], [new_row]))
    assert not added.context.get("errors"), added.context.get("errors")
    allocations = dict(AccountStrategy.objects.filter(account=account).values_list("strategy__name", "allocation_pct"))
    assert allocations == {"Trend": Decimal("40"), "Reversion": Decimal("50")}


def test_inline_rows_saved_lowest_change_first(browser):
    account = AccountFactory(name="Asha")
    a = MappingFactory(account=account, strategy=StrategyFactory(name="A"), allocation_pct=Decimal("30"))
    b = MappingFactory(account=account, strategy=StrategyFactory(name="B"), allocation_pct=Decimal("30"))
    c = MappingFactory(account=account, strategy=StrategyFactory(name="C"), allocation_pct=Decimal("30"))
    # Each row fits beside the others' saved values (40+30+30, 30+40+30, 30+30+20) and the final
    # total is 100%; saved in page order, A and B raised before C is cut would make 110% on the way.
    rows = [
        mapping_row(a, allocation_pct="40"),
        mapping_row(b, allocation_pct="40"),
        mapping_row(c, allocation_pct="20"),
    ]
    response = browser.post(f"/admin/accounts/account/{account.pk}/change/", account_change_form(account, rows))
    assert not response.context.get("errors"), response.context.get("errors")
    allocations = dict(AccountStrategy.objects.filter(account=account).values_list("strategy__name", "allocation_pct"))
    assert allocations == {"A": Decimal("40"), "B": Decimal("40"), "C": Decimal("20")}


def test_inline_rows_together_beyond_100_percent_are_refused(browser):
    account = AccountFactory(name="Asha")
    a = MappingFactory(account=account, strategy=StrategyFactory(name="A"), allocation_pct=Decimal("50"))
    b = MappingFactory(account=account, strategy=StrategyFactory(name="B"), allocation_pct=Decimal("40"))
    # Each row alone fits beside the other's saved value (60+40, 50+50): only together are they 110%.
    response = browser.post(
        f"/admin/accounts/account/{account.pk}/change/",
        account_change_form(account, [mapping_row(a, allocation_pct="60"), mapping_row(b, allocation_pct="50")]),
    )
    page = response.content.decode()
    assert "The enabled mappings add up to 110.00%, more than 100%: A 60.00%, B 50.00%." in page
    assert set(AccountStrategy.objects.values_list("allocation_pct", flat=True)) == {Decimal("50"), Decimal("40")}


def test_mappings_inline_on_the_strategy(browser):
    strategy = StrategyFactory(name="Trend", instruments=[InstrumentFactory()])
    MappingFactory(account=AccountFactory(name="Asha"), strategy=strategy)
    page = browser.get(f"/admin/strategies/strategy/{strategy.pk}/change/").content.decode()
    assert "Asha" in page
    assert 'name="mappings-0-allocation_pct"' in page


def test_orders_fills_and_positions_are_read_only(browser):
    for model in ("order", "fill", "position", "positionmismatch"):
        changelist = browser.get(f"/admin/execution/{model}/")
        assert changelist.status_code == 200
        assert browser.get(f"/admin/execution/{model}/add/").status_code == 403
    account = AccountFactory()
    instrument = InstrumentFactory()
    order = Order.objects.create(
        account=account,
        instrument=instrument,
        leg="entry",
        side="BUY",
        quantity=1,
        product="MIS",
        reference_price="10",
        tag="RO1",
    )
    page = browser.get(f"/admin/execution/order/{order.pk}/change/").content.decode()
    assert 'name="quantity"' not in page  # shown, not editable
    assert browser.get(f"/admin/execution/order/{order.pk}/delete/").status_code == 403
    assert browser.get("/admin/strategies/signal/add/").status_code == 403

"""The Flatten button on each account and the Stop strategy button on a strategy's page: staff only,
POST with CSRF, confirmed in a dialog; each starts the API's operation and lands on its page."""

import pytest
from django.test import Client
from django.urls import reverse

from execution.models import Operation, OperationKind, OperationState
from risk.models import RiskEvent, RiskEventKind
from tests.factories import AccountFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def main_of(response) -> str:
    return response.content.decode().split("<main")[1].split("</main>")[0]


def test_staff_flatten_one_account_and_land_on_its_operation(staff_client, staff):
    account, other = AccountFactory(name="Paper Asha"), AccountFactory(name="Paper Bharat")
    response = staff_client.post(reverse("dashboard:account-flatten", args=[account.id]), {"reason": "Margin call"})

    operation = Operation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:operation", args=[operation.id])
    assert (operation.kind, operation.account, operation.strategy) == (OperationKind.ACCOUNT_FLATTEN, account, None)
    assert operation.actor == staff and operation.reason == "Margin call"
    assert operation.state == OperationState.QUEUED  # the task goes once the request's transaction commits
    other.refresh_from_db()
    assert other.status == "active"

    page = staff_client.get(response["Location"])
    assert f"Account flatten #{operation.id} of Paper Asha" in " ".join(messages_of(page))
    assert f"Account flatten #{operation.id}" in main_of(page)


def test_a_flatten_without_a_reason_says_it_came_from_the_dashboard(staff_client):
    account = AccountFactory()
    staff_client.post(reverse("dashboard:account-flatten", args=[account.id]), {"reason": "  "})
    assert Operation.objects.get().reason == "Flattened from the dashboard"


def test_staff_stop_one_strategy_and_land_on_its_operation(staff_client, staff):
    strategy, other = StrategyFactory(name="SMA 1m"), StrategyFactory(name="Breakout")
    response = staff_client.post(reverse("dashboard:strategy-stop", args=[strategy.id]), {"reason": "Bad fills"})

    operation = Operation.objects.get()
    assert response["Location"] == reverse("dashboard:operation", args=[operation.id])
    assert (operation.kind, operation.strategy, operation.account) == (OperationKind.STRATEGY_STOP, strategy, None)
    assert operation.actor == staff and operation.reason == "Bad fills"
    strategy.refresh_from_db()
    other.refresh_from_db()
    assert not strategy.trading_enabled and other.trading_enabled  # off at once, before the task
    assert RiskEvent.objects.filter(kind=RiskEventKind.STRATEGY_STOPPED, strategy=strategy, actor=staff).exists()

    page = staff_client.get(response["Location"])
    assert f"Strategy stop #{operation.id}" in " ".join(messages_of(page))


@pytest.mark.parametrize("name", ["dashboard:account-flatten", "dashboard:strategy-stop"])
def test_a_viewer_is_refused_and_nothing_starts(viewer_client, name):
    target = AccountFactory() if name == "dashboard:account-flatten" else StrategyFactory()
    assert viewer_client.post(reverse(name, args=[target.id]), {"reason": "x"}).status_code == 403
    assert not Operation.objects.exists()
    if name == "dashboard:strategy-stop":
        target.refresh_from_db()
        assert target.trading_enabled


@pytest.mark.parametrize("name", ["dashboard:account-flatten", "dashboard:strategy-stop"])
def test_a_post_without_the_csrf_token_a_get_or_no_login_starts_nothing(staff, name):
    target = AccountFactory() if name == "dashboard:account-flatten" else StrategyFactory()
    url = reverse(name, args=[target.id])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    assert browser.post(url).status_code == 403
    assert browser.get(url).status_code == 405
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("dashboard:login"))
    assert not Operation.objects.exists()


def test_an_unknown_account_or_strategy_is_a_404(staff_client):
    assert staff_client.post(reverse("dashboard:account-flatten", args=[999])).status_code == 404
    assert staff_client.post(reverse("dashboard:strategy-stop", args=[999])).status_code == 404
    assert not Operation.objects.exists()


def test_staff_see_a_flatten_button_per_account_and_its_dialog(staff_client, viewer):
    asha, bharat = AccountFactory(name="Paper Asha"), AccountFactory(name="Paper Bharat")
    page = main_of(staff_client.get(reverse("dashboard:accounts")))
    for account in (asha, bharat):
        url = reverse("dashboard:account-flatten", args=[account.id])
        assert f'data-action="{url}" data-subject="{account.name}">Flatten</button>' in page
    assert 'id="account-flatten-modal"' in page and 'id="account-flatten-confirm"' in page

    viewer_page = Client()
    viewer_page.force_login(viewer)
    html = main_of(viewer_page.get(reverse("dashboard:accounts")))
    assert "Flatten" not in html and "account-flatten-modal" not in html


def test_staff_see_a_stop_button_on_the_strategys_page(staff_client, viewer):
    strategy = StrategyFactory(name="SMA 1m")
    page = staff_client.get(reverse("dashboard:strategy", args=[strategy.id])).content.decode()
    assert 'data-bs-target="#strategy-stop-modal" id="strategy-stop">Stop strategy</button>' in page
    assert f'action="{reverse("dashboard:strategy-stop", args=[strategy.id])}"' in page

    viewer_page = Client()
    viewer_page.force_login(viewer)
    html = viewer_page.get(reverse("dashboard:strategy", args=[strategy.id])).content.decode()
    assert "Stop strategy" not in html and "strategy-stop-modal" not in html

"""The dashboard's buttons: staff only, POST only, each calls its service and says what happened."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AccountStatus
from risk.models import RiskEvent, RiskEventKind
from risk.selectors import engine_state
from strategies.models import Signal
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_staff_start_and_stop_the_engine_and_each_is_in_the_risk_log(staff_client, staff):
    response = staff_client.post(reverse("dashboard:engine-start"), {"next": "/orders/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/orders/"
    assert engine_state().running
    assert "Engine started" in " ".join(messages_of(response))

    staff_client.post(reverse("dashboard:engine-stop"))
    assert not engine_state().running
    kinds = list(RiskEvent.objects.filter(actor=staff).values_list("kind", flat=True))
    assert RiskEventKind.ENGINE_STARTED in kinds and RiskEventKind.ENGINE_STOPPED in kinds


@pytest.mark.parametrize(
    "name,args",
    [
        ("dashboard:engine-start", []),
        ("dashboard:engine-stop", []),
        ("dashboard:emergency-stop", []),
        ("dashboard:kill-switch-reset", []),
        ("dashboard:signal-send", []),
    ],
)
def test_a_viewer_cannot_change_anything(viewer_client, name, args):
    assert viewer_client.post(reverse(name, args=args)).status_code == 403
    assert not engine_state().running and not engine_state().kill_switch


def test_state_changes_refuse_get_and_anonymous_posts(staff_client):
    from django.test import Client

    assert staff_client.get(reverse("dashboard:engine-start")).status_code == 405
    response = Client().post(reverse("dashboard:engine-start"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("dashboard:login"))
    assert not engine_state().running


def test_a_post_without_the_csrf_token_is_refused(staff):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    assert browser.post(reverse("dashboard:engine-start")).status_code == 403
    assert not engine_state().running


def test_an_offsite_next_is_ignored(staff_client):
    response = staff_client.post(reverse("dashboard:engine-start"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard:overview")


def test_halt_and_resume_an_account(staff_client):
    account = AccountFactory()
    staff_client.post(reverse("dashboard:account-halt", args=[account.id]), {"reason": "Broker margin call"})
    account.refresh_from_db()
    assert account.status == AccountStatus.HALTED and account.status_reason == "Broker margin call"
    page = staff_client.get(reverse("dashboard:accounts")).content.decode()
    assert "Halted" in page and "Broker margin call" in page

    staff_client.post(reverse("dashboard:account-resume", args=[account.id]))
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


@pytest.fixture
def mapped_strategy():
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    other = InstrumentFactory(tradingsymbol="TCS", instrument_token=2953217)
    strategy = StrategyFactory(name="SMA", instruments=[instrument])
    MappingFactory(strategy=strategy)
    StrategyFactory(name="Other", instruments=[other])
    return strategy, instrument, other


def test_a_manual_signal_needs_a_stop_for_an_entry(staff_client, mapped_strategy):
    strategy, instrument, _ = mapped_strategy
    response = staff_client.post(
        reverse("dashboard:signal-send"),
        {"strategy": strategy.id, "instrument": instrument.id, "direction": "1", "stop_price": ""},
    )
    assert response.status_code == 400
    assert "needs a stop price" in str(response.context["form"].errors["stop_price"])
    assert not Signal.objects.exists()


def test_a_manual_long_with_its_stop_above_the_price_is_refused_on_the_stop(staff_client, mapped_strategy):
    from strategies.selectors import market_data_source

    strategy, instrument, _ = mapped_strategy
    price = Decimal(market_data_source().ltp([instrument])[instrument.instrument_token])
    response = staff_client.post(
        reverse("dashboard:signal-send"),
        {"strategy": strategy.id, "instrument": instrument.id, "direction": "1", "stop_price": str(price + 10)},
    )
    assert response.status_code == 400
    assert "stop must be below the last price" in str(response.context["form"].errors["stop_price"])
    assert not Signal.objects.exists()


def test_a_manual_signal_must_be_on_one_of_the_strategys_instruments(staff_client, mapped_strategy):
    strategy, _, other = mapped_strategy
    response = staff_client.post(
        reverse("dashboard:signal-send"),
        {"strategy": strategy.id, "instrument": other.id, "direction": "-1", "stop_price": "5000"},
    )
    assert response.status_code == 400
    assert "NSE:TCS is not traded by SMA" in str(response.context["form"].errors["instrument"])


def test_a_manual_signal_is_recorded_and_fanned_out_after_commit(
    staff_client, mapped_strategy, django_capture_on_commit_callbacks
):
    strategy, instrument, _ = mapped_strategy
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post(
            reverse("dashboard:signal-send"),
            {"strategy": strategy.id, "instrument": instrument.id, "direction": "1", "stop_price": "1.00"},
        )
    signal = Signal.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:signal", args=[signal.id])
    assert signal.source == "manual" and signal.target == 1 and signal.stop_price == Decimal("1.00")
    assert signal.data_source == "simulated"
    assert len(callbacks) == 1  # the fan-out task, enqueued only once the signal is committed
    page = staff_client.get(response["Location"]).content.decode()
    assert f"Signal #{signal.id}" in page and "simulated" in page


def test_a_flat_signal_needs_no_stop(staff_client, mapped_strategy, django_capture_on_commit_callbacks):
    strategy, instrument, _ = mapped_strategy
    with django_capture_on_commit_callbacks(execute=False):
        response = staff_client.post(
            reverse("dashboard:signal-send"), {"strategy": strategy.id, "instrument": instrument.id, "direction": "0"}
        )
    assert response.status_code == 302
    assert Signal.objects.get().target == 0


def test_emergency_stop_trips_the_kill_switch_and_blocks_a_restart(staff_client):
    response = staff_client.post(
        reverse("dashboard:emergency-stop"), {"reason": "Exchange glitch", "next": "/"}, follow=True
    )
    state = engine_state()
    assert state.kill_switch and not state.running
    assert "Emergency stop" in " ".join(messages_of(response))
    assert RiskEvent.objects.filter(kind=RiskEventKind.EMERGENCY_STOP, message__contains="Exchange glitch").exists()

    response = staff_client.post(reverse("dashboard:engine-start"), follow=True)
    assert not engine_state().running
    assert "was not started" in " ".join(messages_of(response))

    staff_client.post(reverse("dashboard:kill-switch-reset"))
    assert not engine_state().kill_switch and not engine_state().running
    staff_client.post(reverse("dashboard:engine-start"))
    assert engine_state().running


def test_the_emergency_button_with_no_reason_records_who_pressed_it_and_from_where(staff_client):
    staff_client.post(reverse("dashboard:emergency-stop"), {"next": "/"})

    event = RiskEvent.objects.get(kind=RiskEventKind.EMERGENCY_STOP)
    assert event.message == f"Emergency stop by {event.actor} from the dashboard (127.0.0.1)"
    assert engine_state().kill_switch

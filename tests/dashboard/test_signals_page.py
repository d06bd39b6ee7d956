"""The signals page's last prices (for choosing a stop) follow the active strategies' instruments."""

import pytest
from django.urls import reverse

from tests.factories import InstrumentFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def test_an_instrument_added_to_a_strategy_gets_its_last_price_on_the_next_page_load(viewer_client):
    strategy = StrategyFactory(instruments=[InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)])
    first = viewer_client.get(reverse("dashboard:signals")).content.decode()
    assert 'data-symbol="NSE:INFY"' in first and 'data-symbol="NSE:TCS"' not in first
    strategy.instruments.add(InstrumentFactory(tradingsymbol="TCS", instrument_token=2953217))
    again = viewer_client.get(reverse("dashboard:signals")).content.decode()
    assert 'data-symbol="NSE:TCS"' in again

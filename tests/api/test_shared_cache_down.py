"""Redis down, as the web process meets it in production: the Celery broker *and* the shared cache
(throttle counts, webhook rates, seen postbacks) are both on Redis. The API still answers: a manual
signal is recorded with its pending deliveries (201), reads answer 200, never 500.

The other tests keep a cache per process (tests/settings.py), so here the production cache is put back,
pointed at a port where nothing listens.
"""

from decimal import Decimal

import pytest

import tradingsite.settings as production
from tests.api.test_manual_signals import last_price
from tests.own_redis import celery_app_on, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {"default": {**production.CACHES["default"], "LOCATION": dead}}
    with celery_app_on(dead):
        yield


def test_with_redis_down_the_api_still_reads_and_records_a_signal(staff, book, engine_running, redis_down):
    assert staff.get("/api/system/status").status_code == 200

    stop = (last_price(book["infy"]) * Decimal("0.98")).quantize(Decimal("0.05"))
    payload = {"strategy": book["strategy"].id, "instrument": "NSE:INFY", "side": "BUY", "stop_price": str(stop)}
    response = staff.post("/api/signals/manual", payload, format="json")

    assert response.status_code == 201, response.content
    assert [d["state"] for d in response.json()["deliveries"]] == ["pending", "pending"]


def test_with_redis_down_a_throttled_client_is_let_through_not_refused(staff, redis_down, settings):
    settings.API_THROTTLE_RATES = {"user": "1/minute", "anon": "1/minute"}
    # The counts cannot be kept while Redis is away: requests go on rather than the API stopping.
    assert [staff.get("/api/system/status").status_code for _ in range(3)] == [200, 200, 200]

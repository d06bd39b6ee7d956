"""The webhook's rate limit is counted where every web process sees it, and its request log is pruned."""

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from strategies.models import WebhookRequest
from strategies.services import strategy_webhook_rotate
from strategies.tasks import webhook_requests_cleanup
from tests.django_process import run_django
from tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
MINUTE = datetime(2026, 11, 20, 4, 30, 10, tzinfo=UTC)  # one fixed rate window for both processes


def test_two_web_processes_share_one_webhooks_rate_limit():
    """Three requests in another process (its settings: the shared Redis cache, as in production)
    use the limit of three: the fourth, in this process, is refused."""
    prefix = f"webhook-test-{uuid.uuid4().hex}:"
    public_id = uuid.uuid4().hex
    other = run_django(
        "from datetime import datetime; from execution.engine.webhooks import webhook_rate_limited; "
        f"now = datetime.fromisoformat({MINUTE.isoformat()!r}); "
        f"print([webhook_rate_limited(public_id={public_id!r}, now=now) for _ in range(3)])",
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        CACHE_REDIS_URL=REDIS_URL,
        CELERY_KEY_PREFIX=prefix,
        WEBHOOK_RATE_LIMIT="3",
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "[False, False, False]"

    from django.conf import settings

    from execution.engine.webhooks import webhook_rate_limited

    shared = {"default": {**settings.CACHES["default"], **_redis_cache(prefix)}}
    with override_settings(CACHES=shared, WEBHOOK_RATE_LIMIT=3):
        assert webhook_rate_limited(public_id=public_id, now=MINUTE) is True
        assert webhook_rate_limited(public_id=uuid.uuid4().hex, now=MINUTE) is False  # per webhook
    # No cache.clear(): on Redis it would flush the database other test runs share; the keys expire.


def _redis_cache(prefix: str) -> dict:
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}


def test_webhook_requests_older_than_the_retention_are_deleted_by_beat(settings):
    from execution.engine.schedules import ensure_beat_schedules

    settings.WEBHOOK_REQUEST_RETENTION_DAYS = 10
    hook, _ = strategy_webhook_rotate(strategy=StrategyFactory())
    now = datetime.now(UTC)
    for age in (0, 9, 11, 40):
        row = WebhookRequest.objects.create(
            webhook=hook, public_id=hook.public_id, status_code=403, outcome="unauthorized", message=f"{age} days"
        )
        WebhookRequest.objects.filter(pk=row.pk).update(received_at=now - timedelta(days=age, minutes=1))

    ensure_beat_schedules()
    task = PeriodicTask.objects.get(task="strategies.tasks.webhook_requests_cleanup")
    assert task.enabled and task.crontab is not None

    assert webhook_requests_cleanup() == 2
    assert sorted(WebhookRequest.objects.values_list("message", flat=True)) == ["0 days", "9 days"]

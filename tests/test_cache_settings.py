"""The shared cache (throttles, webhook rates, seen postbacks) lives in its own Redis database by
default, so clearing it never drops the Celery broker's queued messages."""

import os
import uuid
from urllib.parse import urlsplit

import pytest
import redis

from tests.django_process import run_django

PRINT_CACHE = "from django.conf import settings; print(settings.CACHES['default'].get('LOCATION'))"


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://redis:6379/0", "redis://redis:6379/1"),
        ("redis://redis:6379", "redis://redis:6379/1"),
        ("redis://:pw@redis:6379/4", "redis://:pw@redis:6379/5"),
        ("redis://redis:6379/15", "redis://redis:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock?db=1"),
        ("unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=3"),
    ],
)
def test_the_cache_defaults_to_the_redis_database_after_the_brokers(broker, cache):
    result = run_django(
        PRINT_CACHE, DJANGO_SETTINGS_MODULE="tradingsite.settings", REDIS_URL=broker, drop=("CACHE_REDIS_URL",)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == cache


def test_cache_redis_url_chooses_the_cache_database():
    result = run_django(
        PRINT_CACHE,
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        REDIS_URL="redis://redis:6379/0",
        CACHE_REDIS_URL="redis://cache-host:6379/7",
    )
    assert result.stdout.strip() == "redis://cache-host:6379/7", result.stderr


def test_a_broker_database_that_is_not_a_number_is_a_clear_error():
    result = run_django(PRINT_CACHE, DJANGO_SETTINGS_MODULE="tradingsite.settings", REDIS_URL="redis://redis:6379/x")
    assert result.returncode != 0
    assert "REDIS_URL: the database 'x' is not a number" in result.stderr


def test_cache_entries_land_outside_the_brokers_database():
    """A key the cache writes under the deployment's settings is in db N+1, and not in the broker's db N."""
    broker_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    parts = urlsplit(broker_url)
    broker_db = int(parts.path.strip("/") or 0)
    prefix = f"cache-db-test-{uuid.uuid4().hex}"
    result = run_django(
        "from django.core.cache import cache; cache.set('probe', 1, 60)",
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        REDIS_URL=broker_url,
        CELERY_KEY_PREFIX=prefix,
        drop=("CACHE_REDIS_URL",),
    )
    assert result.returncode == 0, result.stderr
    pattern = f"{prefix}:*probe"
    broker = redis.Redis.from_url(broker_url)
    cache = redis.Redis.from_url(parts._replace(path=f"/{(broker_db + 1) % 16}").geturl())
    try:
        assert not list(broker.scan_iter(pattern))
        assert len(list(cache.scan_iter(pattern))) == 1
    finally:
        for key in cache.scan_iter(pattern):
            cache.delete(key)

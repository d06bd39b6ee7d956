"""Test settings: the real services, PostgreSQL and Redis, unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# One id per test run, inherited by the worker subprocess: two runs on one machine (two
# developers, or CI beside a developer) get their own test database and their own Redis keys.
TEST_RUN_ID = os.environ.setdefault("TEST_RUN_ID", str(os.getpid()))
os.environ.setdefault("CELERY_KEY_PREFIX", f"test{TEST_RUN_ID}:")

from tradingsite.settings import *  # noqa: E402,F403
from tradingsite.settings import DATABASES  # noqa: E402

DATABASES["default"]["TEST"] = {"NAME": f"test_trading_{TEST_RUN_ID}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SIMULATED_MARKET_24X7 = True
# Serve static files from the apps' folders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Each test process its own cache: the tests clear it, and clearing a Redis cache flushes its whole
# database, other test runs' keys included. The settings tests check the shared cache of production.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# django-axes wants the request in every authenticate() call, and the test client's login() has
# none: lockouts are off here and switched on by the tests of them (tests/security/).
AXES_ENABLED = False

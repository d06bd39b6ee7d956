"""Test settings: the real services, PostgreSQL and Redis, unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from tradingsite.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SIMULATED_MARKET_24X7 = True

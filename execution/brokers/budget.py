"""A per-account budget for order traffic (place, modify, cancel) that keeps us under Kite's limits.

Kite allows 10 order requests per second and 400 per minute per account; going over gets HTTP 429
and, repeated, can get the app blocked. Every worker process and thread sends orders, so the
budget is a sliding-window log shared through Redis when ``REDIS_URL`` is set (one Lua script:
check every window and record the request atomically, on Redis's clock) and in-process otherwise
(the embedded default runs one worker).

Each window is a little wider than Kite's so that network jitter between our clock and Kite's
never puts eleven requests into one of Kite's seconds.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from django.conf import settings

from .base import RateLimited


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float


# Kite's published order limits per account, each window widened by 10% for jitter.
KITE_ORDER_WINDOWS = (Window(10, 1.1), Window(400, 66.0))
# The longest a placement or cancel waits for room before giving up without sending anything.
MAX_WAIT_SECONDS = 5.0


class OrderBudget:
    def __init__(self, windows: tuple[Window, ...] = KITE_ORDER_WINDOWS) -> None:
        self.windows = windows

    def try_acquire(self, key: str) -> float:
        """Record one request and return 0, or return the seconds until there is room (nothing recorded)."""
        raise NotImplementedError

    def acquire(self, key: str, *, max_wait: float = MAX_WAIT_SECONDS) -> None:
        """Wait for room and record one request; raise RateLimited if that would take over ``max_wait``."""
        deadline = time.monotonic() + max_wait
        while True:
            wait = self.try_acquire(key)
            if wait <= 0:
                return
            if time.monotonic() + wait > deadline:
                raise RateLimited(
                    f"Not sent: this account has used Kite's order rate limit "
                    f"({', '.join(f'{w.limit} per {w.seconds:g} s' for w in self.windows)}); try again shortly."
                )
            time.sleep(wait)


class LocalOrderBudget(OrderBudget):
    """Sliding-window logs in this process (the embedded default's single worker)."""

    def __init__(self, windows: tuple[Window, ...] = KITE_ORDER_WINDOWS) -> None:
        super().__init__(windows)
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def try_acquire(self, key: str) -> float:
        now = time.monotonic()
        horizon = max(w.seconds for w in self.windows)
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - horizon:
                hits.popleft()
            wait = 0.0
            for window in self.windows:
                in_window = [t for t in hits if t > now - window.seconds]
                if len(in_window) >= window.limit:
                    # Room opens when enough of the oldest hits in the window have aged out.
                    wait = max(wait, in_window[len(in_window) - window.limit] + window.seconds - now)
            if wait <= 0:
                hits.append(now)
            return wait


# KEYS[1] the account's log (a sorted set of request times in ms); ARGV: member, then limit/window_ms pairs.
_LUA_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local horizon = 0
for i = 2, #ARGV, 2 do horizon = math.max(horizon, tonumber(ARGV[i + 1])) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
local wait = 0
for i = 2, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local count = redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf', 'WITHSCORES', 'LIMIT',
      count - limit, 1)
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], horizon)
return 0
"""


class RedisOrderBudget(OrderBudget):
    """Sliding-window logs in Redis, shared by every worker process on every host."""

    def __init__(self, url: str, windows: tuple[Window, ...] = KITE_ORDER_WINDOWS, prefix: str = "") -> None:
        import redis

        super().__init__(windows)
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA_ACQUIRE)
        self._prefix = prefix

    def try_acquire(self, key: str) -> float:
        args = [uuid.uuid4().hex]
        for window in self.windows:
            args += [window.limit, int(window.seconds * 1000)]
        wait_ms = self._script(keys=[f"{self._prefix}kite:order-budget:{key}"], args=args)
        return int(wait_ms) / 1000


_budget: OrderBudget | None = None
_budget_lock = threading.Lock()


def order_budget() -> OrderBudget:
    """The process-wide budget: Redis-backed when REDIS_URL is set, in-process otherwise."""
    global _budget
    with _budget_lock:
        if _budget is None:
            if settings.REDIS_URL:
                prefix = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get("global_keyprefix", "")
                _budget = RedisOrderBudget(settings.REDIS_URL, prefix=prefix)
            else:
                _budget = LocalOrderBudget()
        return _budget

"""Per-api_key sliding-window rate limits, Kite's published numbers by default."""

from __future__ import annotations

import copy
import time
from collections import deque

DEFAULT_LIMITS: dict[str, list[tuple[int, float]]] = {
    "orders": [(10, 1.0), (400, 60.0), (5000, 86400.0)],
    "quote": [(1, 1.0)],
    "historical": [(3, 1.0)],
    "other": [(10, 1.0)],
}


def bucket_for(method: str, path: str) -> str:
    if method in ("POST", "PUT", "DELETE") and path.startswith("/orders/"):
        return "orders"
    if path == "/quote" or path.startswith("/quote/"):
        return "quote"
    if path.startswith("/instruments/historical/"):
        return "historical"
    return "other"


def _count_since(hits: deque[float], since: float) -> int:
    n = 0
    for t in reversed(hits):
        if t <= since:
            break
        n += 1
    return n


class RateLimiter:
    def __init__(self, limits: dict[str, list[tuple[int, float]]] | None = None) -> None:
        self.limits = copy.deepcopy(limits or DEFAULT_LIMITS)
        self.enabled = True
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def allow(self, api_key: str | None, bucket: str, now: float | None = None) -> bool:
        """Record and allow the request, or refuse it (refusals are not counted)."""
        if not self.enabled or not api_key:
            return True
        rules = self.limits.get(bucket) or []
        if not rules:
            return True
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault((api_key, bucket), deque())
        horizon = max(window for _, window in rules)
        while hits and hits[0] <= now - horizon:
            hits.popleft()
        for limit, window in rules:
            if _count_since(hits, now - window) >= limit:
                return False
        hits.append(now)
        return True

    def reset(self) -> None:
        self._hits.clear()

"""A worker process's order threads: the accounts of one order message run side by side.

One Celery message carries a batch of a signal's accounts (``tasks.fan_out_signal``). Each account's
orders run on a thread of this pool, so the waits on Kite overlap, while Celery's cost per message
(delivery, its bookkeeping in Redis, the ack, the tracer) is paid once a batch instead of once an
account: measured, it was over a third of the workers' CPU per order (README, "Kite fan-out benchmark").

Accounts stay independent: each runs on its own thread and database connection, and an error in one
is logged and returned, never raised into the others.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections, transaction

logger = logging.getLogger(__name__)
Result = TypeVar("Result")

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_size = 0


def _order_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid, _pool_size
    with _pool_lock:
        # A prefork child inherits the parent's pool object but none of its threads: it starts its own.
        if _pool is None or _pool_pid != os.getpid():
            _pool_size = settings.ORDER_THREADS
            _pool = ThreadPoolExecutor(
                max_workers=_pool_size, thread_name_prefix="orders", initializer=_mark_order_thread
            )
            _pool_pid = os.getpid()
        return _pool


def shutdown() -> None:
    """Stop this process's order threads after closing their database connections.

    Each thread keeps its connection for the life of the process; a test database cannot be dropped
    while one is open. Every thread takes exactly one closing job: each waits at the barrier until
    all have one (the pool starts threads up to its size while none is idle).
    """
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
        if pool is None or _pool_pid != os.getpid():
            return
        size = _pool_size
    barrier = threading.Barrier(size)

    def close_this_threads_connections() -> None:
        try:
            barrier.wait(timeout=30)
        finally:
            connections.close_all()

    closing = [pool.submit(close_this_threads_connections) for _ in range(size)]
    pool.shutdown(wait=True)
    for job in closing:
        if job.exception() is not None:
            logger.warning("an order thread's connections may not have closed in order: %r", job.exception())


def _close_unusable_connections() -> None:
    # Django's rule around each request (and tradingsite/celery.py's around each task): the pool's
    # threads live as long as the process, so a broken connection or one past CONN_MAX_AGE is
    # dropped before and after each account's work instead of failing the next account.
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()


_on_order_thread = threading.local()


def _mark_order_thread() -> None:
    _on_order_thread.active = True


def _run_on_order_thread(work: Callable[[int], Result], account_id: int, what: str) -> Result | Exception:
    _close_unusable_connections()
    try:
        return _isolated(work, account_id, what=what)
    finally:
        _close_unusable_connections()


def run_per_account(
    work: Callable[[int], Result], account_ids: Sequence[int], *, what: str
) -> dict[int, Result | Exception]:
    """Run ``work(account_id)`` for each account side by side; each account's result or its error.

    ``what`` names the work in the log line of an account that failed.
    """
    account_ids = list(dict.fromkeys(account_ids))  # each account once, even in a hand-made message
    if len(account_ids) <= 1 or connection.in_atomic_block or getattr(_on_order_thread, "active", False):
        # One account needs no thread. Inside a transaction (a task run eagerly in a test or a
        # request), other threads could not see its uncommitted rows; on an order thread, waiting
        # for others of the same pool could deadlock it: the accounts run here in turn.
        return {account_id: _isolated(work, account_id, what=what) for account_id in account_ids}
    pool = _order_pool()
    futures = {account_id: pool.submit(_run_on_order_thread, work, account_id, what) for account_id in account_ids}
    return {account_id: future.result() for account_id, future in futures.items()}


def _isolated(work: Callable[[int], Result], account_id: int, *, what: str) -> Result | Exception:
    """One account's work, its error returned (and logged) rather than raised into the others'."""
    try:
        if not connection.in_atomic_block:
            return work(account_id)
        with transaction.atomic():  # a savepoint: one account's database error leaves the caller's transaction usable
            return work(account_id)
    except Exception as exc:
        logger.exception("%s failed on account %s", what, account_id)
        return exc

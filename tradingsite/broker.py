"""kombu's Redis transport, made to survive a Redis restart.

When Redis goes away while a worker holds prefetched messages, the consumer closes its channel,
and the channel tries to hand those messages back to Redis. By then the transport has already
dropped its connection details (``Transport.client`` is None), so kombu 5.7's ``_connparams``
raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``: not a connection error,
so Celery calls it unrecoverable and the worker exits (under honcho, ``make run`` then stops
every process). Raised as a connection error instead, kombu ignores it while closing, the worker
reconnects, and the messages stay in Redis's unacked set to be restored after the visibility
timeout (orders do not wait for that: the delivery sweeper re-drives them).
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection is closed (Redis went away); reconnecting")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel

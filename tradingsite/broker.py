"""kombu's transports, made to survive what stopped a worker: a Redis restart, and (the embedded
default's file-system broker) a message read while it was being written.

The Redis transport:

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

import os

from kombu.transport import filesystem as kombu_filesystem
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection is closed (Redis went away); reconnecting")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


# --- the embedded default's file-system broker ---------------------------------------------------


class FilesystemChannel(kombu_filesystem.Channel):
    """kombu's file-system channel, writing each message whole before a reader can see it.

    kombu 5.7 opens the message file under its final name and then writes it. A worker polling the
    folder in between moves the still-empty file away, reads nothing, and fails to decode it: the
    worker stops on that error (under honcho, ``make run`` then stops every process) and the message
    is lost. Written under a name the reader skips and renamed into place (atomic on one file
    system), a message is either absent or complete.
    """

    def _put(self, queue, payload, **kwargs):
        data = kombu_filesystem.str_to_bytes(kombu_filesystem.dumps(payload))
        name = f"{round(kombu_filesystem.monotonic() * 1000)}_{kombu_filesystem.uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: the reader keeps only names whose part after the first dot is "<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(data)
            os.replace(partial, final)
        except OSError as exc:
            raise kombu_filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(kombu_filesystem.Transport):
    Channel = FilesystemChannel

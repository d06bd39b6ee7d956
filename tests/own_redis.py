"""A Redis of the test's own, on a free port, that the test may stop and start again; and the
Celery app of the test process pointed at it (or at a port where nothing listens)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash would: nothing saved, every connection dropped
            self.process.wait()
            self.process = None


@contextmanager
def celery_app_on(url: str) -> Iterator[None]:
    """The test process's Celery app publishes to ``url`` until the block ends."""
    from tradingsite.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options

    def reset() -> None:
        # Forget the cached pools (never close them: kombu's registry shares them with later tests).
        app._pool = None
        app.amqp._producer_pool = None

    reset()
    app.conf.broker_url = url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    try:
        yield
    finally:
        reset()
        app.conf.broker_url, app.conf.broker_transport_options = saved

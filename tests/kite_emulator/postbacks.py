"""Order postbacks: raw JSON POSTs from a background thread, in order, never blocking a request."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request

from .util import sha256_hex


def postback_payload(order: dict, status: str, *, user_id: str, app_id: int, api_secret: str) -> dict:
    payload = {
        "user_id": user_id,
        "unfilled_quantity": order["quantity"] - order["filled_quantity"],
        "app_id": app_id,
        "checksum": sha256_hex(order["order_id"], order["order_timestamp"], api_secret),
    }
    payload.update({k: v for k, v in order.items() if k not in ("modified", "tags", "validity_ttl")})
    payload["status"] = status
    return payload


class PostbackSender:
    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.delivered: list[dict] = []  # {url, payload, status_code, error, time}
        self._queue: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kite-emulator-postbacks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def enqueue(self, url: str, payload: dict) -> None:
        self._queue.put((url, payload))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            url, payload = item
            record = {"url": url, "payload": payload, "status_code": None, "error": None, "time": time.time()}
            body = json.dumps(payload).encode()
            req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - test URL
                    record["status_code"] = resp.status
            except urllib.error.HTTPError as exc:
                record["status_code"] = exc.code
            except Exception as exc:  # noqa: BLE001 - a failed postback is only logged
                record["error"] = repr(exc)
            with self._cond:
                self.delivered.append(record)
                self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        """Block until at least ``count`` postbacks were attempted (or timeout); return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.delivered) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.delivered)

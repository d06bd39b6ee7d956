"""HTTP plumbing: a threading HTTP/1.1 server, request parsing, fault application, response writing."""

from __future__ import annotations

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from . import api, control, login
from .faults import PRE_FAULTS
from .protocol import Request, Response, error_response, json_response, parse_auth
from .ratelimit import bucket_for
from .util import Params

if TYPE_CHECKING:
    from .emulator import KiteEmulator

GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
TOO_MANY = {"status": "error", "error_type": "NetworkException", "message": "Too many requests", "data": None}


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Kite takes many connections at once. socketserver's default backlog of 5 dropped the
    # connection attempts of a cold fan-out to 50 accounts, each retried by the kernel a second later.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: KiteEmulator):
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, EmulatorHandler)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns, self.connections = list(self.connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "KiteEmulator/1.0"
    timeout = 120
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        handle(self.server.emulator, self)

    do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.server.emulator.verbose:
            super().log_message(format, *args)


def parse(h: BaseHTTPRequestHandler) -> Request:
    url = urlsplit(h.path)
    length = int(h.headers.get("Content-Length") or 0)
    body = h.rfile.read(length) if length > 0 else b""
    headers = {k.lower(): v for k, v in h.headers.items()}
    values = parse_qs(url.query, keep_blank_values=True)
    if body and "application/x-www-form-urlencoded" in headers.get("content-type", ""):
        for key, vals in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            values.setdefault(key, []).extend(vals)
    req = Request(h.command, url.path, Params(values), headers, h.client_address[0], body, h.client_address[1])
    req.api_key, req.access_token = parse_auth(headers)
    return req


def write(h: BaseHTTPRequestHandler, resp: Response) -> None:
    try:
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(len(resp.body)))
        for key, value in resp.headers.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(resp.body)
        h.wfile.flush()
    except OSError:
        h.close_connection = True


def reset_connection(h: BaseHTTPRequestHandler) -> None:
    """Abort the TCP connection (RST) without any response."""
    h.close_connection = True
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
    except OSError:
        pass


def handle(emu: KiteEmulator, h: BaseHTTPRequestHandler) -> None:
    req = parse(h)
    if req.path.startswith("/_emulator/"):
        write(h, control.dispatch(emu, req))
        return
    key = req.api_key or req.params.get("api_key")
    record = emu._record(req, key)
    with emu.lock:
        latency, fault = emu.faults.take(key, req.method, req.path)
    if latency:
        emu._wait(latency)
    if fault is not None and fault.kind in PRE_FAULTS:
        if fault.kind == "connection_reset":
            record.status = 0
            reset_connection(h)
            return
        resp = (
            Response(502, GATEWAY_HTML, "text/html")
            if fault.kind == "html_502"
            else error_response(fault.error(req.client_ip))
        )
    else:
        resp = process(emu, req, key)
    if fault is not None and fault.kind.startswith("accept_then_"):
        if fault.kind == "accept_then_reset":
            record.status = 0
            reset_connection(h)
            return
        if fault.kind == "accept_then_hang":
            emu._wait(fault.seconds or 0)
            h.close_connection = True
        else:
            resp = error_response(fault.error(req.client_ip))
    record.status = resp.status
    write(h, resp)


def process(emu: KiteEmulator, req: Request, key: str | None) -> Response:
    if req.path == "/connect/login" and req.method == "GET":
        return login.connect_login(emu, req)
    if emu.rate_limits_enabled:
        with emu.lock:
            allowed = emu.limiter.allow(key, bucket_for(req.method, req.path))
        if not allowed:
            return json_response(TOO_MANY, 429)
    return api.dispatch(emu, req)

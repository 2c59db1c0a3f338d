"""A tiny HTTP(S) proxy for client tests: loopback passes, every other destination is refused.

Real clients (Claude Code, Codex, LiteLLM, ...) run with ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``
pointing here, so a telemetry ping, an update check or a plugin sync fails at once instead of
reaching outside the machine, and the test that ran the client can list what it tried.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Record:
    """Destinations seen, in order: refused outside ones and passed loopback ones."""

    refused: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, destination: str, *, allowed: bool) -> None:
        with self.lock:
            (self.passed if allowed else self.refused).append(destination)


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    record: Record


def _split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit("//" + authority)
    return parts.hostname or "", parts.port or default_port


def _pipe(a: socket.socket, b: socket.socket, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    sockets = [a, b]
    while time.monotonic() < deadline:
        readable, _, broken = select.select(sockets, [], sockets, 1.0)
        if broken:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _refuse(self, destination: str) -> None:
        self.server.record.add(destination, allowed=False)
        body = f"kirogate test proxy: outside destination {destination} refused\n".encode()
        self.send_response(403, "Forbidden")
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_CONNECT(self) -> None:
        host, port = _split_host_port(self.path, 443)
        destination = f"CONNECT {host}:{port}"
        if not is_loopback(host):
            self._refuse(destination)
            return
        self.server.record.add(destination, allowed=True)
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        with upstream:
            _pipe(self.connection, upstream)
        self.close_connection = True

    def _forward(self) -> None:
        parts = urlsplit(self.path)
        host = parts.hostname or self.headers.get("host", "")
        destination = f"{self.command} {parts.scheme or 'http'}://{host}{parts.path}"
        if not is_loopback(host):
            self._refuse(destination)
            return
        self.server.record.add(destination, allowed=True)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"{self.command} {target} HTTP/1.1"]
        lines += [
            f"{k}: {v}"
            for k, v in self.headers.items()
            if k.lower() not in ("proxy-connection", "connection", "keep-alive")
        ]
        lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            upstream = socket.create_connection((host, parts.port or 80), timeout=10)
        except OSError:
            self.send_error(502)
            return
        with upstream:
            upstream.sendall(head + body)
            while data := upstream.recv(65536):
                self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward


@dataclass
class LoopbackProxy:
    url: str
    record: Record

    def env(self) -> dict[str, str]:
        """Proxy variables in both spellings, loopback exempt, for a client subprocess."""
        no_proxy = "127.0.0.1,localhost,::1"
        out = {}
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
            out[name] = out[name.lower()] = self.url
        out["NO_PROXY"] = out["no_proxy"] = no_proxy
        return out

    def refused_since(self, mark: int) -> list[str]:
        with self.record.lock:
            return list(self.record.refused[mark:])

    def mark(self) -> int:
        with self.record.lock:
            return len(self.record.refused)


@contextlib.contextmanager
def loopback_proxy() -> Iterator[LoopbackProxy]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.record = Record()
    thread = threading.Thread(target=server.serve_forever, name="loopback-proxy", daemon=True)
    thread.start()
    try:
        yield LoopbackProxy(f"http://127.0.0.1:{server.server_address[1]}", server.record)
    finally:
        server.shutdown()
        server.server_close()

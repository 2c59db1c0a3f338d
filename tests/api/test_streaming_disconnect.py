"""A client that hangs up mid-stream: the gateway stops reading upstream and frees the lease.

Real processes (``tests/live.py``): the emulator streams a slow answer, the client reads the
first text delta and closes its connection. The emulator then sees its connection closed
(its handler ends long before the answer would have), and the admin API shows no request
in flight on the credential.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.live import LiveStack, live_stack

ADMIN_KEY = "admin-key-disconnect-test-0123"
# 0.25 s between upstream events: the echoed answer (~40 events) takes ~10 s.
PROMPT = "[[emu:slow delay=0.25]] " + "tell me a long story " * 16
REQUESTS = {
    "anthropic": (
        "/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True},
        b"content_block_delta",
    ),
    "openai": (
        "/v1/chat/completions",
        {"model": "claude-sonnet-4-5", "stream": True},
        b'"content":"',
    ),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tmp: Path = tmp_path_factory.mktemp("disconnect")
    with live_stack(tmp, serve_args=["--admin-key", ADMIN_KEY]) as running:
        yield running


def in_flight(stack: LiveStack) -> int:
    request = urllib.request.Request(
        f"{stack.base_url}/api/admin/credentials", headers={"x-api-key": ADMIN_KEY}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    return sum(int(row["inFlight"]) for row in body["credentials"])


def last_upstream_request(stack: LiveStack) -> dict[str, Any]:
    listing = stack.emulator_json("/_emulator/requests?path=/generateAssistantResponse&limit=1")
    assert isinstance(listing, dict)
    [entry] = listing["requests"]
    return dict(entry)


@contextmanager
def open_stream(stack: LiveStack, path: str, body: dict[str, Any]) -> Iterator[socket.socket]:
    """A raw HTTP/1.1 streaming request; the caller reads the socket and the block closes it."""
    url = urlsplit(stack.base_url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"x-api-key: {stack.api_key}\r\nAuthorization: Bearer {stack.api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    try:
        sock.sendall(head.encode() + payload)
        yield sock
    finally:
        sock.close()


def wait_for(check: Any, timeout: float) -> float:
    """Seconds until ``check()`` is true; fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout}s: {check.__doc__ or check}")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("dialect", sorted(REQUESTS))
def test_client_disconnect_stops_the_upstream_read_and_frees_the_lease(
    stack: LiveStack, dialect: str
) -> None:
    path, body, delta = REQUESTS[dialect]
    body = {**body, "messages": [{"role": "user", "content": PROMPT}]}
    with open_stream(stack, path, body) as sock:
        seen = b""
        while delta not in seen:
            chunk = sock.recv(65536)
            assert chunk, f"stream ended before a text delta: {seen[-300:]!r}"
            seen += chunk
        assert seen.startswith(b"HTTP/1.1 200")
        assert in_flight(stack) == 1
        assert last_upstream_request(stack)["status"] is None  # the emulator still streams
    # the socket is closed here, mid-stream

    def upstream_handler_ended() -> bool:
        """the emulator's handler ended: its connection to the gateway was closed"""
        return last_upstream_request(stack)["status"] is not None

    def lease_released() -> bool:
        """no request in flight on the credential"""
        return in_flight(stack) == 0

    # The full answer needs ~40 events * 0.25 s; a closed connection ends it at the next write.
    wait_for(upstream_handler_ended, timeout=5.0)
    wait_for(lease_released, timeout=5.0)

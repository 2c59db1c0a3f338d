"""The request head (request line and headers) is bounded on a real server (uvicorn)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

from kirogate.api.http_protocol import MAX_HEAD_BYTES
from tests.live import live_stack


def exchange(base_url: str, head: bytes) -> bytes:
    url = urlsplit(base_url)
    assert url.hostname is not None and url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=20) as client:
        for start in range(0, len(head), 16 * 1024):  # as a slow client would send it
            client.sendall(head[start : start + 16 * 1024])
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and b"connection: close" not in reply:
                break
        return reply


def test_oversized_head_is_431_and_a_normal_one_is_served(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack:
        big = b"x" * (MAX_HEAD_BYTES * 4)
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nx-big: " + big + b"\r\n\r\n"
        reply = exchange(stack.base_url, head)
        status, _, body = reply.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 431")
        assert json.loads(body)["error"]["code"] == "request_header_fields_too_large"
        normal = b"GET /health HTTP/1.1\r\nHost: gw\r\nx-some: " + b"y" * 8000 + b"\r\n\r\n"
        assert exchange(stack.base_url, normal).startswith(b"HTTP/1.1 200")


def test_a_connection_that_sends_no_whole_head_in_time_is_closed(tmp_path: Path) -> None:
    with live_stack(tmp_path, serve_args=["--set", "server.header_timeout=0.5"]) as stack:
        url = urlsplit(stack.base_url)
        assert url.hostname is not None and url.port is not None
        address = (url.hostname, url.port)
        with socket.create_connection(address, timeout=20) as silent:
            assert silent.recv(1024) == b""  # closed, without an answer
        with socket.create_connection(address, timeout=20) as trickling:
            trickling.sendall(b"GET /health HTTP/1.1\r\nHost: gw\r\n")
            assert trickling.recv(1024) == b""
        normal = b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"
        assert exchange(stack.base_url, normal).startswith(b"HTTP/1.1 200")

"""The bounded httptools protocol: a request head over the limit is refused with 431 in the
dialect's shape and the rest of the connection drained; heads under it are served, each
request of a kept-alive connection counted on its own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from kirogate.api.http_protocol import (
    DISCARD_BYTES,
    MAX_HEAD_BYTES,
    BoundedHttpToolsProtocol,
    _path_of,
)


class Transport(asyncio.Transport):
    """Records what the protocol writes; no socket."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.eof = False
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8990), "peername": ("127.0.0.1", 50000)}.get(name, default)  # fmt: skip

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class App:
    """Answers 200 with the request's body length once it has read the body."""

    def __init__(self) -> None:
        self.served: list[str] = []
        self.done = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.served.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})
        self.done.set()


def connect(app: App) -> tuple[BoundedHttpToolsProtocol, Transport]:
    config = Config(app=app, http=BoundedHttpToolsProtocol, log_level="warning", lifespan="off")
    protocol = BoundedHttpToolsProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


def big_head(path: str) -> list[bytes]:
    start = f"POST {path} HTTP/1.1\r\nhost: gw\r\nx-big: ".encode()
    return [start] + [b"x" * 16384] * (MAX_HEAD_BYTES // 16384 + 2)


def answer(transport: Transport) -> tuple[bytes, Any]:
    head, _, body = bytes(transport.written).partition(b"\r\n\r\n")
    return head, json.loads(body)


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")],
)
async def test_a_head_over_the_limit_is_431_in_the_dialects_shape(path: str, shape: str) -> None:
    app = App()
    protocol, transport = connect(app)
    for chunk in big_head(path):
        protocol.data_received(chunk)
    head, body = answer(transport)
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert b"connection: close" in head
    if shape == "openai":
        assert body["error"]["code"] == "request_header_fields_too_large"
    else:
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "64 KiB" in json.dumps(body)
    assert transport.eof and not transport.closed  # half-closed, so the answer is read
    assert app.served == []


async def test_after_a_refusal_the_rest_is_drained_then_the_connection_closed() -> None:
    protocol, transport = connect(App())
    for chunk in big_head("/v1/messages"):
        protocol.data_received(chunk)
        if transport.written:
            break  # refused: what follows is drained
    written = len(transport.written)
    protocol.data_received(b"y" * (DISCARD_BYTES - 1))
    assert not transport.closed
    protocol.data_received(b"y")
    assert transport.closed
    assert len(transport.written) == written  # nothing more was answered


async def test_a_small_head_with_a_large_body_in_one_read_is_served() -> None:
    app = App()
    protocol, transport = connect(app)
    body = b"z" * (MAX_HEAD_BYTES * 2)
    head = f"POST /v1/messages HTTP/1.1\r\nhost: gw\r\ncontent-length: {len(body)}\r\n\r\n"
    protocol.data_received(head.encode() + body)
    await asyncio.wait_for(app.done.wait(), timeout=10)
    assert bytes(transport.written).startswith(b"HTTP/1.1 200")
    assert f"\r\n{len(body)}\r\n".encode() in bytes(transport.written)


async def test_each_request_of_a_connection_has_its_own_budget() -> None:
    app = App()
    protocol, transport = connect(app)
    for n in range(3):  # together well over the limit, each under it
        app.done.clear()
        filler = b"h" * (MAX_HEAD_BYTES * 2 // 3)
        protocol.data_received(b"GET /health HTTP/1.1\r\nhost: gw\r\nx-fill: ")
        protocol.data_received(filler)
        protocol.data_received(b"\r\n\r\n")
        await asyncio.wait_for(app.done.wait(), timeout=10)
        assert len(app.served) == n + 1
    assert b"431" not in bytes(transport.written)


def test_the_path_for_the_dialect_ignores_the_query_and_odd_targets() -> None:
    assert _path_of(b"/v1/chat/completions?x=1") == "/v1/chat/completions"
    assert _path_of(b"http://host/v1/messages") == "/"
    assert _path_of(b"/caf\xc3\xa9") == "/"
    assert _path_of(b"") == "/"

"""A client that stops reading is disconnected after ``server.send_timeout``."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from kirogate.api.middleware import ObservabilityMiddleware
from kirogate.metrics import GatewayMetrics

SCOPE = {"type": "http", "method": "GET", "path": "/stream", "headers": []}


async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})


class Transport:
    def __init__(self, unblock: asyncio.Event) -> None:
        self.unblock = unblock
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.unblock.set()  # as the server does: the lost connection wakes the blocked write


class Cycle:
    """Like uvicorn's request cycle: ``send`` is its bound method and it holds the transport;
    the third write blocks until the connection goes."""

    def __init__(self) -> None:
        self.unblock = asyncio.Event()
        self.transport = Transport(self.unblock)
        self.writes = 0

    async def send(self, message: Message) -> None:
        self.writes += 1
        if self.writes >= 3:
            await self.unblock.wait()
            raise OSError("client disconnected")


async def receive() -> Message:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def test_blocked_write_past_the_timeout_aborts_the_connection() -> None:
    cycle = Cycle()
    middleware = ObservabilityMiddleware(streaming_app, metrics=GatewayMetrics(), send_timeout=0.2)
    with pytest.raises(OSError):
        await asyncio.wait_for(middleware(dict(SCOPE), receive, cycle.send), 2.0)
    assert cycle.transport.aborted
    assert middleware.send_watch is not None and not middleware.send_watch.writes


async def test_without_a_transport_the_request_task_is_cancelled() -> None:
    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()

    middleware = ObservabilityMiddleware(streaming_app, metrics=GatewayMetrics(), send_timeout=0.2)
    task = asyncio.ensure_future(middleware(dict(SCOPE), receive, send))
    done, _ = await asyncio.wait([task], timeout=2.0)
    assert done and task.cancelled()


async def test_writes_that_keep_flowing_are_left_alone() -> None:
    sent = 0

    async def send(message: Message) -> None:
        nonlocal sent
        sent += 1
        await asyncio.sleep(0.01)

    async def finite_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(40):  # 0.4 s in all, twice the timeout
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    middleware = ObservabilityMiddleware(finite_app, metrics=GatewayMetrics(), send_timeout=0.2)
    await middleware(dict(SCOPE), receive, send)
    assert sent == 42

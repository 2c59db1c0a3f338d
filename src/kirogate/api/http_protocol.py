"""uvicorn's httptools protocol with a bound on a request's head (request line and headers).

The parser (llhttp) takes a head of any size and uvicorn sets no bound: a 20 MB header was
read whole into memory before any route ran. This protocol counts the bytes a request's head
arrives in and answers ``431`` (in the dialect's error shape when the path is known) and
closes the connection once the head passes :data:`MAX_HEAD_BYTES`. A chunk that completes
the head is parsed first, so a small head sent in one packet with a large body is not
mistaken for a large head; the memory held is at most the bound plus one read. After the
answer the connection is half-closed and what the client still sends is read and dropped
(up to :data:`DISCARD_BYTES`): closing at once would make the client's kernel reset the
connection and drop the answer unread.

A connection must also deliver each request's head within ``head_timeout`` seconds of its
first byte (of the connection, for the first request): a client that opens connections and
then sends nothing, or trickles its headers, would otherwise hold them forever (uvicorn's
keep-alive timer runs only between requests). It is closed without an answer, as nginx does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kirogate.api.errors import dialect_for_path, error_body
from kirogate.errors import HeadTooLarge

# nginx answers 400 past 4 x 8 KiB of headers, Node 431 past 16 KiB; Claude Code and the SDKs
# send about 2 KiB.
MAX_HEAD_BYTES = 64 * 1024
DISCARD_BYTES = 1024 * 1024
HEAD_TIMEOUT = 30.0  # seconds (server.header_timeout); nginx's client_header_timeout is 60


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """See the module docstring; pass the class as uvicorn's ``http``."""

    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._discard: int | None = None  # bytes still to drop after a refusal
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True
        if self._head_timer is None:
            self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def _start_head_timer(self) -> None:
        if self.head_timeout > 0:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.logger.info("closed a connection that sent no complete request head in %gs",
                             self.head_timeout)  # fmt: skip
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._discard is not None:
            self._discard -= len(data)
            if self._discard <= 0:
                self.transport.close()
            return
        in_head = self._in_head
        super().data_received(data)
        if in_head and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()

    def _refuse(self) -> None:
        path = _path_of(getattr(self, "url", b""))
        error = HeadTooLarge(
            f"the request line and headers are larger than the gateway's limit of "
            f"{MAX_HEAD_BYTES // 1024} KiB"
        )
        content = orjson.dumps(error_body(error, dialect_for_path(path)))
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(content)).encode() + b"\r\n\r\n"
        )
        self.logger.warning("refused a request whose head is over %d bytes", MAX_HEAD_BYTES)
        self.transport.write(head + content)
        self._discard = DISCARD_BYTES
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()


def set_head_timeout(seconds: float) -> None:
    """Give every connection ``seconds`` to send a request's head (0: no limit).

    A class attribute, set in each process that serves (the ``--workers`` processes too):
    uvicorn pickles the protocol class by name for its workers, so no per-setting subclass.
    """
    BoundedHttpToolsProtocol.head_timeout = seconds


def _path_of(url: bytes) -> str:
    path = url.split(b"?", 1)[0]
    try:
        return path.decode("ascii") if path.startswith(b"/") else "/"
    except UnicodeDecodeError:
        return "/"

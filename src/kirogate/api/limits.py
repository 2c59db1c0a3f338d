"""The request body bound (``server.max_body_size``), checked before a body is read whole.

A declared ``content-length`` over the bound is refused before a byte of the body is read
(a client that sent ``Expect: 100-continue`` never sends it); a body without one (chunked)
is counted as it arrives and refused once the count passes the bound. The server makes a
body with a ``content-length`` end there, so only bodies without one need counting.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

from kirogate.errors import BodyTooLarge

MIB = 1024 * 1024


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"the request body is larger than the gateway's limit of {_size(limit)} "
        "(server.max_body_size)"
    )


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit} bytes"


def declared_length(scope: Scope) -> int | None:
    """The request's ``content-length``, or None when it has none (or an unreadable one,
    which the server has already refused)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def bounded_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once the body passes ``limit`` bytes."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return counted

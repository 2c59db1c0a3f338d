"""The floor of the stack: a raw ASGI app that relays the upstream body, nothing else.

    UPSTREAM=http://127.0.0.1:9000 PORT=8999 python bench/relay.py

uvicorn (uvloop, httptools) and aiohttp as kirogate uses them, with no framework, no
parsing, no conversion: every upstream chunk is forwarded as it arrives. ``bench/run.py
--targets relay`` measures it beside the gateway; whatever kirogate costs above it is
kirogate's, whatever the relay costs is the price of the Python stack on that machine.
An ``https://`` upstream is verified with aiohttp's default context, as kirogate's is: the
benchmark's TLS mode trusts the emulator's throwaway certificate through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import uvicorn

_SKIP = (b"host", b"content-length", b"connection", b"transfer-encoding")


class Relay:
    """``POST /generateAssistantResponse`` (any path) forwarded to ``upstream``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.lower() not in _SKIP}
        assert self.session is not None
        url = self.upstream + "/generateAssistantResponse"
        async with self.session.post(url, data=body, headers=headers) as response:
            content_type = response.headers.get("Content-Type", "application/octet-stream")
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(b"content-type", content_type.encode())],
                }
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    uvicorn.run(
        Relay(os.environ["UPSTREAM"]),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()

"""A real Gateway on an in-process emulator, driven through the ASGI app (no sockets)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential

REFRESH = "aorAAAA-refresh-token-emulated-" + "r" * 100
CLIENT_KEY = "sk-client-emulated-key"
OTHER_KEY = "sk-client-other-key"


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, *, persistent: bool = False, **settings: Any
) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    """A gateway on the emulator, with ``settings`` overrides (``persistent``: with its store,
    SQLite in ``tmp_path``, as ``kirogate serve`` runs it)."""
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(refresh_token=REFRESH, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY, OTHER_KEY),
        "data_dir": tmp_path,
        **settings,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1)
    gateway = Gateway(load_settings({}, overrides), [credential], persistent=persistent)
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, emulator
    finally:
        await gateway.close()
        await emulator.close()

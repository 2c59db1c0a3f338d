"""The failover loop on a real Gateway over the emulator, with credentials that go wrong."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.pool.state import DisableReason
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential

CLIENT_KEY = "sk-client-failover-key"
GOOD = ("aorAAAA-refresh-good-one-" + "a" * 100, "aorAAAA-refresh-good-two-" + "b" * 100)
BODY = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


@contextlib.asynccontextmanager
async def gateway_with(
    tmp_path: Path, credentials: list[Credential], **settings: Any
) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator, Gateway]]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    for token in GOOD:
        emulator.state.register_credential(refresh_token=token, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
        "pool.mode": "priority",
        **settings,
    }
    gateway = Gateway(load_settings({}, overrides), credentials)
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, emulator, gateway
    finally:
        await gateway.close()
        await emulator.close()


def good_credentials() -> list[Credential]:
    return [
        Credential(AuthMethod.SOCIAL, refresh_token=GOOD[0], id=2, priority=1),
        Credential(AuthMethod.SOCIAL, refresh_token=GOOD[1], id=3, priority=2),
    ]


async def test_a_credential_no_request_can_be_built_with_is_disabled_and_failed_over(
    tmp_path: Path,
) -> None:
    # Stored before fields were checked: a line break in the key the HTTP client refuses.
    bad = Credential(AuthMethod.API_KEY, kiro_api_key="ksk_bad\r\nX-Injected: 1", id=1)
    async with gateway_with(tmp_path, [bad, *good_credentials()]) as (http, _, gateway):
        statuses = []
        for _ in range(5):
            reply = await http.post("/v1/messages", json=BODY, headers={"x-api-key": CLIENT_KEY})
            statuses.append(reply.status_code)
        state = gateway.pool.state_of(1)
        assert statuses == [200] * 5
        assert state.disabled_reason is DisableReason.INVALID_CONFIG
        assert state.last_error is not None and "refused to build" in state.last_error
        assert "ksk_bad" not in state.last_error


async def test_a_refresh_outage_is_not_hammered_and_ready_says_so_until_it_heals(
    tmp_path: Path,
) -> None:
    settings = {"upstream.refresh_backoff": 0.3}
    async with gateway_with(tmp_path, good_credentials(), **settings) as (http, emulator, _):
        emulator.state.refresh_outage = 503
        statuses = []
        for _ in range(20):
            reply = await http.post("/v1/messages", json=BODY, headers={"x-api-key": CLIENT_KEY})
            statuses.append(reply.status_code)
        refreshes = len(emulator.state.requests.entries("/refreshToken"))
        ready = await http.get("/ready")
        assert refreshes <= 2  # once per credential, then each backs off
        # The first request tells the refresh failure (502); the others fail fast, telling
        # when a credential is back (Retry-After), without a refresh call.
        assert statuses[0] == 502
        assert set(statuses[1:]) <= {429, 503}
        assert ready.status_code == 503
        assert "refresh_failed" in ready.json()["reason"]

        emulator.state.refresh_outage = None
        await asyncio.sleep(0.5)  # the backoff (0.3 s + jitter) ends
        reply = await http.post("/v1/messages", json=BODY, headers={"x-api-key": CLIENT_KEY})
        assert reply.status_code == 200
        assert (await http.get("/ready")).status_code == 200

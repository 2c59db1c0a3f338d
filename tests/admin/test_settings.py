"""``/api/admin/settings`` on a real gateway on the emulator: listing, validation, applying."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import Override, resolve_settings
from kirogate.settings.runtime import runtime_specs
from kirogate.upstream.credentials import AuthMethod, Credential

ADMIN_KEY = "admin-key-settings-0123456789"
CLIENT_KEY = "client-key-settings-0123456789"
REFRESH = "aorAAAA-refresh-token-settings-" + "r" * 100
ADMIN = {"x-api-key": ADMIN_KEY}
CLIENT = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}


@dataclass
class Live:
    http: httpx2.AsyncClient
    gateway: Gateway
    emulator: RunningEmulator

    async def settings(self) -> dict[str, dict[str, Any]]:
        reply = await self.http.get("/api/admin/settings", headers=ADMIN)
        assert reply.status_code == 200, reply.text
        return {row["key"]: row for row in reply.json()["settings"]}

    async def patch(self, body: object) -> httpx2.Response:
        return await self.http.patch("/api/admin/settings", json=body, headers=ADMIN)

    async def ask(self, model: str, text: str = "hi") -> httpx2.Response:
        body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": text}]}
        return await self.http.post("/v1/messages", json=body, headers=CLIENT)

    def upstream_models(self) -> list[str]:
        return [
            entry.body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"]
            for entry in self.emulator.state.requests.entries("/generateAssistantResponse")
        ]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(refresh_token=REFRESH, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "server.admin_key": ADMIN_KEY,
        "data_dir": tmp_path,
        "pool.mode": Override("balanced", "--pool-mode"),
    }
    loaded = resolve_settings({"KIROGATE_POOL_MAX_ATTEMPTS": "5"}, overrides)
    gateway = Gateway(loaded.settings, [Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1)])
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Live(http, gateway, emulator)
    finally:
        await gateway.close()
        await emulator.close()


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("headers", [{}, {"x-api-key": CLIENT_KEY}, {"x-api-key": "wrong"}])
async def test_the_settings_need_the_admin_key(live: Live, headers: dict[str, str]) -> None:
    for method in ("GET", "PATCH"):
        reply = await live.http.request(
            method, "/api/admin/settings", json={"pool.mode": "random"}, headers=headers
        )
        assert reply.status_code == 401, reply.text
    reply = await live.http.delete("/api/admin/settings/pool.mode", headers=headers)
    assert reply.status_code == 401
    assert live.gateway.pool.mode.value == "balanced"


async def test_the_admin_key_is_no_client_key(live: Live) -> None:
    reply = await live.http.post(
        "/v1/messages",
        json={"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []},
        headers={"x-api-key": ADMIN_KEY},
    )
    assert reply.status_code == 401


# ---------------------------------------------------------------- listing


async def test_every_runtime_setting_is_listed_with_its_origin(live: Live) -> None:
    rows = await live.settings()
    assert list(rows) == [runtime.key for runtime in runtime_specs()]
    assert rows["pool.mode"]["origin"] == "flag"
    assert rows["pool.mode"]["value"] == "balanced"
    assert rows["pool.mode"]["type"] == "choice"
    assert "round_robin" in rows["pool.mode"]["choices"]
    assert rows["pool.max_attempts"]["origin"] == "env"
    assert rows["pool.max_attempts"]["origin_detail"] == "KIROGATE_POOL_MAX_ATTEMPTS"
    assert rows["pool.max_attempts"]["minimum"] == 1
    assert rows["upstream.first_token_timeout"]["origin"] == "default"
    assert rows["upstream.first_token_timeout"]["type"] == "seconds"
    for row in rows.values():
        assert row["description"], row["key"]
        assert row["group"] == row["key"].split(".")[0]


async def test_a_runtime_value_shows_the_flag_value_it_overrides(live: Live) -> None:
    reply = await live.patch({"pool.mode": "round_robin", "compression.keep_last": 3})
    assert reply.status_code == 200, reply.text
    rows = {row["key"]: row for row in reply.json()["settings"]}
    assert reply.json()["changed"] == ["pool.mode", "compression.keep_last"]
    assert rows["pool.mode"]["origin"] == "runtime"
    assert rows["pool.mode"]["value"] == "round_robin"
    assert rows["pool.mode"]["overrides"] == {
        "value": "balanced",
        "origin": "flag",
        "origin_detail": "--pool-mode",
    }
    assert rows["compression.keep_last"]["origin"] == "runtime"
    assert "overrides" not in rows["compression.keep_last"]  # it overrides only the default


async def test_a_proxy_password_is_never_shown(live: Live) -> None:
    reply = await live.patch({"upstream.proxy_url": "http://bob:hunter2-pw@127.0.0.1:9"})
    assert reply.status_code == 200, reply.text
    assert "hunter2-pw" not in reply.text
    assert (await live.settings())["upstream.proxy_url"]["value"] == "http://bob:***@127.0.0.1:9"


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ({"pool.mode": "fastest"}, "pool.mode", "round_robin"),
        ({"pool.mode": 3}, "pool.mode", "one of"),
        ({"pool.max_attempts": 0}, "pool.max_attempts", "1 or more"),
        ({"pool.max_attempts": "many"}, "pool.max_attempts", "whole number"),
        ({"upstream.first_token_timeout": 0}, "upstream.first_token_timeout", "more than 0"),
        ({"upstream.first_token_timeout": "soon"}, "upstream.first_token_timeout", "duration"),
        ({"upstream.proxy_url": "ftp://x"}, "upstream.proxy_url", "socks5"),
        ({"compression.enabled": "maybe"}, "compression.enabled", "true or false"),
        ({"models.hidden": [1]}, "models.hidden", "strings"),
        ({"models.overrides": ["a"]}, "models.overrides", "table"),
        ({"models.forced": ""}, "models.forced", "empty"),
        ({"no.such.key": 1}, "no.such.key", "unknown setting"),
        ({"server.port": 1}, "server.port", "cannot be changed at runtime"),
    ],
)
async def test_a_bad_value_is_a_400_naming_the_key(
    live: Live, body: dict[str, Any], key: str, says: str
) -> None:
    reply = await live.patch(body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert key in error["message"] and says in error["message"]


@pytest.mark.parametrize("body", [[], "x", None, {}])
async def test_a_body_that_is_not_a_settings_object_is_a_400(live: Live, body: object) -> None:
    reply = await live.patch(body)
    assert reply.status_code == 400, reply.text


async def test_a_change_is_all_or_nothing(live: Live) -> None:
    reply = await live.patch({"pool.mode": "random", "pool.max_attempts": -1})
    assert reply.status_code == 400
    assert "pool.max_attempts" in reply.json()["error"]["message"]
    assert live.gateway.pool.mode.value == "balanced"
    assert (await live.settings())["pool.mode"]["origin"] == "flag"


async def test_resetting_an_unknown_key_is_a_400(live: Live) -> None:
    reply = await live.http.delete("/api/admin/settings/nope", headers=ADMIN)
    assert reply.status_code == 400
    assert "nope" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- applied without restart


async def test_the_pool_takes_a_new_mode_budget_and_cooldown(live: Live) -> None:
    body = {
        "pool.mode": "round_robin",
        "pool.max_attempts": 2,
        "pool.cooldown_429": "1m",
        "pool.max_concurrency_per_credential": 4,
    }
    assert (await live.patch(body)).status_code == 200
    pool = live.gateway.pool
    assert pool.mode.value == "round_robin"
    assert pool.settings.max_attempts == 2
    assert pool.settings.cooldown_429 == 60.0
    assert pool._limiter.limit == 4  # the concurrency bound taken at once
    assert live.gateway.settings.pool.max_attempts == 2


async def test_a_reset_returns_the_configured_value(live: Live) -> None:
    assert (await live.patch({"pool.mode": "random"})).status_code == 200
    reply = await live.http.delete("/api/admin/settings/pool.mode", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    assert live.gateway.pool.mode.value == "balanced"
    row = {row["key"]: row for row in reply.json()["settings"]}["pool.mode"]
    assert (row["origin"], row["value"]) == ("flag", "balanced")
    assert (await live.patch({"pool.mode": "random"})).status_code == 200
    assert (await live.patch({"pool.mode": None})).status_code == 200  # null resets too
    assert live.gateway.pool.mode.value == "balanced"


async def test_a_forced_model_is_what_the_upstream_gets(live: Live) -> None:
    assert (await live.ask("claude-sonnet-4-6")).status_code == 200
    assert (await live.patch({"models.forced": "claude-haiku-4-5"})).status_code == 200
    reply = await live.ask("claude-sonnet-4-6")
    assert reply.status_code == 200, reply.text
    assert (await live.ask("no-such-model-anywhere")).status_code == 200
    assert live.upstream_models() == ["claude-sonnet-4.6", "claude-haiku-4.5", "claude-haiku-4.5"]


async def test_a_fallback_serves_unknown_names_and_an_override_maps_a_pattern(live: Live) -> None:
    assert (await live.ask("gpt-4o")).status_code == 404
    body = {"models.fallback": "claude-sonnet-4.5", "models.overrides": {"gpt-4*": "glm-5"}}
    assert (await live.patch(body)).status_code == 200
    assert (await live.ask("gpt-4o")).status_code == 200
    assert (await live.ask("mystery-model")).status_code == 200
    assert live.upstream_models() == ["glm-5", "claude-sonnet-4.5"]


async def test_the_timeouts_reach_the_upstream_client(live: Live) -> None:
    body = {"upstream.first_token_timeout": "12s", "upstream.stream_idle_timeout": 40}
    assert (await live.patch(body)).status_code == 200
    assert live.gateway.client.settings.first_token_timeout == 12.0
    assert live.gateway.client.settings.stream_idle_timeout == 40.0
    assert (await live.ask("claude-sonnet-4-6")).status_code == 200


async def test_a_first_token_timeout_changed_at_runtime_ends_a_slow_start(live: Live) -> None:
    body = {"upstream.first_token_timeout": 0.3, "pool.max_attempts": 1}
    assert (await live.patch(body)).status_code == 200
    started = time.monotonic()
    reply = await live.ask("claude-sonnet-4-6", "[[emu:stall seconds=5 headers=0]] hi")
    assert reply.status_code == 504, reply.text
    assert time.monotonic() - started < 3.0


async def test_compression_is_switched_on_and_off(live: Live) -> None:
    assert live.gateway.compressor is None
    assert (await live.patch({"compression.enabled": True})).status_code == 200
    assert live.gateway.compressor is not None
    assert (await live.patch({"compression.enabled": "off"})).status_code == 200
    assert live.gateway.compressor is None


async def test_a_global_proxy_is_used_by_the_next_call(live: Live) -> None:
    assert (await live.patch({"upstream.proxy_url": "http://127.0.0.1:9"})).status_code == 200
    assert live.gateway.http.proxy_for(None) is not None
    assert (await live.patch({"upstream.proxy_url": None})).status_code == 200
    assert live.gateway.http.proxy_for(None) is None


async def test_the_announcement_is_a_setting(live: Live) -> None:
    reply = await live.patch({"console.announcement": "  Maintenance at 22:00 UTC  "})
    assert reply.status_code == 200
    assert live.gateway.settings.console.announcement == "Maintenance at 22:00 UTC"
    assert (await live.settings())["console.announcement"]["value"] == "Maintenance at 22:00 UTC"
    # Blank takes it down (even one the config file sets): the console shows none.
    assert (await live.patch({"console.announcement": "  "})).status_code == 200
    assert live.gateway.settings.console.announcement == ""


async def test_a_mode_switch_changes_which_credential_answers(tmp_path: Path) -> None:
    emulator = await start_emulator(EmulatorConfig(port=0))
    tokens = [REFRESH, REFRESH.replace("settings", "second-1")]
    for token in tokens:
        emulator.state.register_credential(refresh_token=token, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "server.admin_key": ADMIN_KEY,
        "data_dir": tmp_path,
        "pool.affinity.enabled": False,
    }
    credentials = [
        Credential(AuthMethod.SOCIAL, refresh_token=token, id=index)
        for index, token in enumerate(tokens, 1)
    ]
    gateway = Gateway(resolve_settings({}, overrides).settings, credentials)
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            live = Live(http, gateway, emulator)

            async def users(count: int) -> set[str]:
                emulator.state.requests.clear()
                for _ in range(count):
                    assert (await live.ask("claude-sonnet-4-6")).status_code == 200
                entries = emulator.state.requests.entries("/generateAssistantResponse")
                return {entry.headers["Authorization"] for entry in entries}

            assert len(await users(4)) == 1  # priority: the first credential, always
            assert (await live.patch({"pool.mode": "round_robin"})).status_code == 200
            assert len(await users(4)) == 2
    finally:
        await gateway.close()
        await emulator.close()

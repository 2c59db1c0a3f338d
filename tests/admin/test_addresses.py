"""``/api/admin/ips``: blocks with expiry (IPv4, IPv6, ranges), visitors, the per-address rate
limit and trusted proxies, through a real persistent gateway on the emulator (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.admin.fakes import ADMIN_KEY, CLIENT_KEY, REFRESH, call, key

Live = tuple[FastAPI, Gateway, RunningEmulator]
MESSAGE = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[Live]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(refresh_token=REFRESH, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH)
    gateway = Gateway(load_settings({}, overrides), [credential], persistent=True)
    await gateway.start()
    try:
        yield create_app(gateway), gateway, emulator
    finally:
        await gateway.close()
        await emulator.close()


def server(gateway: Gateway, **changes: Any) -> None:
    settings = gateway.settings
    gateway.settings = replace(settings, server=replace(settings.server, **changes))


async def ask(
    app: FastAPI, client: str = "203.0.113.7", headers: dict[str, str] | None = None
) -> Any:
    return await call(
        app, "POST", "/v1/messages", body=MESSAGE,
        headers={"x-api-key": CLIENT_KEY, **(headers or {})}, client=client,
    )  # fmt: skip


async def block(app: FastAPI, **body: Any) -> Any:
    return await call(app, "POST", "/api/admin/ips", body=body, headers=key())


# ---------------------------------------------------------------- authorization and input


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/admin/ips"), ("POST", "/api/admin/ips"), ("DELETE", "/api/admin/ips?ip=1.2.3.4"),
     ("GET", "/api/admin/ips/visitors"), ("DELETE", "/api/admin/ips/1.2.3.4")],
)  # fmt: skip
async def test_routes_need_the_admin_key_not_a_client_key(
    stored: Live, method: str, path: str
) -> None:
    app, _, _ = stored
    assert (await call(app, method, path, body={"ip": "1.2.3.4"})).status == 401
    assert (
        await call(app, method, path, body={"ip": "1.2.3.4"}, headers=key(CLIENT_KEY))
    ).status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ip": "300.1.1.1"}, "ip"),
        ({"ip": "10.0.0.0/33"}, "ip"),
        ({"ip": "2001:db8::/129"}, "ip"),
        ({"ip": "example.com"}, "ip"),
        ({}, "ip"),
        ({"ip": 5}, "ip"),
        ({"ip": "1.2.3.4", "expires_at": "tomorrow"}, "expires_at"),
        ({"ip": "1.2.3.4", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"ip": "1.2.3.4", "ttl": -5}, "ttl"),
        ({"ip": "1.2.3.4", "ttl": "soon"}, "ttl"),
        ({"ip": "1.2.3.4", "ttl": 60, "expires_at": "2099-01-01T00:00:00Z"}, "ttl"),
        ({"ip": "1.2.3.4", "reason": 7}, "reason"),
        ({"ip": "1.2.3.4", "colour": "red"}, "colour"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    stored: Live, body: dict[str, Any], field: str
) -> None:
    reply = await block(stored[0], **body)
    assert reply.status == 400, reply.body
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert field in error["message"] or error.get("param") == field


async def test_bad_visitor_queries_are_400(stored: Live) -> None:
    app = stored[0]
    for query, field in (("since=yesterday", "since"), ("limit=0", "limit"), ("limit=x", "limit")):
        reply = await call(app, "GET", f"/api/admin/ips/visitors?{query}", headers=key())
        assert reply.status == 400
        assert field in reply.json()["error"]["message"]


async def test_unblocking_what_is_not_blocked_is_404_and_no_ip_is_400(stored: Live) -> None:
    app = stored[0]
    assert (await call(app, "DELETE", "/api/admin/ips?ip=192.0.2.1", headers=key())).status == 404
    assert (await call(app, "DELETE", "/api/admin/ips", headers=key())).status == 400


# ---------------------------------------------------------------- blocking


async def test_a_blocked_range_is_refused_with_403_in_the_dialects_shape(stored: Live) -> None:
    app, _, _ = stored
    assert (await ask(app, "127.0.0.9")).status == 200
    reply = await block(app, ip="127.0.0.0/8", reason="loopback")
    assert reply.status == 201
    assert reply.json()["ip"] == "127.0.0.0/8"
    refused = await ask(app, "127.0.0.9")
    assert refused.status == 403
    assert refused.json()["type"] == "error"  # Anthropic's envelope
    assert refused.json()["error"]["type"] == "permission_error"
    openai = await call(
        app, "POST", "/v1/chat/completions", body=MESSAGE,
        headers={"authorization": f"Bearer {CLIENT_KEY}"}, client="127.1.2.3",
    )  # fmt: skip
    assert openai.status == 403
    assert "error" in openai.json() and "type" not in openai.json()  # OpenAI's envelope
    assert (await ask(app, "128.0.0.1")).status == 200
    listed = (await call(app, "GET", "/api/admin/ips", headers=key())).json()
    assert listed["total"] == 1
    assert listed["blocked"][0]["reason"] == "loopback"
    gone = await call(app, "DELETE", "/api/admin/ips?ip=127.0.0.0/8", headers=key())
    assert gone.status == 200
    assert (await ask(app, "127.0.0.9")).status == 200


async def test_ipv6_addresses_and_ranges_are_blocked(stored: Live) -> None:
    app, _, _ = stored
    assert (await block(app, ip="2001:db8::/32")).status == 201
    assert (await block(app, ip="2001:0db8:0000::0001")).json()["ip"] == "2001:db8::1"
    assert (await ask(app, "2001:db8:5::7")).status == 403
    assert (await ask(app, "2001:db9::1")).status == 200
    # The path form works for ranges too (the / is part of the path).
    assert (await call(app, "DELETE", "/api/admin/ips/2001:db8::/32", headers=key())).status == 200
    assert (await ask(app, "2001:db8:5::7")).status == 200
    # An IPv4 client seen on an IPv6 socket (::ffff:a.b.c.d) is its IPv4 address.
    assert (await block(app, ip="198.51.100.0/24")).status == 201
    assert (await ask(app, "::ffff:198.51.100.20")).status == 403


async def test_a_block_with_a_ttl_stops_applying_without_a_restart(stored: Live) -> None:
    app = stored[0]
    reply = await block(app, ip="192.0.2.44", ttl=0.5)
    assert reply.json()["expires_at"] is not None
    assert (await ask(app, "192.0.2.44")).status == 403
    await asyncio.sleep(0.6)
    # No change, no reload: the block in memory knows its own end.
    assert (await ask(app, "192.0.2.44")).status == 200
    listed = (await call(app, "GET", "/api/admin/ips", headers=key())).json()
    assert listed["blocked"] == []


async def test_a_block_until_a_time_is_listed_with_it(stored: Live) -> None:
    app = stored[0]
    reply = await block(app, ip="192.0.2.0/24", expires_at="2099-01-01T00:00:00Z", reason="x")
    assert reply.json()["expires_at"].startswith("2099-01-01T00:00:00")


# ---------------------------------------------------------------- visitors


async def test_visitors_are_counted_and_listed(stored: Live) -> None:
    app = stored[0]
    for _ in range(3):
        await ask(app, "192.0.2.10")
    await ask(app, "2001:db8::10")
    body = (await call(app, "GET", "/api/admin/ips/visitors", headers=key())).json()
    counts = {row["address"]: row["requests"] for row in body["visitors"]}
    assert counts == {"192.0.2.10": 3, "2001:db8::10": 1}
    assert body["total"] == 2
    recent = await call(
        app, "GET", "/api/admin/ips/visitors?since=2000-01-01T00:00:00&limit=1", headers=key()
    )
    assert recent.json()["total"] == 1


# ---------------------------------------------------------------- rate limit and proxies


async def test_the_address_rate_limit_answers_429_with_retry_after(stored: Live) -> None:
    app, gateway, _ = stored
    server(gateway, ip_rate_limit=2, ip_rate_window=30.0)
    assert (await ask(app, "192.0.2.50")).status == 200
    assert (await ask(app, "192.0.2.50")).status == 200
    refused = await ask(app, "192.0.2.50")
    assert refused.status == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert (await ask(app, "192.0.2.51")).status == 200  # per address
    server(gateway, ip_rate_limit=0)  # read at use time: off again at once
    assert (await ask(app, "192.0.2.50")).status == 200


async def test_forwarded_headers_count_only_from_a_trusted_proxy(stored: Live) -> None:
    app, gateway, _ = stored
    await block(app, ip="198.51.100.7")
    forged = {"x-forwarded-for": "198.51.100.7", "x-real-ip": "198.51.100.7"}
    # Not trusted by default: the header is ignored, the peer is served.
    assert (await ask(app, "10.0.0.2", forged)).status == 200
    server(gateway, trusted_proxies=("10.0.0.0/8",))
    assert (await ask(app, "10.0.0.2", forged)).status == 403
    assert (await ask(app, "10.0.0.2", {"x-real-ip": "198.51.100.7"})).status == 403
    # A client-written entry left of the proxy's own is not believed.
    chain = {"x-forwarded-for": "198.51.100.7, 192.0.2.60"}
    assert (await ask(app, "10.0.0.2", chain)).status == 200
    # From an untrusted peer the same headers still count for nothing.
    assert (await ask(app, "192.0.2.99", forged)).status == 200

"""``/api/admin/proxies``: CRUD with masked credentials, the test route through real local
proxies (HTTP CONNECT/forward and SOCKS5), assignment to a credential, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.fakes import CLIENT_KEY, call, key
from tests.admin.test_addresses import Live, ask, stored
from tests.loopback_proxy import loopback_proxy
from tests.upstream.test_http import socks5_server

__all__ = ["stored"]  # the fixture, shared with the addresses tests

SECRET = "proxy-password-0123456789"


async def add(app: Any, **body: Any) -> Any:
    return await call(app, "POST", "/api/admin/proxies", body=body, headers=key())


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/admin/proxies"), ("POST", "/api/admin/proxies"),
     ("GET", "/api/admin/proxies/1"), ("PATCH", "/api/admin/proxies/1"),
     ("DELETE", "/api/admin/proxies/1"), ("POST", "/api/admin/proxies/1/test"),
     ("PUT", "/api/admin/credentials/1/proxy")],
)  # fmt: skip
async def test_routes_need_the_admin_key(stored: Live, method: str, path: str) -> None:
    app = stored[0]
    assert (await call(app, method, path, body={"url": "http://h:1"})).status == 401
    reply = await call(app, method, path, body={"url": "http://h:1"}, headers=key(CLIENT_KEY))
    assert reply.status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://h:21"}, "scheme"),
        ({"url": "not a url"}, "scheme"),
        ({"url": "http://h:99999"}, "URL"),
        ({"url": "http://:8080"}, "host"),
        ({}, "URL"),
        ({"url": 5}, "url"),
        ({"url": "http://h:1", "password": 5}, "password"),
        ({"url": "http://h:1", "colour": "red"}, "colour"),
        ({"url": "http://h:1", "label": "x" * 201}, "label"),
    ],
)
async def test_bad_proxies_are_a_400_naming_the_field(
    stored: Live, body: dict[str, Any], field: str
) -> None:
    reply = await add(stored[0], **body)
    assert reply.status == 400, reply.body
    assert field in reply.json()["error"]["message"]


async def test_crud_never_shows_the_credentials_whole(stored: Live) -> None:
    app = stored[0]
    empty = (await call(app, "GET", "/api/admin/proxies", headers=key())).json()
    assert empty == {"total": 0, "strategy": "round_robin", "proxies": []}
    created = await add(app, url=f"socks5://proxyuser:{SECRET}@10.0.0.5:1080", label="office")
    assert created.status == 201
    body = created.json()
    assert body["url"] == "socks5://10.0.0.5:1080"
    assert body["username"] == "pr***"
    assert SECRET not in created.body.decode() and "proxyuser" not in created.body.decode()
    pid = body["id"]
    listed = (await call(app, "GET", "/api/admin/proxies", headers=key())).json()
    assert listed["total"] == 1 and listed["strategy"] == "round_robin"
    assert SECRET not in str(listed)
    one = await call(app, "GET", f"/api/admin/proxies/{pid}", headers=key())
    assert one.json()["label"] == "office"
    patched = await call(
        app, "PATCH", f"/api/admin/proxies/{pid}", body={"label": "home", "disabled": True},
        headers=key(),
    )  # fmt: skip
    assert patched.status == 200
    assert (patched.json()["label"], patched.json()["disabled"]) == ("home", True)
    assert (await call(app, "DELETE", f"/api/admin/proxies/{pid}", headers=key())).status == 200
    assert (await call(app, "GET", f"/api/admin/proxies/{pid}", headers=key())).status == 404
    assert (await call(app, "DELETE", f"/api/admin/proxies/{pid}", headers=key())).status == 404


async def test_bad_edits_and_ids(stored: Live) -> None:
    app = stored[0]
    pid = (await add(app, url="http://h:1")).json()["id"]
    for body, field in (
        ({}, "at least one"),
        ({"url": None}, "url"),
        ({"url": "gopher://h:1"}, "scheme"),
        ({"disabled": "yes"}, "disabled"),
        ({"colour": 1}, "colour"),
    ):
        reply = await call(app, "PATCH", f"/api/admin/proxies/{pid}", body=body, headers=key())
        assert reply.status == 400 and field in reply.json()["error"]["message"], body
    assert (await call(app, "GET", "/api/admin/proxies/abc", headers=key())).status == 400
    assert (await call(app, "GET", "/api/admin/proxies/99999999999", headers=key())).status == 400


async def test_the_test_route_goes_through_an_http_proxy_to_the_upstream(stored: Live) -> None:
    app, _, emulator = stored
    with loopback_proxy() as proxy:
        pid = (await add(app, url=proxy.url)).json()["id"]
        reply = await call(app, "POST", f"/api/admin/proxies/{pid}/test", headers=key())
        assert reply.status == 200
        body = reply.json()
        assert body["ok"] is True and body["latency_ms"] >= 0 and body["error"] is None
        assert emulator.url.startswith("http://127.0.0.1:")
        assert any(seen.startswith("GET http://127.0.0.1/") for seen in proxy.record.passed)


async def test_the_test_route_goes_through_a_socks5_proxy(stored: Live) -> None:
    app = stored[0]
    async with socks5_server({}) as (address, log):
        pid = (await add(app, url=f"socks5://u:{SECRET}@{address}")).json()["id"]
        reply = await call(app, "POST", f"/api/admin/proxies/{pid}/test", headers=key())
    assert reply.json()["ok"] is True
    assert ("u", SECRET) in log.auth
    assert SECRET not in reply.body.decode()


async def test_a_dead_proxy_fails_the_test_in_plain_words_and_rests(stored: Live) -> None:
    app = stored[0]
    pid = (await add(app, url=f"http://u:{SECRET}@127.0.0.1:9")).json()["id"]
    reply = await call(app, "POST", f"/api/admin/proxies/{pid}/test", headers=key())
    body = reply.json()
    assert body["ok"] is False
    assert "cannot connect to the proxy http://***@127.0.0.1:9" in body["error"]
    assert SECRET not in reply.body.decode()
    view = (await call(app, "GET", f"/api/admin/proxies/{pid}", headers=key())).json()
    # The background jobs may have tried it too (it is in the rotation): failed either way.
    assert view["failures"] >= 1 and view["down_for"] > 0


async def test_assigning_a_proxy_routes_the_credentials_requests_through_it(stored: Live) -> None:
    app, gateway, _ = stored
    (credential,) = gateway.pool.credentials()
    with loopback_proxy() as proxy:
        pid = (await add(app, url=proxy.url)).json()["id"]
        path = f"/api/admin/credentials/{credential.id}/proxy"
        assert (await call(app, "PUT", path, body={"proxy_id": pid}, headers=key())).status == 200
        assert credential.proxy_id == pid
        view = (await call(app, "GET", f"/api/admin/proxies/{pid}", headers=key())).json()
        assert view["credentials"] == [credential.id]
        assert (await ask(app)).status == 200
        assert any("generateAssistantResponse" in seen for seen in proxy.record.passed)
        assert (await call(app, "PUT", path, body={"proxy_id": None}, headers=key())).status == 200
        assert credential.proxy_id is None
    for body, field in (({}, "proxy_id"), ({"proxy_id": "x"}, "proxy_id"), ({"x": 1}, "x")):
        reply = await call(app, "PUT", path, body=body, headers=key())
        assert reply.status == 400 and field in reply.json()["error"]["message"]
    missing = await call(app, "PUT", path, body={"proxy_id": 4242}, headers=key())
    assert missing.status == 400 and "4242" in missing.json()["error"]["message"]

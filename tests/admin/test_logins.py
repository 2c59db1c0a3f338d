"""``/api/admin/logins`` end to end: a real gateway (in memory, and on a SQLite store) on the
emulator, driven through its ASGI app; the browser's part done with aiohttp on the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.events import Event
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.service.logins import RESULT_TTL, Logins
from kirogate.settings import load_settings

ADMIN_KEY = "admin-key-logins-0123456789"
CLIENT_KEY = "sk-client-logins-key"
ADMIN = {"x-api-key": ADMIN_KEY}
CALLBACK = "http://test/api/admin/logins/callback"
MODEL = "claude-sonnet-4-6"


@dataclass
class Stack:
    http: httpx2.AsyncClient
    gateway: Gateway
    emulator: RunningEmulator
    browser: aiohttp.ClientSession
    events: list[Event]

    @property
    def logins(self) -> Logins:
        logins = self.gateway.operations.logins
        assert logins is not None
        return logins

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        return await self.http.request(method, f"/api/admin{path}", headers=ADMIN, **kwargs)

    async def wait_for(self, login_id: str) -> dict[str, Any]:
        """The login's status once it is no longer pending."""
        async with asyncio.timeout(15):
            while True:
                answer = await self.admin("GET", f"/logins/{login_id}")
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                if body["status"] != "pending":
                    return body
                await asyncio.sleep(0.05)

    async def ask(self) -> httpx2.Response:
        return await self.http.post(
            "/v1/messages",
            headers={"x-api-key": CLIENT_KEY},
            json={
                "model": MODEL,
                "max_tokens": 32,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )


async def _stack(tmp_path: Path, persistent: bool, **emulator: Any) -> AsyncIterator[Stack]:
    running = await start_emulator(EmulatorConfig(port=0, **emulator))
    overrides = {
        "upstream.url": running.url,
        "upstream.usage_interval": 0,
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
    }
    gateway = Gateway(load_settings({}, overrides), [], persistent=persistent)
    await gateway.start()
    events: list[Event] = []
    gateway.events.listen(events.append)
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with (
            httpx2.AsyncClient(transport=transport, base_url="http://test") as http,
            aiohttp.ClientSession() as browser,
        ):
            yield Stack(http, gateway, running, browser, events)
    finally:
        await gateway.close()
        await running.close()


@pytest.fixture(params=[False, True], ids=["memory", "store"])
async def stack(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    async for made in _stack(tmp_path, bool(request.param)):
        yield made


@pytest.fixture
async def short_codes(tmp_path: Path) -> AsyncIterator[Stack]:
    async for made in _stack(tmp_path, False, device_code_ttl=1):
        yield made


async def _start_device(stack: Stack, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = (
        await stack.admin("POST", "/logins/device", json=body)
        if body is not None
        else (await stack.admin("POST", "/logins/device"))
    )
    assert answer.status_code == 200, answer.text
    started: dict[str, Any] = answer.json()
    return started


async def _open(stack: Stack, url: str) -> tuple[int, str]:
    async with stack.browser.get(url, allow_redirects=False) as page:
        return page.status, page.headers.get("location", "")


# ---------------------------------------------------------------- device


async def test_device_login_approved_in_the_browser_adds_a_credential_that_serves(
    stack: Stack,
) -> None:
    assert (await stack.ask()).status_code != 200  # no credential yet
    started = await _start_device(stack)
    assert set(started) == {
        "login_id", "user_code", "verification_uri", "verification_uri_complete",
        "expires_in", "interval",
    }  # fmt: skip
    assert started["verification_uri_complete"].endswith(f"user_code={started['user_code']}")
    assert (started["expires_in"], started["interval"]) == (600, 1)
    pending = await stack.admin("GET", f"/logins/{started['login_id']}")
    assert pending.json()["status"] == "pending"

    status, _ = await _open(stack, started["verification_uri_complete"])
    assert status == 200
    done = await stack.wait_for(started["login_id"])

    assert done["status"] == "complete", done
    assert done["kind"] == "device" and done["provider"] == "BuilderId"
    credential = stack.gateway.pool.get(done["credential_id"])
    assert credential.auth_method.value == "idc" and credential.client_id
    assert credential.email is not None and credential.email.endswith("@example.com")
    answer = await stack.ask()
    assert answer.status_code == 200, answer.text
    finished = [e.data for e in stack.events if e.kind == "login.finished"]
    assert finished == [
        {"login_id": started["login_id"], "status": "complete", "credential_id": credential.id}
    ]


async def test_device_login_with_an_identity_center_start_url(stack: Stack) -> None:
    started = await _start_device(
        stack, {"start_url": "https://d-1234567890.awsapps.com/start", "region": "eu-west-1"}
    )
    await _open(stack, started["verification_uri_complete"])
    done = await stack.wait_for(started["login_id"])
    assert (done["status"], done["provider"]) == ("complete", "Enterprise")
    assert stack.gateway.pool.get(done["credential_id"]).region == "eu-west-1"


async def test_device_login_denied_in_the_browser_is_denied(stack: Stack) -> None:
    started = await _start_device(stack)
    await _open(stack, started["verification_uri_complete"] + "&action=deny")
    done = await stack.wait_for(started["login_id"])
    assert done["status"] == "denied"
    assert "denied" in done["error"] and "credential_id" not in done
    assert stack.gateway.pool.credentials() == []


async def test_device_login_honours_slow_down(stack: Stack) -> None:
    waits: list[float] = []
    polling = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the emulator's clock moves as the poll waits
        waits.append(seconds)
        polling.set()
        stack.emulator.state.advance_clock(seconds)
        await asyncio.sleep(0.05)

    stack.logins.sleep = sleep
    stack.emulator.state.device_slow_downs = 1
    started = await _start_device(stack)
    await asyncio.wait_for(polling.wait(), 10)
    await _open(stack, started["verification_uri_complete"])
    done = await stack.wait_for(started["login_id"])
    assert done["status"] == "complete"
    # One slow_down: every later poll waits 1 + 5 s, so the emulator never had to ask again.
    assert waits and set(waits) == {6.0}


async def test_device_login_never_approved_expires_and_leaves_nothing(
    short_codes: Stack,
) -> None:
    stack = short_codes
    started = await _start_device(stack)
    assert started["expires_in"] == 1
    done = await stack.wait_for(started["login_id"])
    assert done["status"] == "expired"
    assert stack.gateway.pool.credentials() == []
    assert not any(
        task.get_name() == f"kirogate device login {started['login_id']}"
        for task in asyncio.all_tasks()
    )
    later = stack.logins.clock() + timedelta(seconds=RESULT_TTL + 1)
    stack.logins.clock = lambda: later
    await stack.logins.sweep()
    gone = await stack.admin("GET", f"/logins/{started['login_id']}")
    assert gone.status_code == 404
    assert await stack.logins._book().count_logins() == 0


# ---------------------------------------------------------------- social


async def _start_social(stack: Stack, **body: Any) -> dict[str, Any]:
    answer = await stack.admin("POST", "/logins/social", json={"provider": "google", **body})
    assert answer.status_code == 200, answer.text
    started: dict[str, Any] = answer.json()
    return started


async def test_social_login_completed_with_the_address_the_browser_ended_on(
    stack: Stack,
) -> None:
    started = await _start_social(stack)
    assert started["redirect_uri"] == "kiro://kiro.kiroAgent/authenticate-success"
    assert started["callback_url"] == CALLBACK
    query = parse_qs(urlsplit(started["authorize_url"]).query)
    assert query["idp"] == ["Google"] and query["code_challenge_method"] == ["S256"]
    assert "state" not in started  # the state is only inside the address

    status, final = await _open(stack, started["authorize_url"])
    assert status == 302 and final.startswith("kiro://kiro.kiroAgent/authenticate-success?")
    answer = await stack.admin(
        "POST", f"/logins/{started['login_id']}/complete", json={"url": final}
    )
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert (done["status"], done["kind"], done["provider"]) == ("complete", "social", "google")
    credential = stack.gateway.pool.get(done["credential_id"])
    assert credential.auth_method.value == "social" and credential.provider == "Google"
    assert credential.email is not None
    assert (await stack.ask()).status_code == 200
    again = await stack.admin(
        "POST", f"/logins/{started['login_id']}/complete", json={"url": final}
    )
    assert again.json()["status"] == "complete"  # a repeat says how it went, adds nothing
    assert len(stack.gateway.pool.credentials()) == 1


async def test_social_login_completed_by_the_browser_reaching_the_callback(
    stack: Stack,
) -> None:
    started = await _start_social(stack, provider="github", redirect_uri=CALLBACK)
    status, final = await _open(stack, started["authorize_url"])
    assert status == 302 and final.startswith(CALLBACK + "?")
    page = await stack.http.get(final.removeprefix("http://test"))  # no admin key: a browser
    assert page.status_code == 200
    assert "Login complete" in page.text
    assert parse_qs(urlsplit(final).query)["code"][0] not in page.text
    assert page.headers["cache-control"] == "no-store"
    done = (await stack.admin("GET", f"/logins/{started['login_id']}")).json()
    assert done["status"] == "complete"
    assert stack.gateway.pool.get(done["credential_id"]).provider == "Github"


async def test_a_wrong_state_is_refused_and_the_login_stays_pending(stack: Stack) -> None:
    started = await _start_social(stack)
    _, final = await _open(stack, started["authorize_url"])
    parts = urlsplit(final)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = final.split("?")[0] + "?" + urlencode({**query, "state": "not-the-state"})
    answer = await stack.admin(
        "POST", f"/logins/{started['login_id']}/complete", json={"url": forged}
    )
    assert answer.status_code == 400
    assert "'url'" in answer.json()["error"]["message"]
    page = await stack.http.get("/api/admin/logins/callback?" + urlencode({**query, "state": "x"}))
    assert page.status_code == 404 and "Login failed" in page.text
    assert (await stack.admin("GET", f"/logins/{started['login_id']}")).json()["status"] == (
        "pending"
    )
    assert stack.gateway.pool.credentials() == []


async def test_a_login_refused_at_the_provider_is_denied(stack: Stack) -> None:
    started = await _start_social(stack)
    _, final = await _open(stack, started["authorize_url"])
    state = parse_qs(urlsplit(final).query)["state"][0]
    refused = "kiro://kiro.kiroAgent/authenticate-success?" + urlencode(
        {"error": "access_denied", "state": state}
    )
    answer = await stack.admin(
        "POST", f"/logins/{started['login_id']}/complete", json={"url": refused}
    )
    assert answer.json()["status"] == "denied"


async def test_a_social_login_never_completed_expires_and_leaves_nothing(stack: Stack) -> None:
    started = await _start_social(stack)
    _, final = await _open(stack, started["authorize_url"])
    soon = stack.logins.clock() + timedelta(seconds=601)
    stack.logins.clock = lambda: soon
    await stack.logins.sweep()
    expired = (await stack.admin("GET", f"/logins/{started['login_id']}")).json()
    assert expired["status"] == "expired"
    late = await stack.admin("POST", f"/logins/{started['login_id']}/complete", json={"url": final})
    assert late.json()["status"] == "expired"  # the verifier is gone: the code is useless now
    page = await stack.http.get(
        final.replace("kiro://kiro.kiroAgent/authenticate-success", "/api/admin/logins/callback")
    )
    assert "Login failed" in page.text
    later = soon + timedelta(seconds=RESULT_TTL + 1)
    stack.logins.clock = lambda: later
    await stack.logins.sweep()
    assert await stack.logins._book().count_logins() == 0
    assert stack.gateway.pool.credentials() == []
    assert [e.data["status"] for e in stack.events if e.kind == "login.finished"] == ["expired"]


# ---------------------------------------------------------------- access and bad input


async def test_every_route_but_the_callback_needs_the_admin_key(stack: Stack) -> None:
    started = await _start_social(stack)
    login = started["login_id"]
    routes = [
        ("POST", "/api/admin/logins/device", None),
        ("POST", "/api/admin/logins/social", {"provider": "google"}),
        ("GET", f"/api/admin/logins/{login}", None),
        ("POST", f"/api/admin/logins/{login}/complete", {"url": "x?state=y&code=z"}),
    ]
    for headers in ({}, {"x-api-key": CLIENT_KEY}):
        for method, path, body in routes:
            answer = await stack.http.request(method, path, headers=headers, json=body)
            assert answer.status_code == 401, (method, path, answer.text)
    page = await stack.http.get("/api/admin/logins/callback?state=unknown&code=x")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/logins/social", {"provider": "yahoo"}, "provider"),
        ("/logins/social", {}, "provider"),
        ("/logins/social", {"provider": "google", "region": "mars"}, "region"),
        ("/logins/social", {"provider": "google", "redirect_uri": "ftp://x/y"}, "redirect_uri"),
        ("/logins/device", {"start_url": "http://insecure.example/start"}, "start_url"),
        ("/logins/device", {"start_url": 7}, "start_url"),
        ("/logins/device", {"region": "US EAST"}, "region"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    stack: Stack, path: str, body: dict[str, Any], field: str
) -> None:
    answer = await stack.admin("POST", path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request" and f"'{field}'" in error["message"]


async def test_complete_with_a_bad_url_or_an_unknown_login(stack: Stack) -> None:
    started = await _start_social(stack)
    complete = f"/logins/{started['login_id']}/complete"
    for url in (None, 5, "", "https://no-query.example/"):
        answer = await stack.admin("POST", complete, json={"url": url})
        assert answer.status_code == 400 and "'url'" in answer.json()["error"]["message"]
    for login_id in ("login_" + "0" * 24, "nonsense"):
        assert (await stack.admin("GET", f"/logins/{login_id}")).status_code == 404
        missing = await stack.admin(
            "POST", f"/logins/{login_id}/complete", json={"url": "a?state=b"}
        )
        assert missing.status_code == 404
    device = await _start_device(stack)
    wrong_kind = await stack.admin(
        "POST", f"/logins/{device['login_id']}/complete", json={"url": "a?state=b&code=c"}
    )
    assert wrong_kind.status_code == 400


async def test_no_secret_in_answers(stack: Stack) -> None:
    started = await _start_social(stack)
    _, final = await _open(stack, started["authorize_url"])
    answer = await stack.admin(
        "POST", f"/logins/{started['login_id']}/complete", json={"url": final}
    )
    credential = stack.gateway.pool.get(answer.json()["credential_id"])
    texts = answer.text + (await stack.admin("GET", f"/logins/{started['login_id']}")).text
    assert credential.refresh_token and credential.refresh_token not in texts
    assert credential.access_token and credential.access_token not in texts
    code = parse_qs(urlsplit(final).query)["code"][0]
    assert code not in texts


async def test_the_login_service_failing_at_the_start_is_a_502(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kirogate.errors import LoginFailed
    from kirogate.upstream.auth import oidc

    async def refused(*args: object, **kwargs: object) -> object:
        raise LoginFailed("registering the OIDC client: HTTP 400 invalid_request")

    monkeypatch.setattr(oidc, "register_client", refused)
    answer = await stack.admin("POST", "/logins/device")
    assert answer.status_code == 502
    assert "registering the OIDC client" in answer.json()["error"]["message"]
    assert await stack.logins._book().count_logins() == 0


async def test_the_callback_is_off_with_the_admin_api(stack: Stack) -> None:
    import dataclasses

    started = await _start_social(stack, redirect_uri=CALLBACK)
    _, final = await _open(stack, started["authorize_url"])
    settings = stack.gateway.settings
    server = dataclasses.replace(settings.server, admin_key=None)
    stack.gateway.settings = dataclasses.replace(settings, server=server)
    page = await stack.http.get(final.removeprefix("http://test"))
    assert page.status_code == 404 and "Login failed" in page.text
    assert stack.gateway.pool.credentials() == []

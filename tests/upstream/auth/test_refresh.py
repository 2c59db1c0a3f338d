import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from kirogate.errors import CredentialSourceError, CredentialUnusable, InvalidGrant, RefreshFailed
from kirogate.settings import UpstreamSettings
from kirogate.upstream.auth import refresh as refresh_module
from kirogate.upstream.auth.refresh import (
    TokenManager,
    refresh_credential,
    refresh_external_idp,
    refresh_idc,
    refresh_social,
)
from kirogate.upstream.auth.sources import load_credentials_file
from kirogate.upstream.auth.writeback import write_back_async
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.endpoints import resolve_endpoints
from kirogate.upstream.http import HttpPool
from kirogate.upstream.identity import machine_id_for
from tests.upstream.test_client import raw_server, read_request_head

RT = "aorAAAAAG" + "x" * 120
NEW_RT = "aorAAAAAG" + "n" * 120
ARN = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid refresh token provided"}


def clock() -> datetime:
    return NOW


@dataclass
class FakeAuth:
    """Social auth service + SSO-OIDC /token, answering with the spec's bodies."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, Any]] = field(default_factory=list)
    reply: dict[str, Any] = field(
        default_factory=lambda: {
            "accessToken": "aoa-new",
            "refreshToken": NEW_RT,
            "profileArn": ARN,
            "expiresIn": 3600,
        }
    )
    delay: float = 0.0
    base: str = ""

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.calls if p == path)

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type == "application/x-www-form-urlencoded":
            body: Any = dict(await request.post())
        else:
            body = await request.json()
        self.calls.append((request.path, body))
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status, payload = self.script.pop(0)
            text = payload if isinstance(payload, str) else json.dumps(payload)
            return web.Response(status=status, text=text, content_type="application/json")
        return web.json_response(self.reply)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAuth]:
    auth = FakeAuth()
    app = web.Application()
    for path in ("/refreshToken", "/token", "/ext/token"):
        app.router.add_post(path, auth.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    auth.base = str(server.make_url("")).rstrip("/")
    try:
        yield auth
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def settings_for(fake: FakeAuth, **kw: Any) -> UpstreamSettings:
    # No refresh backoff unless a test asks: most tests refresh again at once.
    kw.setdefault("refresh_backoff", 0.0)
    return UpstreamSettings(url=fake.base, system_version="darwin#24.6.0", **kw)


def social(**kw: Any) -> Credential:
    kw.setdefault("access_token", "aoa-old")
    kw.setdefault("expires_at", NOW - timedelta(minutes=1))
    kw.setdefault("id", 1)
    return Credential(AuthMethod.SOCIAL, refresh_token=RT, **kw)


def idc(**kw: Any) -> Credential:
    return Credential(
        AuthMethod.IDC,
        refresh_token=RT,
        client_id="uG-18bI",
        client_secret="eyJraWQi",
        id=2,
        expires_at=NOW - timedelta(minutes=1),
        **kw,
    )


def manager(
    fake: FakeAuth,
    session: aiohttp.ClientSession,
    settings: UpstreamSettings | None = None,
    **kw: Any,
) -> tuple[TokenManager, list[Credential]]:
    seen: list[Credential] = []

    def sessions(cred: Credential) -> tuple[aiohttp.ClientSession, URL | None]:
        seen.append(cred)
        return session, None

    return TokenManager(settings or settings_for(fake), sessions, clock=clock, **kw), seen


# ---------------------------------------------------------------- single calls


async def test_social_refresh_request_and_update(fake, session):
    settings = settings_for(fake)
    cred = social()
    update = await refresh_social(
        session, cred, settings, endpoints=resolve_endpoints(settings), proxy=None, clock=clock
    )
    assert fake.calls == [("/refreshToken", {"refreshToken": RT})]
    headers = fake.headers[0]
    assert (
        headers["User-Agent"] == f"KiroIDE-{settings.kiro_version}-{machine_id_for(cred, settings)}"
    )
    assert headers["Content-Type"] == "application/json"
    assert update.access_token == "aoa-new"
    assert update.refresh_token == NEW_RT
    assert update.profile_arn == ARN
    assert update.expires_at == NOW + timedelta(seconds=3600)


async def test_social_refresh_defaults_expires_in_to_an_hour(fake, session):
    fake.reply = {"accessToken": "aoa-new"}
    settings = settings_for(fake)
    update = await refresh_social(
        session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None, clock=clock
    )
    assert update.expires_at == NOW + timedelta(hours=1)
    assert update.refresh_token is None
    assert update.profile_arn is None


async def test_idc_refresh_sends_camel_case_json_to_token(fake, session):
    settings = settings_for(fake)
    fake.reply = {"accessToken": "aoa-idc", "tokenType": "Bearer", "expiresIn": 1800}
    update = await refresh_idc(
        session, idc(), settings, endpoints=resolve_endpoints(settings), proxy=None, clock=clock
    )
    assert fake.calls == [
        (
            "/token",
            {
                "clientId": "uG-18bI",
                "clientSecret": "eyJraWQi",
                "refreshToken": RT,
                "grantType": "refresh_token",
            },
        )
    ]
    headers = fake.headers[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amz-user-agent"] == "aws-sdk-js/3.980.0 KiroIDE"
    assert update.access_token == "aoa-idc"
    assert update.expires_at == NOW + timedelta(seconds=1800)


async def test_external_idp_refresh_is_form_encoded(fake, session):
    settings = settings_for(fake)
    fake.reply = {"access_token": "ext-new", "refresh_token": "ext-rt2", "expires_in": 600}
    cred = Credential(
        AuthMethod.EXTERNAL_IDP,
        refresh_token="ext-rt",
        client_id="app-id",
        token_endpoint=f"{fake.base}/ext/token",
        extra={"scopes": ["api://kiro/.default", "offline_access"]},
    )
    update = await refresh_external_idp(session, cred, settings, proxy=None, clock=clock)
    assert fake.calls == [
        (
            "/ext/token",
            {
                "grant_type": "refresh_token",
                "refresh_token": "ext-rt",
                "client_id": "app-id",
                "scope": "api://kiro/.default offline_access",
            },
        )
    ]
    assert (update.access_token, update.refresh_token) == ("ext-new", "ext-rt2")
    assert update.expires_at == NOW + timedelta(seconds=600)


async def test_external_idp_requires_https(session):
    cred = Credential(
        AuthMethod.EXTERNAL_IDP, refresh_token="r", token_endpoint="http://idp.example.com/token"
    )
    with pytest.raises(InvalidGrant, match="https"):
        await refresh_external_idp(session, cred, UpstreamSettings(), proxy=None)


@pytest.mark.parametrize("make", [social, idc])
async def test_invalid_grant_is_permanent_on_both_endpoints(fake, session, make):
    settings = settings_for(fake)
    fake.script = [(400, INVALID_GRANT)]
    with pytest.raises(InvalidGrant, match="Invalid refresh token provided"):
        await refresh_credential(
            session, make(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (400, {"error": "invalid_request", "error_description": "bad"}),
        (400, {"error": "invalid_client"}),
        (401, {"message": "The bearer token included in the request is expired"}),
        (403, {"message": "forbidden"}),
        (429, {"message": "Too many requests"}),
        (500, "internal error"),
        (503, ""),
    ],
)
async def test_other_failures_are_transient(fake, session, status, payload):
    settings = settings_for(fake)
    fake.script = [(status, payload)]
    with pytest.raises(RefreshFailed) as info:
        await refresh_social(
            session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )
    assert not isinstance(info.value, InvalidGrant)
    assert info.value.upstream_status == status
    assert f"HTTP {status}" in str(info.value)


async def test_invalid_grant_with_other_status_is_transient(fake, session):
    settings = settings_for(fake)
    fake.script = [(401, INVALID_GRANT)]
    with pytest.raises(RefreshFailed) as info:
        await refresh_social(
            session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )
    assert not isinstance(info.value, InvalidGrant)


@pytest.mark.parametrize("payload", ["<html>oops</html>", {"tokenType": "Bearer"}, [1, 2]])
async def test_unusable_success_body_is_transient(fake, session, payload):
    settings = settings_for(fake)
    fake.script = [(200, payload)]
    with pytest.raises(RefreshFailed) as info:
        await refresh_social(
            session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )
    assert info.value.upstream_status in (200, None)


async def test_connection_refused_is_transient(session):
    # Bind and close a socket to get a local port nothing listens on.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    settings = UpstreamSettings(url=f"http://127.0.0.1:{port}")
    with pytest.raises(RefreshFailed) as info:
        await refresh_social(
            session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )
    assert info.value.upstream_status is None


async def test_connection_refused_keeps_the_library_error_in_the_log(session, caplog):
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    settings = UpstreamSettings(url=f"http://127.0.0.1:{port}")
    with pytest.raises(RefreshFailed, match="connection to the token service failed") as info:
        await refresh_social(
            session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )
    assert "ClientConnectorError" not in str(info.value)
    assert "ClientConnectorError" in caplog.text


async def test_timeout_is_transient(fake, session, monkeypatch):
    monkeypatch.setattr(refresh_module, "REFRESH_TIMEOUT", 0.2)
    fake.delay = 2.0
    settings = settings_for(fake)
    with pytest.raises(RefreshFailed, match="no answer"):
        await refresh_social(
            session, social(), settings, endpoints=resolve_endpoints(settings), proxy=None
        )


async def test_missing_refresh_token_is_permanent(session):
    cred = Credential(AuthMethod.SOCIAL, access_token="a")
    with pytest.raises(InvalidGrant, match="no refresh token"):
        await refresh_social(
            session,
            cred,
            UpstreamSettings(),
            endpoints=resolve_endpoints(UpstreamSettings()),
            proxy=None,
        )


# ---------------------------------------------------------------- TokenManager


async def test_manager_refreshes_through_the_pools_proxy_with_its_auth():
    heads: list[bytes] = []
    reply = json.dumps({"accessToken": "aoa-proxied", "expiresIn": 3600}).encode()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await read_request_head(reader))
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
        )
        await writer.drain()

    async with raw_server(proxy) as proxy_url:
        # The auth host does not exist: only the proxy can answer.
        config = UpstreamSettings(url="http://kiro-auth.invalid:8080", refresh_backoff=0.0)
        async with HttpPool(config) as pool:
            mgr = TokenManager(config, pool.session_for, clock=clock)
            cred = social(proxy_url=proxy_url, proxy_username="u", proxy_password="p w")
            assert await mgr.ensure_fresh(cred) == "aoa-proxied"
    head = heads[0].decode()
    assert head.startswith("POST http://kiro-auth.invalid:8080/refreshToken ")
    expected = base64.b64encode(b"u:p w").decode()
    assert f"Proxy-Authorization: Basic {expected}" in head


async def test_fresh_token_returned_without_refresh(fake, session):
    mgr, _ = manager(fake, session)
    cred = social(expires_at=NOW + timedelta(hours=1))
    assert await mgr.ensure_fresh(cred) == "aoa-old"
    assert fake.calls == []


async def test_token_inside_skew_is_refreshed(fake, session):
    mgr, seen = manager(fake, session)
    cred = social(expires_at=NOW + timedelta(minutes=9))  # skew is 10 minutes
    assert await mgr.ensure_fresh(cred) == "aoa-new"
    assert fake.count("/refreshToken") == 1
    assert seen == [cred]


async def test_missing_expiry_is_refreshed(fake, session):
    mgr, _ = manager(fake, session)
    cred = Credential(AuthMethod.SOCIAL, refresh_token=RT, access_token="aoa-old")
    assert await mgr.ensure_fresh(cred) == "aoa-new"


async def test_concurrent_callers_share_one_refresh(fake, session):
    fake.delay = 0.2
    mgr, _ = manager(fake, session)
    cred = social()
    tokens = await asyncio.gather(*(mgr.ensure_fresh(cred) for _ in range(20)))
    assert tokens == ["aoa-new"] * 20
    assert fake.count("/refreshToken") == 1


async def test_concurrent_callers_all_get_the_failure(fake, session):
    fake.delay = 0.2
    fake.script = [(400, INVALID_GRANT)]
    mgr, _ = manager(fake, session)
    cred = social()
    results = await asyncio.gather(
        *(mgr.ensure_fresh(cred) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, InvalidGrant) for r in results)
    assert fake.count("/refreshToken") == 1


async def test_separate_credentials_refresh_separately(fake, session):
    fake.delay = 0.1
    mgr, _ = manager(fake, session)
    a, b = social(), social(id=9)
    await asyncio.gather(mgr.ensure_fresh(a), mgr.ensure_fresh(b))
    assert fake.count("/refreshToken") == 2


async def test_rotated_refresh_token_adopted_and_written_back(fake, session, tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps([{"id": 1, "refreshToken": RT, "authMethod": "social", "k": 1}]))
    [cred] = load_credentials_file(path)
    mgr, _ = manager(fake, session, write_back=write_back_async)
    assert await mgr.ensure_fresh(cred) == "aoa-new"
    assert cred.refresh_token == NEW_RT
    assert cred.profile_arn == ARN
    assert cred.expires_at == NOW + timedelta(seconds=3600)
    [element] = json.loads(path.read_text())
    assert element["refreshToken"] == NEW_RT
    assert element["accessToken"] == "aoa-new"
    assert element["expiresAt"] == "2026-01-01T13:00:00.000Z"
    assert element["profileArn"] == ARN
    assert element["k"] == 1


async def test_refresh_token_kept_when_response_has_none(fake, session):
    fake.reply = {"accessToken": "aoa-new", "expiresIn": 3600}
    mgr, _ = manager(fake, session)
    cred = social(profile_arn="arn:old")
    await mgr.ensure_fresh(cred)
    assert cred.refresh_token == RT
    assert cred.profile_arn == "arn:old"


async def test_write_back_called_after_each_success(fake, session):
    written: list[str | None] = []

    async def record(cred: Credential) -> None:
        written.append(cred.access_token)

    mgr, _ = manager(fake, session, write_back=record)
    cred = social()
    await mgr.ensure_fresh(cred)
    await mgr.ensure_fresh(cred, force=True)
    assert written == ["aoa-new", "aoa-new"]


async def test_write_back_failure_does_not_fail_the_refresh(fake, session, caplog):
    async def broken(cred: Credential) -> None:
        raise CredentialSourceError("/x/credentials.json", "disk full")

    mgr, _ = manager(fake, session, write_back=broken)
    with caplog.at_level(logging.ERROR):
        assert await mgr.ensure_fresh(social()) == "aoa-new"
    assert "disk full" in caplog.text


async def test_invalid_grant_disables_with_reason(fake, session):
    fake.script = [(400, INVALID_GRANT)]
    mgr, _ = manager(fake, session)
    cred = social()
    with pytest.raises(InvalidGrant):
        await mgr.ensure_fresh(cred)
    assert cred.disabled is True
    assert cred.disabled_reason == (
        "InvalidRefreshToken: invalid_grant: Invalid refresh token provided"
    )


async def test_transient_failures_counted_then_disable(fake, session):
    fake.script = [(500, "boom")] * 3
    mgr, _ = manager(fake, session)
    cred = social()
    for expected in (1, 2):
        with pytest.raises(RefreshFailed):
            await mgr.ensure_fresh(cred)
        assert mgr.refresh_failures(cred) == expected
        assert cred.disabled is False
    with pytest.raises(RefreshFailed):
        await mgr.ensure_fresh(cred)
    assert mgr.refresh_failures(cred) == 3
    assert cred.disabled is True
    assert cred.disabled_reason == "TooManyRefreshFailures"


async def test_success_resets_failure_count(fake, session):
    fake.script = [(503, ""), (503, "")]
    mgr, _ = manager(fake, session)
    cred = social()
    for _ in range(2):
        with pytest.raises(RefreshFailed):
            await mgr.ensure_fresh(cred)
    await mgr.ensure_fresh(cred)
    assert mgr.refresh_failures(cred) == 0
    assert cred.disabled is False


async def test_reset_forgets_failures(fake, session):
    fake.script = [(503, "")]
    mgr, _ = manager(fake, session)
    cred = social()
    with pytest.raises(RefreshFailed):
        await mgr.ensure_fresh(cred)
    mgr.reset(cred)
    assert mgr.refresh_failures(cred) == 0


async def test_api_key_never_refreshed(fake, session):
    mgr, seen = manager(fake, session)
    cred = Credential(AuthMethod.API_KEY, kiro_api_key="ksk_" + "k" * 20)
    assert await mgr.ensure_fresh(cred) == cred.kiro_api_key
    assert await mgr.ensure_fresh(cred, force=True) == cred.kiro_api_key
    assert fake.calls == []
    assert seen == []


async def test_force_refreshes_a_valid_token(fake, session):
    mgr, _ = manager(fake, session)
    cred = social(expires_at=NOW + timedelta(hours=1))
    assert await mgr.ensure_fresh(cred, force=True) == "aoa-new"
    assert fake.count("/refreshToken") == 1


async def test_force_joins_a_refresh_in_flight(fake, session):
    fake.delay = 0.2
    mgr, _ = manager(fake, session)
    cred = social()
    first = asyncio.ensure_future(mgr.ensure_fresh(cred))
    await asyncio.sleep(0.05)
    forced = await mgr.ensure_fresh(cred, force=True)
    assert forced == await first == "aoa-new"
    assert fake.count("/refreshToken") == 1


async def test_force_with_already_replaced_token_does_not_refresh_again(fake, session):
    mgr, _ = manager(fake, session)
    cred = social(access_token="aoa-current", expires_at=NOW + timedelta(hours=1))
    assert await mgr.ensure_fresh(cred, force=True, rejected="aoa-stale") == "aoa-current"
    assert fake.calls == []
    assert await mgr.ensure_fresh(cred, force=True, rejected="aoa-current") == "aoa-new"
    assert fake.count("/refreshToken") == 1


async def test_cancelled_caller_does_not_cancel_shared_refresh(fake, session):
    fake.delay = 0.2
    mgr, _ = manager(fake, session)
    cred = social()
    leader = asyncio.ensure_future(mgr.ensure_fresh(cred))
    await asyncio.sleep(0.05)
    follower = asyncio.ensure_future(mgr.ensure_fresh(cred))
    leader.cancel()
    assert await follower == "aoa-new"
    assert cred.access_token == "aoa-new"
    assert fake.count("/refreshToken") == 1


async def test_refresh_completes_even_if_every_caller_leaves(fake, session):
    fake.delay = 0.1
    mgr, _ = manager(fake, session)
    cred = social()
    caller = asyncio.ensure_future(mgr.ensure_fresh(cred))
    await asyncio.sleep(0.02)
    caller.cancel()
    await asyncio.sleep(0.3)
    assert cred.refresh_token == NEW_RT


async def test_idc_credentials_refresh_at_oidc(fake, session):
    mgr, _ = manager(fake, session)
    await mgr.ensure_fresh(idc())
    assert fake.count("/token") == 1
    assert fake.count("/refreshToken") == 0


async def test_aclose_cancels_refreshes_in_flight(fake, session):
    fake.delay = 5.0
    mgr, _ = manager(fake, session)
    caller = asyncio.ensure_future(mgr.ensure_fresh(social()))
    await asyncio.sleep(0.05)
    await mgr.aclose()
    with pytest.raises(asyncio.CancelledError):
        await caller


async def test_logs_name_the_credential_without_secrets(fake, session, caplog):
    fake.script = [(500, "boom")]
    mgr, _ = manager(fake, session)
    cred = social(email="dev@example.com")
    with caplog.at_level(logging.DEBUG, logger="kirogate.upstream.auth.refresh"):
        with pytest.raises(RefreshFailed):
            await mgr.ensure_fresh(cred)
        await mgr.ensure_fresh(cred)
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "dev@example.com" in info
    for secret in (RT, NEW_RT, "aoa-new", "aoa-old"):
        assert secret not in info


def test_token_update_apply_keeps_unset_fields():
    cred = Credential(AuthMethod.SOCIAL, refresh_token=RT, profile_arn="arn:old")
    refresh_module.TokenUpdate("a", None, NOW, None).apply(cred)
    assert (cred.access_token, cred.refresh_token, cred.profile_arn) == ("a", RT, "arn:old")
    assert cred.expires_at == NOW


async def test_machine_id_pinned_before_refresh_token_rotates(fake, session):
    mgr, _ = manager(fake, session)
    cred = social()
    before = machine_id_for(cred, UpstreamSettings())
    await mgr.ensure_fresh(cred)
    assert cred.refresh_token == NEW_RT
    assert cred.machine_id == before
    assert machine_id_for(cred, UpstreamSettings()) == before


async def test_configured_machine_id_left_alone_on_rotation(fake, session):
    mgr, _ = manager(fake, session)
    cred = social(machine_id="b" * 64)
    await mgr.ensure_fresh(cred)
    assert cred.machine_id == "b" * 64


# ---------------------------------------------------------------- backoff


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backing_off(fake: FakeAuth, session: aiohttp.ClientSession) -> tuple[TokenManager, Ticks]:
    ticks = Ticks()
    settings = settings_for(fake, refresh_backoff=2.0, refresh_backoff_max=10.0)
    mgr, _ = manager(fake, session, settings, monotonic=ticks, rng=random.Random(0))
    return mgr, ticks


async def test_a_failed_refresh_is_not_tried_again_before_its_backoff_ends(fake, session):
    fake.script = [(503, "")] * 10
    mgr, _ = backing_off(fake, session)
    cred = social()
    with pytest.raises(RefreshFailed) as first:
        await mgr.ensure_fresh(cred)
    assert 2.0 <= first.value.retry_after <= 2.5
    for _ in range(20):
        with pytest.raises(RefreshFailed, match="backs off") as waiting:
            await mgr.ensure_fresh(cred, force=True)
        assert 0 < waiting.value.retry_after <= first.value.retry_after + 1e-6
    assert fake.count("/refreshToken") == 1


async def test_the_refresh_backoff_doubles_up_to_its_cap(fake, session):
    fake.script = [(503, "")] * 10
    mgr, ticks = backing_off(fake, session)
    cred = social()
    waits = []
    for _ in range(5):
        with pytest.raises(RefreshFailed) as caught:
            await mgr.ensure_fresh(cred)
        waits.append(caught.value.retry_after)
        ticks.now += 100
    for wait, base in zip(waits, (2, 4, 8, 10, 10), strict=True):
        assert base <= wait <= base * 1.25  # capped, then up to a quarter of jitter
    assert fake.count("/refreshToken") == 5


async def test_a_successful_refresh_ends_the_backoff(fake, session):
    fake.script = [(503, "")] * 2
    mgr, ticks = backing_off(fake, session)
    cred = social()
    for _ in range(2):
        with pytest.raises(RefreshFailed):
            await mgr.ensure_fresh(cred)
        ticks.now += 100
    assert await mgr.ensure_fresh(cred) == "aoa-new"
    assert mgr.backoff_remaining(cred) == 0
    cred.expires_at = NOW - timedelta(minutes=1)
    fake.script = [(503, "")]
    with pytest.raises(RefreshFailed) as caught:
        await mgr.ensure_fresh(cred)
    assert int(caught.value.retry_after) == 2  # started over


async def test_a_token_not_yet_expired_still_serves_during_the_backoff(fake, session):
    fake.script = [(503, "")]
    mgr, _ = backing_off(fake, session)
    cred = social(expires_at=NOW + timedelta(minutes=5))  # inside the skew: due for refresh
    with pytest.raises(RefreshFailed):
        await mgr.ensure_fresh(cred)
    assert await mgr.ensure_fresh(cred) == "aoa-old"
    assert fake.count("/refreshToken") == 1


async def test_reset_ends_the_backoff(fake, session):
    fake.script = [(503, "")]
    mgr, _ = backing_off(fake, session)
    cred = social()
    with pytest.raises(RefreshFailed):
        await mgr.ensure_fresh(cred)
    mgr.reset(cred)
    assert await mgr.ensure_fresh(cred) == "aoa-new"


async def test_a_refresh_the_http_client_cannot_build_is_the_credentials_fault(
    fake, session, monkeypatch
):
    # A header value with a line break, as a credential's field could once produce.
    monkeypatch.setattr(
        refresh_module,
        "social_refresh_headers",
        lambda *_, **__: {"x-device": "ab\r\nX-Injected: 1"},
    )
    mgr, _ = manager(fake, session)
    with pytest.raises(CredentialUnusable) as caught:
        await mgr.ensure_fresh(social())
    assert "X-Injected" not in str(caught.value)
    assert fake.count("/refreshToken") == 0


async def test_each_refresh_is_counted_by_outcome(fake, session):
    from kirogate.metrics import METRICS

    before = dict(METRICS.refreshes.values)
    mgr, _ = manager(fake, session)
    await mgr.ensure_fresh(social())
    fake.script = [(400, INVALID_GRANT)]
    with pytest.raises(InvalidGrant):
        await mgr.ensure_fresh(social(id=7))
    after = METRICS.refreshes.values
    assert after.get("ok", 0) - before.get("ok", 0) == 1
    assert after.get("invalid_grant", 0) - before.get("invalid_grant", 0) == 1

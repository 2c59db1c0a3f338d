import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kirogate.errors import LoginFailed
from kirogate.settings import UpstreamSettings
from kirogate.upstream.auth.oidc import (
    BUILDER_ID_START_URL,
    KIRO_REDIRECT_URI,
    ClientRegistration,
    DeviceAuthorization,
    code_from_redirect,
    exchange_social_code,
    make_pkce,
    poll_device_token,
    register_client,
    social_login_url,
    start_device_authorization,
)
from kirogate.upstream.credentials import AuthMethod
from kirogate.upstream.endpoints import Endpoints, resolve_endpoints

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = UpstreamSettings(system_version="darwin#24.6.0")
REG = ClientRegistration(client_id="uG-18bI", client_secret="eyJraWQi")
PENDING = (400, {"error": "authorization_pending", "error_description": "pending"})
SLOW_DOWN = (400, {"error": "slow_down", "error_description": "slow down"})
TOKEN = (
    200,
    {
        "accessToken": "aoa-device",
        "refreshToken": "aor-device",
        "expiresIn": 3600,
        "tokenType": "Bearer",
    },
)


def clock() -> datetime:
    return NOW


@dataclass
class FakeOidc:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    token_script: list[tuple[int, Any]] = field(default_factory=list)
    replies: dict[str, tuple[int, Any]] = field(default_factory=dict)
    base: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append((request.path, body))
        self.headers.append(dict(request.headers))
        if request.path == "/token":
            status, payload = self.token_script.pop(0)
        else:
            status, payload = self.replies[request.path]
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return web.Response(status=status, text=text, content_type="application/json")


@pytest.fixture
async def fake() -> AsyncIterator[FakeOidc]:
    oidc = FakeOidc(
        replies={
            "/client/register": (
                200,
                {
                    "clientId": "uG-18bI",
                    "clientSecret": "eyJraWQi",
                    "clientIdIssuedAt": 1735689600,
                    "clientSecretExpiresAt": 1743465600,
                },
            ),
            "/device_authorization": (
                200,
                {
                    "deviceCode": "dev-code",
                    "userCode": "ABCD-EFGH",
                    "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
                    "verificationUriComplete": (
                        "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH"
                    ),
                    "expiresIn": 600,
                    "interval": 1,
                },
            ),
            "/oauth/token": (
                200,
                {
                    "accessToken": "aoa-social",
                    "refreshToken": "aor-social",
                    "profileArn": "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK",
                    "expiresIn": 1800,
                },
            ),
        }
    )
    app = web.Application()
    for path in ("/client/register", "/device_authorization", "/token", "/oauth/token"):
        app.router.add_post(path, oidc.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    oidc.base = str(server.make_url("")).rstrip("/")
    try:
        yield oidc
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def endpoints(fake: FakeOidc) -> Endpoints:
    return resolve_endpoints(UpstreamSettings(url=fake.base))


class FakeTime:
    """A monotonic clock that only moves when the poll loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def authorization(expires_in: float = 600, interval: float = 1) -> DeviceAuthorization:
    return DeviceAuthorization(
        device_code="dev-code",
        user_code="ABCD-EFGH",
        verification_uri="https://device.sso.us-east-1.amazonaws.com/",
        verification_uri_complete=None,
        expires_in=expires_in,
        interval=interval,
    )


async def poll(fake: FakeOidc, session: aiohttp.ClientSession, time: FakeTime, **kw: Any):
    auth = kw.pop("auth", None) or authorization()
    return await poll_device_token(
        session,
        endpoints(fake),
        SETTINGS,
        REG,
        auth,
        region="us-east-1",
        sleep=time.sleep,
        monotonic=time.monotonic,
        clock=clock,
        **kw,
    )


# ---------------------------------------------------------------- device flow


async def test_register_client_body_and_result(fake, session):
    reg = await register_client(session, endpoints(fake), SETTINGS)
    assert fake.calls == [
        (
            "/client/register",
            {
                "clientName": "Kiro IDE",
                "clientType": "public",
                "scopes": [
                    "codewhisperer:completions",
                    "codewhisperer:analysis",
                    "codewhisperer:conversations",
                ],
            },
        )
    ]
    assert fake.headers[0]["Content-Type"] == "application/json"
    assert (reg.client_id, reg.client_secret) == ("uG-18bI", "eyJraWQi")
    assert reg.expires_at == datetime.fromtimestamp(1743465600, UTC)
    assert "eyJraWQi" not in repr(reg)


async def test_register_client_error_is_login_failed(fake, session):
    fake.replies["/client/register"] = (400, {"error": "invalid_scope", "error_description": "x"})
    with pytest.raises(LoginFailed, match="HTTP 400 invalid_scope: x"):
        await register_client(session, endpoints(fake), SETTINGS)


async def test_register_client_without_secret_is_login_failed(fake, session):
    fake.replies["/client/register"] = (200, {"clientId": "c"})
    with pytest.raises(LoginFailed, match="clientSecret"):
        await register_client(session, endpoints(fake), SETTINGS)


async def test_start_device_authorization_body_and_result(fake, session):
    auth = await start_device_authorization(session, endpoints(fake), SETTINGS, REG)
    assert fake.calls == [
        (
            "/device_authorization",
            {"clientId": "uG-18bI", "clientSecret": "eyJraWQi", "startUrl": BUILDER_ID_START_URL},
        )
    ]
    assert auth.user_code == "ABCD-EFGH"
    assert auth.verification_uri_complete.endswith("user_code=ABCD-EFGH")
    assert (auth.expires_in, auth.interval) == (600, 1)
    assert "dev-code" not in repr(auth)


async def test_start_device_authorization_custom_start_url(fake, session):
    url = "https://d-123.awsapps.com/start"
    await start_device_authorization(session, endpoints(fake), SETTINGS, REG, start_url=url)
    assert fake.calls[0][1]["startUrl"] == url


async def test_poll_pending_then_success_builds_idc_credential(fake, session):
    fake.token_script = [PENDING, PENDING, TOKEN]
    time = FakeTime()
    states: list[tuple[str, float]] = []
    cred = await poll(fake, session, time, on_pending=lambda s, r: states.append((s, r)))
    assert fake.calls[0] == (
        "/token",
        {
            "clientId": "uG-18bI",
            "clientSecret": "eyJraWQi",
            "deviceCode": "dev-code",
            "grantType": "urn:ietf:params:oauth:grant-type:device_code",
        },
    )
    assert len(fake.calls) == 3
    assert time.sleeps == [1, 1]
    assert [s for s, _ in states] == ["authorization_pending", "authorization_pending"]
    assert states[0][1] == 600
    assert cred.auth_method is AuthMethod.IDC
    assert (cred.access_token, cred.refresh_token) == ("aoa-device", "aor-device")
    assert (cred.client_id, cred.client_secret) == ("uG-18bI", "eyJraWQi")
    assert cred.expires_at == NOW + timedelta(seconds=3600)
    assert cred.region == "us-east-1"
    assert cred.provider == "BuilderId"


async def test_poll_slow_down_adds_five_seconds(fake, session):
    fake.token_script = [PENDING, SLOW_DOWN, PENDING, SLOW_DOWN, TOKEN]
    time = FakeTime()
    await poll(fake, session, time)
    assert time.sleeps == [1, 6, 6, 11]


async def test_poll_honours_server_interval(fake, session):
    fake.token_script = [PENDING, TOKEN]
    time = FakeTime()
    await poll(fake, session, time, auth=authorization(interval=5))
    assert time.sleeps == [5]


@pytest.mark.parametrize(
    ("error", "message", "outcome"),
    [
        ("expired_token", "expired", "expired"),
        ("access_denied", "denied", "denied"),
        ("invalid_client", "invalid_client", "failed"),
    ],
)
async def test_poll_fatal_errors(fake, session, error, message, outcome):
    fake.token_script = [PENDING, (400, {"error": error, "error_description": "no"})]
    with pytest.raises(LoginFailed, match=message) as caught:
        await poll(fake, session, FakeTime())
    assert caught.value.outcome == outcome


async def test_poll_stops_at_device_code_expiry(fake, session):
    fake.token_script = [PENDING] * 10
    time = FakeTime()
    with pytest.raises(LoginFailed, match="not approved within 3s") as caught:
        await poll(fake, session, time, auth=authorization(expires_in=3, interval=1))
    assert caught.value.outcome == "expired"
    assert time.sleeps == [1, 1, 1]
    assert len(fake.calls) == 3


async def test_poll_max_wait_shortens_deadline(fake, session):
    fake.token_script = [PENDING] * 10
    time = FakeTime()
    with pytest.raises(LoginFailed, match="within 2s"):
        await poll(fake, session, time, max_wait=2)
    assert sum(time.sleeps) == 2


async def test_poll_last_sleep_clipped_to_deadline(fake, session):
    fake.token_script = [PENDING] * 10
    time = FakeTime()
    with pytest.raises(LoginFailed):
        await poll(fake, session, time, auth=authorization(expires_in=7, interval=5))
    assert time.sleeps == [5, 2]


async def test_poll_retries_server_errors(fake, session):
    fake.token_script = [(500, "oops"), (503, {"message": "busy"}), TOKEN]
    time = FakeTime()
    states: list[str] = []
    await poll(fake, session, time, on_pending=lambda s, r: states.append(s))
    assert states == ["retrying", "retrying"]


async def test_poll_awaits_async_on_pending(fake, session):
    fake.token_script = [PENDING, TOKEN]
    seen: list[str] = []

    async def on_pending(state: str, remaining: float) -> None:
        seen.append(state)

    await poll(fake, session, FakeTime(), on_pending=on_pending)
    assert seen == ["authorization_pending"]


async def test_poll_enterprise_start_url_sets_provider(fake, session):
    fake.token_script = [TOKEN]
    cred = await poll(fake, session, FakeTime(), start_url="https://d-1.awsapps.com/start")
    assert cred.provider == "Enterprise"


async def test_poll_success_without_refresh_token_fails(fake, session):
    fake.token_script = [(200, {"accessToken": "a", "expiresIn": 3600})]
    with pytest.raises(LoginFailed, match="refreshToken"):
        await poll(fake, session, FakeTime())


async def test_device_flow_end_to_end(fake, session):
    fake.token_script = [PENDING, TOKEN]
    ep = endpoints(fake)
    reg = await register_client(session, ep, SETTINGS)
    auth = await start_device_authorization(session, ep, SETTINGS, reg)
    time = FakeTime()
    cred = await poll_device_token(
        session,
        ep,
        SETTINGS,
        reg,
        auth,
        region="eu-central-1",
        sleep=time.sleep,
        monotonic=time.monotonic,
    )
    assert [path for path, _ in fake.calls] == [
        "/client/register",
        "/device_authorization",
        "/token",
        "/token",
    ]
    assert cred.region == "eu-central-1"
    assert cred.refresh_token == "aor-device"


# ---------------------------------------------------------------- social PKCE


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_make_pkce_s256_challenge():
    pkce = make_pkce()
    assert len(pkce.verifier) == 43  # base64url of 32 bytes
    assert len(pkce.state) == 22  # base64url of 16 bytes
    assert pkce.challenge == b64url(hashlib.sha256(pkce.verifier.encode()).digest())
    assert "=" not in pkce.verifier + pkce.challenge + pkce.state
    assert pkce.verifier not in repr(pkce)


def test_make_pkce_is_random():
    assert make_pkce().verifier != make_pkce().verifier


def test_social_login_url_matches_spec_form():
    ep = resolve_endpoints(UpstreamSettings())
    url = social_login_url(ep, "google", KIRO_REDIRECT_URI, "CHAL", "STATE")
    assert url == (
        "https://prod.us-east-1.auth.desktop.kiro.dev/login?idp=Google"
        "&redirect_uri=kiro%3A%2F%2Fkiro.kiroAgent%2Fauthenticate-success"
        "&code_challenge=CHAL&code_challenge_method=S256&state=STATE"
    )


def test_social_login_url_github_casing():
    ep = resolve_endpoints(UpstreamSettings())
    assert "idp=Github&" in social_login_url(ep, "GITHUB", KIRO_REDIRECT_URI, "c", "s")


def test_social_login_url_unknown_idp():
    with pytest.raises(LoginFailed, match="Google or Github"):
        social_login_url(resolve_endpoints(UpstreamSettings()), "Facebook", "r", "c", "s")


def test_code_from_redirect():
    url = f"{KIRO_REDIRECT_URI}?code=abc123&state=S1"
    assert code_from_redirect(url, state="S1") == "abc123"


def test_code_from_redirect_state_mismatch():
    with pytest.raises(LoginFailed, match="state"):
        code_from_redirect("http://127.0.0.1:1/cb?code=abc&state=evil", state="S1")


def test_code_from_redirect_error():
    url = "http://127.0.0.1:1/cb?error=access_denied&error_description=User+cancelled&state=S1"
    with pytest.raises(LoginFailed, match="User cancelled"):
        code_from_redirect(url, state="S1")


async def test_exchange_social_code_snake_case_request(fake, session):
    cred = await exchange_social_code(
        session,
        endpoints(fake),
        "the-code",
        "the-verifier",
        KIRO_REDIRECT_URI,
        settings=SETTINGS,
        idp="github",
        clock=clock,
    )
    assert fake.calls == [
        (
            "/oauth/token",
            {
                "code": "the-code",
                "code_verifier": "the-verifier",
                "redirect_uri": KIRO_REDIRECT_URI,
            },
        )
    ]
    assert fake.headers[0]["User-Agent"] == f"KiroIDE-{SETTINGS.kiro_version}"
    assert cred.auth_method is AuthMethod.SOCIAL
    assert (cred.access_token, cred.refresh_token) == ("aoa-social", "aor-social")
    assert cred.profile_arn.endswith("profile/EHGA3GRVQMUK")
    assert cred.expires_at == NOW + timedelta(seconds=1800)
    assert cred.region == "us-east-1"
    assert cred.provider == "Github"


async def test_exchange_social_code_default_expiry(fake, session):
    fake.replies["/oauth/token"] = (200, {"accessToken": "a", "refreshToken": "r"})
    cred = await exchange_social_code(
        session, endpoints(fake), "c", "v", KIRO_REDIRECT_URI, clock=clock
    )
    assert cred.expires_at == NOW + timedelta(seconds=3600)
    assert cred.profile_arn is None


async def test_exchange_social_code_error(fake, session):
    fake.replies["/oauth/token"] = (
        400,
        {"error": "invalid_grant", "error_description": "bad code"},
    )
    with pytest.raises(LoginFailed, match="bad code"):
        await exchange_social_code(session, endpoints(fake), "c", "v", KIRO_REDIRECT_URI)


async def closed_port_endpoints() -> Endpoints:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return resolve_endpoints(UpstreamSettings(url=f"http://127.0.0.1:{port}"))


async def test_exchange_social_code_network_error(session):
    ep = await closed_port_endpoints()
    with pytest.raises(LoginFailed, match="exchanging the login code"):
        await exchange_social_code(session, ep, "c", "v", KIRO_REDIRECT_URI)


async def test_poll_retries_network_errors_until_deadline(session):
    ep = await closed_port_endpoints()
    time = FakeTime()
    states: list[str] = []
    with pytest.raises(LoginFailed, match="within 3s"):
        await poll_device_token(
            session,
            ep,
            SETTINGS,
            REG,
            authorization(expires_in=3),
            region="us-east-1",
            on_pending=lambda s, r: states.append(s),
            sleep=time.sleep,
            monotonic=time.monotonic,
        )
    assert states == ["retrying"] * 3

"""The credentials admin API (kiro.rs ``/api/admin``).

Most tests use a fake gateway with exactly the methods the routes call over a real
:class:`CredentialPool`; the last ones run a real :class:`Gateway` against the in-process
Kiro emulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from kirogate.api import admin
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.errors import UpstreamConnectionError, UpstreamThrottled
from kirogate.pool import CredentialPool
from kirogate.service import Gateway
from kirogate.settings import ServerSettings, Settings, load_settings
from kirogate.upstream.credentials import AuthMethod, Credential, secret_hash
from kirogate.upstream.usage import Balance
from tests.pool.fakes import FakeTime, make_pool

ADMIN_KEY = "admin-key-0123456789"
CLIENT_KEY = "client-key-0123456789"
REFRESH = "aorAAAA-refresh-token-one-" + "r" * 100
ACCESS = "aoaAAAA-access-token-one-" + "a" * 60
IDC_REFRESH = "aorAAAA-refresh-token-idc-" + "i" * 100
CLIENT_SECRET = "client-secret-value-" + "s" * 40
API_KEY = "ksk_" + "k" * 40
PROXY_PASSWORD = "proxy-pass-word-987654"
PROXY_URL = f"http://alice:{PROXY_PASSWORD}@proxy.example:8080"
SECRETS = (REFRESH, ACCESS, IDC_REFRESH, CLIENT_SECRET, API_KEY, PROXY_PASSWORD, PROXY_URL)


# ---------------------------------------------------------------- an ASGI caller


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


async def call(
    app: FastAPI,
    method: str,
    path: str,
    *,
    body: object = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request straight into the ASGI app (no sockets, no HTTP client library)."""
    data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    path_only, _, query = path.partition("?")
    header_list = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if data:
        header_list += [(b"content-type", b"application/json")]
        header_list += [(b"content-length", str(len(data)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": header_list,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    messages = [{"type": "http.request", "body": data, "more_body": False}]
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return Reply(out["status"], out["body"], out["headers"])


def key(value: str = ADMIN_KEY, *, bearer: bool = False) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"} if bearer else {"x-api-key": value}


# ---------------------------------------------------------------- the fake gateway


def balance(remaining: float = 90.0) -> Balance:
    return Balance(
        limit=100.0,
        used=100.0 - remaining,
        remaining=remaining,
        percent_used=100.0 - remaining,
        next_reset_at=datetime(2026, 6, 1, tzinfo=UTC),
        days_until_reset=18,
        subscription_title="KIRO PRO",
        subscription_type="PRO",
        free_trial=None,
        bonuses=(),
        email="user1@example.com",
        fetched_at=datetime(2026, 5, 14, 12, tzinfo=UTC),
    )


class FakeGateway:
    """The Gateway methods the admin routes call, over a real :class:`CredentialPool`."""

    def __init__(self, pool: CredentialPool, admin_key: str | None = ADMIN_KEY) -> None:
        server = ServerSettings(api_keys=(CLIENT_KEY,), admin_key=admin_key)
        self.settings = Settings(server=server)
        self.pool = pool
        self.balances: dict[int, Balance] = {}
        self.balance_error: Exception | None = None
        self.refresh_flags: list[bool] = []

    async def add_credential(self, credential: Credential) -> tuple[Credential, bool]:
        for existing in self.pool.credentials():
            if existing.fingerprint() == credential.fingerprint():
                return existing, False
        credential.id = None
        return self.pool.add(credential), True

    async def remove_credential(self, credential_id: int) -> None:
        self.pool.remove(credential_id)

    async def set_disabled(self, credential_id: int, disabled: bool) -> None:
        if disabled:
            self.pool.disable(credential_id, "disabled by an operator")
        else:
            self.pool.enable(credential_id)

    async def set_priority(self, credential_id: int, priority: int) -> None:
        self.pool.set_priority(credential_id, priority)

    async def reset_credential(self, credential_id: int) -> None:
        self.pool.reset(credential_id)

    async def balance(self, credential_id: int, *, refresh: bool = True) -> Balance:
        self.pool.get(credential_id)
        self.refresh_flags.append(refresh)
        if self.balance_error is not None:
            raise self.balance_error
        self.balances[credential_id] = balance()
        return self.balances[credential_id]

    def cached_balance(self, credential_id: int) -> Balance | None:
        return self.balances.get(credential_id)


def fixture_credentials() -> list[Credential]:
    return [
        Credential(
            AuthMethod.SOCIAL,
            refresh_token=REFRESH,
            access_token=ACCESS,
            expires_at=datetime(2026, 5, 14, 13, tzinfo=UTC),
            profile_arn="arn:aws:codewhisperer:us-east-1:1:profile/X",
            id=1,
            email="user1@example.com",
            proxy_url=PROXY_URL,
        ),
        Credential(
            AuthMethod.IDC,
            refresh_token=IDC_REFRESH,
            client_id="client-id-1",
            client_secret=CLIENT_SECRET,
            id=2,
            priority=1,
            proxy_password=PROXY_PASSWORD,
        ),
        Credential(AuthMethod.API_KEY, kiro_api_key=API_KEY, id=3, priority=2),
    ]


def app_for(gateway: object) -> FastAPI:
    app = FastAPI()
    app.state.gateway = gateway
    app.include_router(admin.router)
    return app


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def gateway(time: FakeTime) -> FakeGateway:
    return FakeGateway(make_pool(fixture_credentials(), time))


@pytest.fixture
def app(gateway: FakeGateway) -> FastAPI:
    return app_for(gateway)


ROUTES = [
    ("GET", "/api/admin/credentials", None),
    ("POST", "/api/admin/credentials", {"refreshToken": "x" * 120}),
    ("DELETE", "/api/admin/credentials/1", None),
    ("POST", "/api/admin/credentials/1/disabled", {"disabled": True}),
    ("POST", "/api/admin/credentials/1/priority", {"priority": 3}),
    ("POST", "/api/admin/credentials/1/reset", None),
    ("GET", "/api/admin/credentials/1/balance", None),
    ("GET", "/api/admin/config/load-balancing", None),
    ("PUT", "/api/admin/config/load-balancing", {"mode": "balanced"}),
]


# ---------------------------------------------------------------- switch and key


@pytest.mark.parametrize("configured", [None, "", "   "])
async def test_every_route_is_404_with_how_to_turn_it_on_when_no_admin_key(
    time: FakeTime, configured: str | None
) -> None:
    app = app_for(FakeGateway(make_pool(fixture_credentials(), time), admin_key=configured))
    for method, path, body in ROUTES:
        reply = await call(app, method, path, body=body, headers=key())
        assert reply.status == 404, path
        error = reply.json()["error"]
        assert error["type"] == "not_found"
        assert "--admin-key" in error["message"]
        assert "KIROGATE_ADMIN_KEY" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, key("wrong-key"), key(CLIENT_KEY), key(CLIENT_KEY, bearer=True), key(ADMIN_KEY + "x")],
)
async def test_every_route_refuses_a_missing_wrong_or_client_key(
    app: FastAPI, gateway: FakeGateway, headers: dict[str, str]
) -> None:
    for method, path, body in ROUTES:
        reply = await call(app, method, path, body=body, headers=headers)
        assert reply.status == 401, path
        assert reply.json() == {
            "error": {"type": "authentication_error", "message": admin.AUTH_MESSAGE}
        }
    assert len(gateway.pool) == 3  # nothing was changed


@pytest.mark.parametrize("bearer", [False, True])
async def test_admin_key_is_accepted_as_x_api_key_or_bearer(app: FastAPI, bearer: bool) -> None:
    reply = await call(app, "GET", "/api/admin/credentials", headers=key(bearer=bearer))
    assert reply.status == 200


# ---------------------------------------------------------------- listing


async def test_listing_has_the_kiro_rs_envelope_sorted_by_priority(app: FastAPI) -> None:
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    assert body["total"] == 3
    assert body["available"] == 3
    assert body["currentId"] is None
    assert body["mode"] == "priority"
    assert [row["id"] for row in body["credentials"]] == [1, 2, 3]


async def test_listing_row_shows_kiro_rs_fields_and_masks_secrets(app: FastAPI) -> None:
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    social, idc, api_key = body["credentials"]
    assert social["authMethod"] == "social"
    assert social["email"] == "user1@example.com"
    assert social["expiresAt"] == "2026-05-14T13:00:00.000Z"
    assert social["hasProfileArn"] is True
    assert social["refreshTokenHash"] == secret_hash(REFRESH)
    assert social["refreshTokenPreview"] == f"{REFRESH[:4]}…{REFRESH[-4:]}"
    assert social["hasProxy"] is True
    assert social["proxyUrl"] == "http://alice:***@proxy.example:8080"
    assert social["state"] == "ready"
    assert social["disabled"] is False
    assert (social["successCount"], social["errorCount"], social["failureCount"]) == (0, 0, 0)
    assert social["endpoint"] == "ide"
    assert idc["authMethod"] == "idc"
    assert idc["hasProxy"] is False
    assert api_key["authMethod"] == "api_key"
    assert api_key["refreshTokenHash"] is None
    assert api_key["apiKeyHash"] == secret_hash(API_KEY)
    assert api_key["maskedApiKey"] == "ksk_…kkkk"


async def test_listing_shows_cooling_and_disabled_reasons_counters_and_last_use(
    app: FastAPI, gateway: FakeGateway, time: FakeTime
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_success(lease)
    await lease.release()
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled("429 throttled", retry_after=30))
    await lease.release()
    gateway.pool.disable(2, "broken on purpose")
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    cooling, disabled, _ = body["credentials"]
    assert body["available"] == 2
    assert body["currentId"] == 1
    assert cooling["isCurrent"] is True
    assert cooling["state"] == "cooling"
    assert cooling["cooldownReason"] == "throttled"
    assert cooling["cooldownUntil"] == "2026-05-14T12:00:30.000Z"
    assert cooling["lastError"] == "429 throttled"
    assert (cooling["successCount"], cooling["errorCount"]) == (1, 1)
    assert cooling["lastUsedAt"] == "2026-05-14T12:00:00.000Z"
    assert cooling["disabledReason"] is None
    assert disabled["state"] == "disabled"
    assert disabled["disabled"] is True
    assert disabled["disabledReason"] == "manual"
    assert disabled["reasonDetail"] == "broken on purpose"


async def test_listing_includes_the_cached_balance(app: FastAPI, gateway: FakeGateway) -> None:
    gateway.balances[1] = balance(remaining=42.0)
    rows = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()["credentials"]
    assert rows[0]["balance"]["id"] == 1
    assert rows[0]["balance"]["remaining"] == 42.0
    assert rows[1]["balance"] is None


async def test_listing_scrubs_a_secret_out_of_an_error_message(
    app: FastAPI, gateway: FakeGateway
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamConnectionError(f"proxy {PROXY_URL} refused"))
    await lease.release()
    reply = await call(app, "GET", "/api/admin/credentials", headers=key())
    assert PROXY_PASSWORD not in reply.text
    assert "proxy http://alice:prox…" in reply.json()["credentials"][0]["lastError"]


# ---------------------------------------------------------------- adding


async def test_add_builds_the_credential_like_a_kiro_rs_entry(
    app: FastAPI, gateway: FakeGateway
) -> None:
    body = {
        "refreshToken": "aorAAAA-new-" + "n" * 100,
        "authMethod": "idc",
        "clientId": "cid",
        "clientSecret": "csecret",
        "priority": 4,
        "authRegion": "eu-west-1",
        "apiRegion": "us-east-1",
        "email": "new@example.com",
        "machineId": "0123456789abcdef" * 4,
        "proxyUrl": "socks5://proxy.local:1080",
        "id": 99,  # ignored: the pool assigns ids, as kiro.rs does
    }
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 200
    assert reply.json() == {
        "success": True,
        "message": "credential #4 added",
        "credentialId": 4,
        "email": "new@example.com",
    }
    added = gateway.pool.get(4)
    assert added.auth_method is AuthMethod.IDC
    assert (added.client_id, added.client_secret) == ("cid", "csecret")
    assert (added.priority, added.auth_region, added.api_region) == (4, "eu-west-1", "us-east-1")
    assert added.proxy_url == "socks5://proxy.local:1080"
    assert gateway.pool.state_of(4).priority == 4


async def test_add_accepts_an_api_key_credential(app: FastAPI, gateway: FakeGateway) -> None:
    body = {"kiroApiKey": "ksk_" + "z" * 40}
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 200
    assert gateway.pool.get(reply.json()["credentialId"]).auth_method is AuthMethod.API_KEY


async def test_add_of_a_known_credential_is_400_naming_the_existing_id(
    app: FastAPI, gateway: FakeGateway
) -> None:
    body = {"refreshToken": REFRESH, "authMethod": "social"}
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert "already in the pool as #1" in error["message"]
    assert REFRESH not in reply.text
    assert len(gateway.pool) == 3


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"authMethod": "social"}, "refreshToken"),
        ({"refreshToken": "abc...def" + "x" * 100}, "refreshToken"),
        ({"refreshToken": "r" * 120, "authMethod": "idc", "clientId": "c"}, "clientSecret"),
        ({"refreshToken": "r" * 120, "authMethod": "carrier-pigeon"}, "authMethod"),
        ({"refreshToken": "r" * 120, "priority": -1}, "priority"),
        ({"refreshToken": "r" * 120, "priority": "high"}, "priority"),
        ({"refreshToken": 12345}, "refreshToken"),
        ({"refreshToken": "r" * 120, "proxyUrl": "ftp://proxy"}, "proxyUrl"),
        ({"refreshToken": "r" * 120, "expiresAt": "tomorrow"}, "expiresAt"),
        ({"authMethod": "api_key"}, "kiroApiKey"),
        ({"refreshToken": "r" * 120, "machineId": "not-a-machine-id"}, "machineId"),
        ({"authMethod": "api_key", "kiroApiKey": "ksk_a\r\nX-Injected: 1"}, "kiroApiKey"),
        ({"refreshToken": "r" * 120, "region": "us-east-1.evil/"}, "region"),
        ({"refreshToken": "r" * 120, "proxyUrl": "http://p:1/\r\nx"}, "proxyUrl"),
    ],
)
async def test_add_rejects_a_bad_field_with_400_naming_it(
    app: FastAPI, gateway: FakeGateway, body: dict[str, Any], field_name: str
) -> None:
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert f"'{field_name}'" in error["message"]
    assert len(gateway.pool) == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'[{"refreshToken": "x"}]', "JSON object"),
        (b'"text"', "JSON object"),
    ],
)
async def test_add_rejects_a_body_that_is_not_a_json_object(
    app: FastAPI, raw: bytes, expected: str
) -> None:
    reply = await call(app, "POST", "/api/admin/credentials", raw=raw, headers=key())
    assert reply.status == 400
    assert expected in reply.json()["error"]["message"]


async def test_add_error_never_echoes_a_proxy_password(app: FastAPI) -> None:
    body = {"refreshToken": "r" * 120, "proxyUrl": "ftp://bob:hunter2-very-secret@proxy:21"}
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 400
    assert "hunter2-very-secret" not in reply.text
    assert "proxyUrl" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- changing one credential


async def test_delete_refuses_an_enabled_credential(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(app, "DELETE", "/api/admin/credentials/1", headers=key())
    assert reply.status == 400
    assert "disable it first" in reply.json()["error"]["message"]
    assert len(gateway.pool) == 3


async def test_delete_removes_a_disabled_credential(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(
        app, "POST", "/api/admin/credentials/2/disabled", body={"disabled": True}, headers=key()
    )
    assert reply.json() == {"success": True, "message": "credential #2 disabled"}
    reply = await call(app, "DELETE", "/api/admin/credentials/2", headers=key())
    assert reply.json() == {"success": True, "message": "credential #2 deleted"}
    assert [c.id for c in gateway.pool.credentials()] == [1, 3]


async def test_enable_brings_a_disabled_credential_back(app: FastAPI, gateway: FakeGateway) -> None:
    gateway.pool.disable(1, "manual")
    reply = await call(
        app, "POST", "/api/admin/credentials/1/disabled", body={"disabled": False}, headers=key()
    )
    assert reply.json()["message"] == "credential #1 enabled"
    assert not gateway.pool.state_of(1).disabled


async def test_priority_is_set(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(
        app, "POST", "/api/admin/credentials/3/priority", body={"priority": 0}, headers=key()
    )
    assert reply.json() == {"success": True, "message": "credential #3 priority set to 0"}
    assert gateway.pool.state_of(3).priority == 0


async def test_reset_lifts_cooldown_and_disable(app: FastAPI, gateway: FakeGateway) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled("429", retry_after=60))
    await lease.release()
    gateway.pool.disable(1, "manual")
    reply = await call(app, "POST", "/api/admin/credentials/1/reset", headers=key())
    assert reply.json()["success"] is True
    row = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    assert row["credentials"][0]["state"] == "ready"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/disabled", {}, "'disabled' must be true or false (it is missing)"),
        ("/disabled", {"disabled": "true"}, "'disabled' must be true or false (got a string)"),
        ("/disabled", {"disabled": 1}, "(got a number)"),
        ("/priority", {}, "'priority' must be an integer (it is missing)"),
        ("/priority", {"priority": True}, "(got a boolean)"),
        ("/priority", {"priority": 1.5}, "(got a number)"),
        ("/priority", {"priority": None}, "(got null)"),
        ("/priority", {"priority": -1}, "between 0 and 4294967295, got -1"),
        ("/priority", {"priority": 2**32}, "between 0 and 4294967295"),
    ],
)
async def test_bad_bodies_are_400_not_422(
    app: FastAPI, path: str, body: dict[str, Any], expected: str
) -> None:
    reply = await call(app, "POST", f"/api/admin/credentials/1{path}", body=body, headers=key())
    assert reply.status == 400
    assert reply.json()["error"]["type"] == "invalid_request"
    assert expected in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("DELETE", "", None),
        ("POST", "/disabled", {"disabled": True}),
        ("POST", "/priority", {"priority": 1}),
        ("POST", "/reset", None),
        ("GET", "/balance", None),
    ],
)
async def test_unknown_id_is_404_and_a_non_number_is_400(
    app: FastAPI, method: str, suffix: str, body: object
) -> None:
    reply = await call(app, method, f"/api/admin/credentials/77{suffix}", body=body, headers=key())
    assert reply.status == 404
    assert reply.json()["error"] == {
        "type": "not_found",
        "message": "credential #77 is not in the pool",
    }
    reply = await call(app, method, f"/api/admin/credentials/abc{suffix}", body=body, headers=key())
    assert reply.status == 400
    assert "credential id 'abc' is not a number" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- balance and mode


async def test_balance_has_kiro_rs_keys_and_is_cached(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    body = reply.json()
    assert reply.status == 200
    assert list(body)[:7] == [
        "id",
        "subscriptionTitle",
        "currentUsage",
        "usageLimit",
        "remaining",
        "usagePercentage",
        "nextResetAt",
    ]
    assert (body["id"], body["remaining"], body["usageLimit"]) == (1, 90.0, 100.0)
    assert body["nextResetAt"] == datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    assert gateway.refresh_flags == [True]
    await call(app, "GET", "/api/admin/credentials/1/balance?refresh=false", headers=key())
    assert gateway.refresh_flags == [True, False]


async def test_balance_rejects_a_bad_refresh_flag(app: FastAPI) -> None:
    reply = await call(app, "GET", "/api/admin/credentials/1/balance?refresh=maybe", headers=key())
    assert reply.status == 400
    assert "'refresh' must be true or false" in reply.json()["error"]["message"]


async def test_balance_upstream_failure_is_502_api_error(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.balance_error = UpstreamConnectionError("cannot reach the usage endpoint")
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    assert reply.status == 502
    assert reply.json() == {
        "error": {"type": "api_error", "message": "cannot reach the usage endpoint"}
    }


async def test_an_unexpected_error_is_500_internal_error_without_details(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.balance_error = RuntimeError(f"boom {ACCESS}")
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    assert reply.status == 500
    assert reply.json() == {
        "error": {"type": "internal_error", "message": "internal error: RuntimeError"}
    }


async def test_load_balancing_mode_is_read_and_switched(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(app, "GET", "/api/admin/config/load-balancing", headers=key())
    assert reply.json() == {"mode": "priority"}
    reply = await call(
        app, "PUT", "/api/admin/config/load-balancing", body={"mode": "balanced"}, headers=key()
    )
    assert reply.json() == {"mode": "balanced"}
    assert gateway.pool.mode.value == "balanced"
    reply = await call(
        app, "PUT", "/api/admin/config/load-balancing", body={"mode": "round-robin"}, headers=key()
    )
    assert reply.json() == {"mode": "round_robin"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"mode": "fastest"}, "unknown pool mode 'fastest'"), ({}, "'mode' must be one of")],
)
async def test_load_balancing_rejects_an_unknown_mode(
    app: FastAPI, gateway: FakeGateway, body: dict[str, Any], expected: str
) -> None:
    reply = await call(app, "PUT", "/api/admin/config/load-balancing", body=body, headers=key())
    assert reply.status == 400
    assert expected in reply.json()["error"]["message"]
    assert gateway.pool.mode.value == "priority"


# ---------------------------------------------------------------- no secret, anywhere


async def test_no_secret_of_the_fixture_appears_in_any_admin_response(
    app: FastAPI, gateway: FakeGateway
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled(f"429 for {ACCESS} via {PROXY_URL}"))
    await lease.release()
    gateway.balances[1] = balance()
    replies = [await call(app, m, p, body=b, headers=key()) for m, p, b in ROUTES]
    bad_adds = [
        {"refreshToken": REFRESH},
        {"kiroApiKey": API_KEY},
        {"refreshToken": "r" * 120, "proxyUrl": f"ftp://u:{PROXY_PASSWORD}@x"},
        {"refreshToken": CLIENT_SECRET + "...", "authMethod": "social"},
        {"refreshToken": IDC_REFRESH, "authMethod": "idc", "clientId": "c"},
    ]
    for body in bad_adds:
        replies.append(await call(app, "POST", "/api/admin/credentials", body=body, headers=key()))
    for cid in (1, 2, 3):
        for suffix in ("/balance", "/reset"):
            method = "GET" if suffix == "/balance" else "POST"
            replies.append(
                await call(app, method, f"/api/admin/credentials/{cid}{suffix}", headers=key())
            )
    replies.append(await call(app, "GET", "/api/admin/credentials", headers=key()))
    assert all(reply.status < 500 for reply in replies)
    for reply in replies:
        for secret in SECRETS:
            assert secret not in reply.text


# ---------------------------------------------------------------- a real Gateway on the emulator


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Gateway, RunningEmulator]]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(
        refresh_token=REFRESH, auth_method="social", usage={"currentUsage": 12.5}
    )
    overrides = {
        "upstream.url": emulator.url,
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1, email="one@x.test")
    gateway = Gateway(load_settings({}, overrides), [credential])
    await gateway.start()
    try:
        yield app_for(gateway), gateway, emulator
    finally:
        await gateway.close()
        await emulator.close()


async def test_real_gateway_balance_comes_from_the_emulator_and_is_listed(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, gateway, _ = live
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["id"] == 1
    assert body["subscriptionTitle"] == "KIRO FREE"
    assert body["currentUsage"] == 12.5
    assert body["remaining"] == body["usageLimit"] - 12.5
    listing = await call(app, "GET", "/api/admin/credentials", headers=key())
    row = listing.json()["credentials"][0]
    assert row["balance"]["remaining"] == body["remaining"]
    assert row["hasProfileArn"] is True
    assert row["expiresAt"] is not None
    credential = gateway.pool.get(1)
    for secret in (credential.access_token, credential.refresh_token):
        assert secret
        assert secret not in reply.text
        assert secret not in listing.text


async def test_real_gateway_add_disable_delete_round_trip(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, gateway, _ = live
    new = {"refreshToken": "aorAAAA-second-" + "2" * 100, "authMethod": "social", "priority": 2}
    reply = await call(app, "POST", "/api/admin/credentials", body=new, headers=key())
    assert reply.status == 200, reply.text
    cid = reply.json()["credentialId"]
    again = await call(app, "POST", "/api/admin/credentials", body=new, headers=key())
    assert again.status == 400
    assert f"#{cid}" in again.json()["error"]["message"]
    balance_reply = await call(app, "GET", f"/api/admin/credentials/{cid}/balance", headers=key())
    assert balance_reply.status == 200, balance_reply.text
    refused = await call(app, "DELETE", f"/api/admin/credentials/{cid}", headers=key())
    assert refused.status == 400
    path = f"/api/admin/credentials/{cid}/disabled"
    await call(app, "POST", path, body={"disabled": True}, headers=key())
    assert gateway.pool.state_of(cid).disabled
    deleted = await call(app, "DELETE", f"/api/admin/credentials/{cid}", headers=key())
    assert deleted.status == 200
    assert [c.id for c in gateway.pool.credentials()] == [1]


async def test_real_gateway_dead_refresh_token_balance_is_400(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, _, _ = live
    dead = {"refreshToken": "aorAAAA-revoked-" + "d" * 100, "authMethod": "social"}
    cid = (await call(app, "POST", "/api/admin/credentials", body=dead, headers=key())).json()[
        "credentialId"
    ]
    reply = await call(app, "GET", f"/api/admin/credentials/{cid}/balance", headers=key())
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["type"] == "invalid_request"
    assert dead["refreshToken"] not in reply.text


async def test_real_gateway_mode_switch_reaches_the_pool(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, gateway, _ = live
    body = {"mode": "round_robin"}
    reply = await call(app, "PUT", "/api/admin/config/load-balancing", body=body, headers=key())
    assert reply.json() == {"mode": "round_robin"}
    assert gateway.pool.mode.value == "round_robin"


async def test_unknown_admin_path_and_method_use_the_admin_error_shape() -> None:
    from kirogate.api.app import create_app
    from kirogate.service import Gateway
    from kirogate.settings import ServerSettings, Settings

    gateway = Gateway(Settings(server=ServerSettings(admin_key="adm-key-123456")), [])
    app = create_app(gateway)
    for method, path, status in (
        ("GET", "/api/admin/nothing-here", 404),
        ("DELETE", "/api/admin/credentials", 405),
    ):
        response = await call(app, method, path, headers={"x-api-key": "adm-key-123456"})
        assert response.status == status
        body = json.loads(response.body)
        assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}

"""Shared by the admin API tests: an ASGI caller, the fixture credentials and a fake gateway
whose real operations work over a real :class:`CredentialPool` (balances faked)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from kirogate import admin
from kirogate.pool import CredentialPool
from kirogate.service.operations import Operations
from kirogate.settings import ServerSettings, Settings, UpstreamSettings
from kirogate.upstream.auth.refresh import TokenManager
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.usage import Balance

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
    client: str = "127.0.0.1",
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
        "client": (client, 50000),
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


class FakeOperations(Operations):
    """The real operations over the fake gateway's pool, with balances faked (no upstream)."""

    def __init__(self, gateway: FakeGateway) -> None:
        async def unused(credential: Credential) -> str:
            raise AssertionError("no upstream in these tests")

        tokens = TokenManager(UpstreamSettings(), lambda credential: None)  # type: ignore[arg-type,return-value]
        super().__init__(lambda: gateway.pool, tokens, None, unused, store=lambda: None)  # type: ignore[arg-type]
        self.gateway = gateway

    async def balance(self, credential_id: int, *, refresh: bool = True) -> Balance:
        gateway = self.gateway
        gateway.pool.get(credential_id)
        gateway.refresh_flags.append(refresh)
        if gateway.balance_error is not None:
            raise gateway.balance_error
        gateway.balances[credential_id] = balance()
        return gateway.balances[credential_id]

    def cached_balance(self, credential_id: int) -> Balance | None:
        return self.gateway.balances.get(credential_id)


class FakeGateway:
    """What the admin routes use of a Gateway: settings and its operations, over a real
    :class:`CredentialPool`."""

    def __init__(self, pool: CredentialPool, admin_key: str | None = ADMIN_KEY) -> None:
        server = ServerSettings(api_keys=(CLIENT_KEY,), admin_key=admin_key)
        self.settings = Settings(server=server)
        self.pool = pool
        self.balances: dict[int, Balance] = {}
        self.balance_error: Exception | None = None
        self.refresh_flags: list[bool] = []
        self.operations = FakeOperations(self)


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

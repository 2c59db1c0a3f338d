"""Access checks of the client routes: keys from settings and store, blocked IPs, rate limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from starlette.requests import Request

from kirogate.api.access import AccessControl
from kirogate.errors import AuthenticationFailed, PermissionDenied, RateLimited
from kirogate.settings import Settings


@dataclass
class FakeStore:
    keys: set[str] = field(default_factory=set)
    blocked: list[tuple[str, str | None]] = field(default_factory=list)
    lookups: int = 0

    async def verify_api_key(self, plaintext: str) -> Any:
        self.lookups += 1
        return object() if plaintext in self.keys else None

    async def blocked_ips(self) -> list[tuple[str, str | None]]:
        return self.blocked


@dataclass
class FakeGateway:
    settings: Settings
    store: FakeStore | None = None
    cluster: Any = None


def settings(keys: tuple[str, ...] = (), rpm: int = 0) -> Settings:
    base = Settings()
    return replace(base, server=replace(base.server, api_keys=keys, rate_limit_rpm=rpm))


def request(key: str | None = None, client: str = "10.0.0.1", bearer: bool = False) -> Request:
    headers = []
    if key is not None:
        headers = (
            [(b"authorization", f"Bearer {key}".encode())]
            if bearer
            else [(b"x-api-key", key.encode())]
        )
    return Request({"type": "http", "headers": headers, "client": (client, 1234)})


async def test_open_when_no_key_is_configured_anywhere() -> None:
    await AccessControl(FakeGateway(settings())).check(request())  # type: ignore[arg-type]


async def test_settings_key_accepted_without_touching_the_store() -> None:
    store = FakeStore()
    access = AccessControl(FakeGateway(settings(("k1",)), store))  # type: ignore[arg-type]
    await access.check(request("k1", bearer=True))
    assert store.lookups == 0


async def test_missing_and_wrong_keys_are_401() -> None:
    access = AccessControl(FakeGateway(settings(("k1",))))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed, match="missing API key"):
        await access.check(request())
    with pytest.raises(AuthenticationFailed, match="invalid API key"):
        await access.check(request("nope"))


async def test_stored_key_accepted_and_cached() -> None:
    store = FakeStore(keys={"stored"})
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    for _ in range(5):
        await access.check(request("stored"))
    assert store.lookups == 1
    with pytest.raises(AuthenticationFailed):
        await access.check(request("other"))
    access.forget()
    await access.check(request("stored"))
    assert store.lookups == 3


async def test_blocked_address_is_403() -> None:
    store = FakeStore(keys={"k"}, blocked=[("10.0.0.9", "abuse")])
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    await access.check(request("k", client="10.0.0.1"))
    with pytest.raises(PermissionDenied, match="blocked"):
        await access.check(request("k", client="10.0.0.9"))


async def test_rate_limit_per_key_with_retry_after() -> None:
    access = AccessControl(FakeGateway(settings(("a", "b"), rpm=2)))  # type: ignore[arg-type]
    await access.check(request("a"))
    await access.check(request("a"))
    with pytest.raises(RateLimited) as caught:
        await access.check(request("a"))
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60
    await access.check(request("b"))  # another key has its own budget


class SlowBlockedStore(FakeStore):
    """Counts blocked-list queries; each one waits until released."""

    def __init__(self) -> None:
        super().__init__(keys={"k"})
        self.queries = 0
        self.release: asyncio.Event | None = None
        self.fail = False

    async def blocked_ips(self) -> list[tuple[str, str | None]]:
        self.queries += 1
        if self.release is None:
            self.release = asyncio.Event()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("database down")
        return self.blocked


async def test_concurrent_requests_share_one_blocked_list_reload() -> None:
    store = SlowBlockedStore()
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    first = asyncio.ensure_future(access.check(request("k")))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(access.check(request("k"))) for _ in range(20)]
    await asyncio.gather(*others)  # served with the list in hand, not waiting for the query
    store.release.set()
    await first
    assert store.queries == 1


async def test_a_failed_blocked_list_reload_is_retried_by_the_next_request() -> None:
    store = SlowBlockedStore()
    store.fail = True
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    store.release = asyncio.Event()
    store.release.set()
    with pytest.raises(RuntimeError):
        await access.check(request("k"))
    store.fail = False
    await access.check(request("k"))
    assert store.queries == 2

"""Credential groups through the service's door, end to end: a request whose caller is bound
to a group is served by the group's credentials on the emulator, and a group changed through
one gateway is used by another sharing its PostgreSQL store within a second."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.caller import CALLER, Caller
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.errors import InvalidRequest, NotFound
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.admin.fakes import ADMIN_KEY, app_for, call, key
from tests.store.conftest import pg_database, pg_url, reset_pg_schema

__all__ = ["pg_database"]  # the fixture, used by name below

CLIENT_KEY = "sk-client-groups-key"
MODEL = "claude-sonnet-4-6"
SEEN_WITHIN = 1.0


def refresh(n: int) -> str:
    return f"aorAAAA-refresh-token-group-{n}-" + "r" * 100


@contextlib.contextmanager
def caller_group(group: str | None) -> Iterator[None]:
    token = CALLER.set(Caller(key_id=9, key_name="team", group=group))
    try:
        yield
    finally:
        CALLER.reset(token)


@contextlib.asynccontextmanager
async def emulated(
    tmp_path: Path, count: int = 3, **overrides: Any
) -> AsyncIterator[tuple[Gateway, RunningEmulator, list[str]]]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    accounts = [
        emulator.state.register_credential(refresh_token=refresh(n), auth_method="social").id
        for n in range(1, count + 1)
    ]
    settings = load_settings(
        {},
        {
            "upstream.url": emulator.url,
            "upstream.usage_interval": 0,
            "server.admin_key": ADMIN_KEY,
            "data_dir": tmp_path,
            **overrides,
        },
    )
    # No client key: the open gateway leaves the test's CALLER in place (an accepted key
    # would set its own, without a group).
    credentials = [
        Credential(AuthMethod.SOCIAL, refresh_token=refresh(n), id=n) for n in range(1, count + 1)
    ]
    gateway = Gateway(settings, credentials)
    await gateway.start()
    try:
        yield gateway, emulator, accounts
    finally:
        await gateway.close()
        await emulator.close()


def served(emulator: RunningEmulator, accounts: list[str]) -> list[int]:
    """Data-plane requests per account, in credential order."""
    return [emulator.state.find_account(account_id=a).requests for a in accounts]  # type: ignore[union-attr]


async def ask(http: httpx2.AsyncClient, path: str = "/v1/messages") -> httpx2.Response:
    if path == "/v1/chat/completions":
        body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    else:
        body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    return await http.post(path, json=body, headers={"x-api-key": CLIENT_KEY})


@contextlib.asynccontextmanager
async def client(gateway: Gateway) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_group_bound_request_is_served_by_the_groups_credentials(tmp_path: Path) -> None:
    async with emulated(tmp_path, **{"pool.mode": "round_robin"}) as (gateway, emulator, accounts):
        operations = gateway.operations
        await operations.create_group("team", "Team A")
        await operations.set_group_members("team", [2, 3])
        assert gateway.pool.groups() == {"team": frozenset({2, 3})}  # at once, no store
        async with client(gateway) as http:
            with caller_group("team"):
                for _ in range(6):
                    assert (await ask(http)).status_code == 200
            assert served(emulator, accounts) == [0, 3, 3]
            with caller_group(None):
                for _ in range(3):
                    assert (await ask(http)).status_code == 200
            assert served(emulator, accounts)[0] >= 1


async def test_a_group_with_nothing_usable_answers_503_in_the_clients_dialect(
    tmp_path: Path,
) -> None:
    async with emulated(tmp_path) as (gateway, emulator, accounts):
        await gateway.operations.create_group("empty")
        async with client(gateway) as http:
            with caller_group("empty"):
                anthropic = await ask(http)
                openai = await ask(http, "/v1/chat/completions")
            with caller_group("deleted-long-ago"):
                unknown = await ask(http)
        assert anthropic.status_code == 503
        error = anthropic.json()["error"]
        assert error["type"] == "overloaded_error"
        assert "credential group 'empty' has no usable credential" in error["message"]
        assert openai.status_code == 503
        assert openai.json()["error"]["code"] == "credential_group_unavailable"
        assert unknown.status_code == 503
        assert "no such group" in unknown.json()["error"]["message"]
        assert served(emulator, accounts) == [0, 0, 0]


async def test_disabled_group_credentials_are_not_replaced_by_others(tmp_path: Path) -> None:
    async with emulated(tmp_path) as (gateway, emulator, accounts):
        await gateway.operations.create_group("team")
        await gateway.operations.set_group_members("team", [3])
        await gateway.operations.set_disabled(3, True)
        async with client(gateway) as http:
            with caller_group("team"):
                answer = await ask(http)
        assert answer.status_code == 503
        assert served(emulator, accounts) == [0, 0, 0]


async def test_memory_groups_follow_the_stores_rules(tmp_path: Path) -> None:
    async with emulated(tmp_path, count=2) as (gateway, _emulator, _accounts):
        operations = gateway.operations
        group = await operations.create_group("team")
        assert group.credential_ids == ()
        with pytest.raises(InvalidRequest) as caught:
            await operations.create_group("team")
        assert caught.value.param == "name"
        with pytest.raises(InvalidRequest) as caught:
            await operations.set_group_members("team", [1, 7])
        assert caught.value.param == "ids" and "#7" in caught.value.message
        assert (await operations.add_group_members("team", [2, 1])).credential_ids == (1, 2)
        assert (await operations.remove_group_member("team", 1)).credential_ids == (2,)
        with pytest.raises(NotFound):
            await operations.remove_group_member("team", 1)
        updated = await operations.update_group("team", description="d")
        assert updated.description == "d"
        assert await operations.group_exists("team")
        assert await operations.group_names() == ["team"]
        assert [g.name for g in await operations.list_groups()] == ["team"]
        assert (await operations.get_group("team")).credential_ids == (2,)
        await operations.create_group("other")
        await operations.set_group_members("other", [2])
        assert operations.groups_by_credential() == {2: ["other", "team"]}
        await operations.delete_group("other")
        await operations.delete_group("team")
        assert not await operations.group_exists("team")
        assert gateway.pool.groups() == {}
        with pytest.raises(NotFound):
            await operations.get_group("bad name")


async def test_a_persistent_gateway_loads_its_groups_at_start(tmp_path: Path) -> None:
    settings = load_settings({}, {"data_dir": tmp_path, "upstream.usage_interval": 0})
    credential = Credential(AuthMethod.SOCIAL, refresh_token=refresh(1))
    first = Gateway(settings, [credential], persistent=True)
    await first.start()
    try:
        (cid,) = [c.id for c in first.pool.credentials()]
        assert cid is not None
        await first.operations.create_group("team")
        await first.operations.set_group_members("team", [cid])
        assert first.pool.groups() == {"team": frozenset({cid})}
    finally:
        await first.close()
    second = Gateway(settings, [credential], persistent=True)
    await second.start()
    try:
        assert second.pool.groups() == {"team": frozenset({cid})}
    finally:
        await second.close()


async def eventually(check: Any, within: float = SEEN_WITHIN) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"not seen within {within}s")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("redis", [False, True], ids=["postgresql", "postgresql+redis"])
async def test_a_group_changed_through_one_gateway_is_used_by_another_within_a_second(
    tmp_path: Path, pg_database: str, redis: bool
) -> None:
    await reset_pg_schema(pg_database)
    pg_database_url = pg_url(pg_database)
    emulator = await start_emulator(EmulatorConfig(port=0))
    accounts = [
        emulator.state.register_credential(refresh_token=refresh(n), auth_method="social").id
        for n in (1, 2)
    ]
    overrides: dict[str, Any] = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "server.admin_key": ADMIN_KEY,
        "database_url": pg_database_url,
        "secret_key": "groups-shared-secret-key",
        "data_dir": tmp_path,
    }
    if redis:
        overrides["redis_url"] = "redis://127.0.0.1:6379/4"
    settings = load_settings({}, overrides)
    credentials = [Credential(AuthMethod.SOCIAL, refresh_token=refresh(n)) for n in (1, 2)]
    one = Gateway(settings, credentials, persistent=True)
    await one.start()
    two = Gateway(settings, credentials, persistent=True)
    await two.start()
    try:
        ids = sorted(c.id for c in one.pool.credentials() if c.id is not None)
        admin_one, admin_two = app_for(one), app_for(two)
        made = await call(admin_one, "POST", "/api/admin/groups", body={"name": "team"},
                          headers=key())  # fmt: skip
        assert made.status == 201
        put = await call(admin_one, "PUT", "/api/admin/groups/team/credentials",
                         body={"ids": [ids[1]]}, headers=key())  # fmt: skip
        assert put.status == 200
        await eventually(lambda: two.pool.groups() == {"team": frozenset({ids[1]})})
        seen = await call(admin_two, "GET", "/api/admin/groups/team", headers=key())
        assert seen.json()["credential_ids"] == [ids[1]]
        # A client key bound to the group, made through one gateway, used on the other.
        made_key = await call(admin_one, "POST", "/api/admin/keys",
                              body={"name": "team key", "group": "team"}, headers=key())  # fmt: skip
        assert made_key.status == 201
        team_key = made_key.json()["key"]
        async with client(two) as http:
            for _ in range(3):
                reply = await http.post(
                    "/v1/messages",
                    json={"model": MODEL, "max_tokens": 16,
                          "messages": [{"role": "user", "content": "hi"}]},
                    headers={"x-api-key": team_key},
                )  # fmt: skip
                assert reply.status_code == 200
        assert served(emulator, accounts) == [0, 3]
        deleted = await call(admin_one, "DELETE", "/api/admin/groups/team", headers=key())
        assert deleted.status == 200
        await eventually(lambda: two.pool.groups() == {})
    finally:
        await two.close()
        await one.close()
        await emulator.close()


def _port_in_range(taken: set[int]) -> int:
    """A free port of this suite's private range (21100-21199)."""
    import socket

    for port in range(21100, 21200):
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in 21100-21199")


def _admin(url: str, method: str, path: str, body: object = None) -> Any:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{url}/api/admin{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-api-key": ADMIN_KEY, "content-type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_two_serve_processes_on_postgresql_see_a_group_change_within_a_second(
    tmp_path: Path, pg_database: str
) -> None:
    import json
    import time

    from tests.live import clean_env, running

    asyncio.run(reset_pg_schema(pg_database))
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    env["KIROGATE_SECRET_KEY"] = "groups-two-process-secret"  # both decrypt what either stored
    creds = tmp_path / "credentials.json"
    creds.write_text(
        json.dumps([{"refreshToken": refresh(n), "authMethod": "social"} for n in (1, 2)])
    )
    taken: set[int] = set()
    emu, port_a, port_b = (_port_in_range(taken) for _ in range(3))
    emulator_url = f"http://127.0.0.1:{emu}"

    def serve(port: int, name: str) -> list[str]:
        return [
            "serve", "--port", str(port), "--api-key", CLIENT_KEY, "--admin-key", ADMIN_KEY,
            "--credentials", str(creds), "--upstream-url", emulator_url,
            "--data-dir", str(tmp_path / name), "--database-url", pg_url(pg_database),
            "--log-level", "warning", "--set", "upstream.usage_interval=0",
        ]  # fmt: skip

    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    with (
        running(["emulator", "--port", str(emu)], f"{emulator_url}/_emulator/stats", env),
        running(serve(port_a, "a"), f"{a}/health", env),
        running(serve(port_b, "b"), f"{b}/health", env),
    ):
        ids = sorted(row["id"] for row in _admin(a, "GET", "/credentials")["credentials"])
        assert len(ids) == 2
        _admin(a, "POST", "/groups", {"name": "team", "description": "Team A"})
        _admin(a, "PUT", "/groups/team/credentials", {"ids": [ids[1]]})
        started = time.monotonic()
        while _admin(b, "GET", "/groups/team")["credential_ids"] != [ids[1]]:
            assert time.monotonic() - started < SEEN_WITHIN, "B did not see the change"
            time.sleep(0.05)
        listed = _admin(b, "GET", "/groups")
        assert listed["groups"][0]["description"] == "Team A"

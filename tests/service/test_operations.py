"""The one door for operator actions, opened over the store alone (as the command line does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from kirogate.errors import (
    ConfigError,
    CredentialSourceError,
    InvalidRequest,
    NotFound,
    StoreUnavailable,
)
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.proxies import ProxyEntry, ProxyPool
from kirogate.pool.state import DisableReason
from kirogate.service.operations import NOTICE_CHANNEL, Operations
from kirogate.settings import Settings
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin


def credential(token: str = "aorAAAA-refresh-" + "r" * 80) -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token=token)


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[Operations]:
    async with Operations.open(Settings(data_dir=tmp_path)) as operations:
        yield operations


async def test_add_stores_the_credential_once(ops: Operations) -> None:
    stored, created = await ops.add(credential())
    again, created_again = await ops.add(credential())
    assert created and not created_again and again.id == stored.id
    assert [c.id for c in await ops.stored_credentials()] == [stored.id]


async def test_add_applies_the_admin_api_rule_for_a_missing_refresh_token(ops: Operations) -> None:
    with pytest.raises(InvalidRequest, match="refreshToken is required"):
        await ops.add(Credential(AuthMethod.SOCIAL))


async def test_remove_refuses_an_enabled_credential_unless_confirmed(ops: Operations) -> None:
    stored, _ = await ops.add(credential())
    assert stored.id is not None
    with pytest.raises(InvalidRequest, match="disable it first"):
        await ops.remove(stored.id)
    removed = await ops.remove(stored.id, confirmed=True)
    assert removed.id == stored.id and await ops.stored_credentials() == []


async def test_remove_of_a_disabled_credential_needs_no_confirmation(ops: Operations) -> None:
    stored, _ = await ops.add(credential())
    assert stored.id is not None
    await ops.set_disabled(stored.id, True)
    await ops.remove(stored.id)
    assert await ops.stored_credentials() == []


async def test_disable_records_the_reason_and_enable_clears_it(ops: Operations) -> None:
    stored, _ = await ops.add(credential())
    assert stored.id is not None
    await ops.set_disabled(stored.id, True, reason="holiday")
    state = (await ops.stored_states())[stored.id]
    assert state.disabled_reason is DisableReason.MANUAL and state.disabled_detail == "holiday"
    await ops.set_disabled(stored.id, False)
    assert (await ops.stored_states())[stored.id].disabled_reason is None


async def test_an_unknown_credential_is_not_found(ops: Operations) -> None:
    with pytest.raises(NotFound):
        await ops.set_disabled(9, True)


@pytest.mark.parametrize("priority", [-1, 2**31])
async def test_set_priority_rejects_what_the_store_cannot_hold(
    ops: Operations, priority: int
) -> None:
    with pytest.raises(InvalidRequest, match="between 0 and 2147483647"):
        await ops.set_priority(1, priority)


class StoreAway:
    """A store whose every write fails as a stopped database's would."""

    async def update_credential(self, credential_id: int, **fields: object) -> None:
        raise StoreUnavailable("database postgresql://kg@db.internal:5432/kg: connection refused")


async def test_set_priority_changes_nothing_when_the_store_write_fails(tmp_path: Path) -> None:
    pool = CredentialPool([Credential(AuthMethod.SOCIAL, refresh_token="r" * 100, id=1)])
    async with Operations.open(Settings(data_dir=tmp_path)) as opened:
        ops = Operations(
            lambda: pool,
            opened._tokens,
            opened._client,
            opened._machine_ready,
            store=lambda: StoreAway(),  # type: ignore[arg-type,return-value]
        )
        with pytest.raises(StoreUnavailable):
            await ops.set_priority(1, 7)
    assert pool.state_of(1).priority == 0
    assert pool.get(1).priority == 0


# ---------------------------------------------------------------- store first (issue #13 item 8)
# Every change an operator makes is written to the store before memory changes: with the
# store away, the call raises StoreUnavailable (the admin API's 503) and nothing moved.

OUTAGE = "database postgresql://kg@db.internal:5432/kg: connection refused"


class StoreDown:
    """A store whose every call fails as a stopped database's would."""

    display_url = "postgresql://kg@db.internal:5432/kg"

    def __getattr__(self, name: str) -> object:
        async def fail(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable(OUTAGE)

        return fail


def live_pool() -> CredentialPool:
    return CredentialPool(
        [
            Credential(AuthMethod.SOCIAL, refresh_token="a" * 100, id=1),
            Credential(AuthMethod.SOCIAL, refresh_token="b" * 100, id=2),
        ]
    )


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Operations]:
    async with Operations.open(Settings(data_dir=tmp_path)) as operations:
        yield operations


def over(
    opened: Operations,
    pool: CredentialPool | None,
    store: object,
    proxies: ProxyPool | None = None,
) -> Operations:
    """The door of a running gateway (``pool``), over ``store``."""
    return Operations(
        lambda: pool,
        opened._tokens,
        opened._client,
        opened._machine_ready,
        store=lambda: store,  # type: ignore[arg-type,return-value]
        proxies=proxies,
    )


def snapshot(pool: CredentialPool) -> tuple[object, ...]:
    """Everything an operator's change could move in the pool."""
    return (
        [pool.state_of(c.id) for c in pool.credentials() if c.id is not None],
        [(c.id, c.priority, c.disabled, c.disabled_reason) for c in pool.credentials()],
        pool.mode,
    )


async def test_disable_changes_nothing_when_the_store_write_fails(opened: Operations) -> None:
    pool = live_pool()
    before = snapshot(pool)
    with pytest.raises(StoreUnavailable):
        await over(opened, pool, StoreDown()).set_disabled(1, True, reason="holiday")
    assert snapshot(pool) == before
    assert not pool.state_of(1).disabled


async def test_enable_changes_nothing_when_the_store_write_fails(opened: Operations) -> None:
    pool = live_pool()
    pool.disable(2, "by hand")
    before = snapshot(pool)
    with pytest.raises(StoreUnavailable):
        await over(opened, pool, StoreDown()).set_disabled(2, False)
    assert snapshot(pool) == before
    assert pool.state_of(2).disabled_detail == "by hand"


async def test_reset_changes_nothing_when_the_store_write_fails(opened: Operations) -> None:
    pool = live_pool()
    pool.disable(1, "by hand")
    before = snapshot(pool)
    with pytest.raises(StoreUnavailable):
        await over(opened, pool, StoreDown()).reset(1)
    assert snapshot(pool) == before


async def test_reset_refuses_an_invalid_configuration_before_writing(opened: Operations) -> None:
    pool = live_pool()
    pool.disable(1, "bad region", reason=DisableReason.INVALID_CONFIG)
    with pytest.raises(InvalidRequest, match="invalid configuration"):
        await over(opened, pool, StoreDown()).reset(1)  # refused, so the store is never asked
    assert pool.state_of(1).disabled_reason is DisableReason.INVALID_CONFIG


async def test_remove_changes_nothing_when_the_store_write_fails(opened: Operations) -> None:
    pool = live_pool()
    pool.disable(1, "on its way out")
    before = snapshot(pool)
    with pytest.raises(StoreUnavailable):
        await over(opened, pool, StoreDown()).remove(1)
    assert snapshot(pool) == before and len(pool) == 2


async def test_add_changes_nothing_when_the_store_write_fails(opened: Operations) -> None:
    pool = live_pool()
    before = snapshot(pool)
    with pytest.raises(StoreUnavailable):
        await over(opened, pool, StoreDown()).add(credential())
    assert snapshot(pool) == before and len(pool) == 2


async def test_set_priority_through_the_door_changes_nothing_when_the_store_fails(
    opened: Operations,
) -> None:
    pool = live_pool()
    before = snapshot(pool)
    with pytest.raises(StoreUnavailable):
        await over(opened, pool, StoreDown()).set_priority(2, 9)
    assert snapshot(pool) == before


async def test_proxies_are_not_taken_when_the_store_write_fails(opened: Operations) -> None:
    proxies = ProxyPool()
    ops = over(opened, live_pool(), StoreDown(), proxies)
    with pytest.raises(StoreUnavailable):
        await ops.add_proxy("http://proxy.example:8080")
    assert proxies.entries() == []
    proxies.add(ProxyEntry(4, "http://proxy.example:8080"))
    with pytest.raises(StoreUnavailable):
        await ops.remove_proxy(4)
    assert [entry.id for entry in proxies.entries()] == [4]


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("create_key", ("ci",)),
        ("revoke_key", (3,)),
        ("block_address", ("192.0.2.7",)),
        ("unblock_address", ("192.0.2.7",)),
        ("set_setting", ("pool.mode", "balanced")),
        ("delete_setting", ("pool.mode",)),
        ("import_credentials", ([credential()],)),
    ],
)
async def test_store_only_actions_fail_whole_when_the_store_is_away(
    opened: Operations, action: str, args: tuple[object, ...]
) -> None:
    notices: list[str] = []
    ops = over(opened, live_pool(), StoreDown())

    async def changed() -> None:
        notices.append("sent")

    ops.changed = changed
    with pytest.raises(StoreUnavailable):
        await getattr(ops, action)(*args)
    assert notices == []  # nothing changed, so no process is told to resync


async def test_an_operator_state_change_is_in_the_store_when_the_call_returns(
    opened: Operations,
) -> None:
    store = opened._stored()
    stored, _ = await store.add_credential(credential())
    assert stored.id is not None
    pool = CredentialPool([stored])  # in-memory state: nothing writes behind
    ops = over(opened, pool, store)
    await ops.set_disabled(stored.id, True, reason="holiday")
    state = (await opened.stored_states())[stored.id]
    assert state.disabled_reason is DisableReason.MANUAL and state.disabled_detail == "holiday"
    assert pool.state_of(stored.id).disabled
    await ops.set_disabled(stored.id, False)
    assert (await opened.stored_states())[stored.id].disabled_reason is None
    pool.disable(stored.id, "by the pool")  # memory only, as the pool's own changes are
    await ops.reset(stored.id)
    assert (await opened.stored_states())[stored.id].disabled_reason is None
    assert not pool.state_of(stored.id).disabled


async def test_a_stored_proxy_is_in_the_gateways_pool_without_a_second_read(
    opened: Operations,
) -> None:
    class ReadsFail:
        """The real store, whose reads fail after the write went through."""

        def __init__(self, real: object) -> None:
            self.real = real

        def __getattr__(self, name: str) -> object:
            if name == "list_proxies":
                raise AssertionError("the proxy pool is updated without reading the store")
            return getattr(self.real, name)

    proxies = ProxyPool()
    ops = over(opened, None, ReadsFail(opened._stored()), proxies)
    record = await ops.add_proxy("http://proxy.example:8080", label="office")
    assert [(entry.id, entry.label) for entry in proxies.entries()] == [(record.id, "office")]
    await ops.remove_proxy(record.id)
    assert proxies.entries() == []


async def test_pool_actions_need_a_running_gateway(ops: Operations) -> None:
    with pytest.raises(ConfigError, match="running gateway"):
        await ops.set_priority(1, 3)
    with pytest.raises(ConfigError, match="running gateway"):
        await ops.set_mode("balanced")


async def test_import_reports_added_and_already_stored(ops: Operations) -> None:
    first = await ops.import_credentials([credential()])
    second = await ops.import_credentials([credential()])
    assert len(first.added) == 1 and first.already == []
    assert second.added == [] and [c.id for c in second.already] == [first.added[0].id]


async def test_api_keys_blocked_addresses_and_settings_reach_the_store(ops: Operations) -> None:
    store = ops._stored()
    record, plaintext = await ops.create_key("ci")
    assert (await store.verify_api_key(plaintext)) is not None
    await ops.revoke_key(record.id)
    assert (await store.verify_api_key(plaintext)) is None
    await ops.block_address("192.0.2.7", "scanner")
    assert await store.blocked_ips() == [("192.0.2.7", "scanner")]
    await ops.unblock_address("192.0.2.7")
    assert await store.blocked_ips() == []
    await ops.set_setting("pool.mode", "balanced")
    assert await store.get_setting("pool.mode") == "balanced"
    assert await ops.delete_setting("pool.mode")


async def test_proxies_added_and_removed_reach_the_gateways_proxy_pool(tmp_path: Path) -> None:
    proxies = ProxyPool()
    async with Operations.open(Settings(data_dir=tmp_path)) as opened:
        ops = Operations(
            lambda: None,
            opened._tokens,
            opened._client,
            opened._machine_ready,
            store=opened._store,
            proxies=proxies,
        )
        record = await ops.add_proxy("http://proxy.example:8080", label="office")
        assert [entry.id for entry in proxies.entries()] == [record.id]
        await ops.remove_proxy(record.id)
        assert proxies.entries() == []


async def test_with_redis_a_change_from_the_command_line_sends_the_cluster_notice(
    tmp_path: Path,
) -> None:
    from tests.cluster.conftest import REDIS_URL, connect_redis

    redis = await connect_redis()
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(NOTICE_CHANNEL)
        async with Operations.open(Settings(data_dir=tmp_path, redis_url=REDIS_URL)) as ops:
            await ops.add(credential())
        message = None
        for _ in range(50):
            message = await pubsub.get_message(timeout=0.1)
            if message is not None:
                break
        assert message is not None and str(message["data"]).startswith("credentials changed ")
    finally:
        await pubsub.aclose()
        await redis.aclose()


# ---------------------------------------------------------------- a real database that stops

PRIVATE_PG_PORT = 55436


def _as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


@pytest.fixture
def private_postgres() -> Iterator[tuple[str, Callable[[], None]]]:
    """A PostgreSQL of the test's own on :data:`PRIVATE_PG_PORT` (never the shared one), and a
    function that stops it."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("no initdb / pg_ctl")
    # Not under pytest's tmp_path: the postgres user (initdb refuses root) cannot enter it.
    home = Path(tempfile.mkdtemp(prefix="kirogate-pg-"))
    data = home / "pg"
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    try:
        subprocess.run(
            _as_postgres("initdb", "-A", "trust", "-D", str(data)),
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(home, ignore_errors=True)
        pytest.skip(f"cannot initdb: {exc}")
    options = f"-p {PRIVATE_PG_PORT} -k {data} -c listen_addresses=127.0.0.1"
    log = str(home / "postgres.log")  # the server's output, not a pipe pg_ctl would hold open
    start = _as_postgres("pg_ctl", "-D", str(data), "-o", options, "-l", log, "-w", "start")
    stop = _as_postgres("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")

    def stop_it() -> None:
        subprocess.run(stop, check=False, stdout=subprocess.DEVNULL, timeout=60)

    try:
        subprocess.run(start, check=True, stdout=subprocess.DEVNULL, timeout=60)
        yield f"postgresql://postgres@127.0.0.1:{PRIVATE_PG_PORT}/postgres", stop_it
    finally:
        stop_it()
        shutil.rmtree(home, ignore_errors=True)


async def test_a_stopped_database_refuses_every_change_and_memory_stays(
    tmp_path: Path, private_postgres: tuple[str, Callable[[], None]]
) -> None:
    url, stop = private_postgres
    settings = Settings(data_dir=tmp_path, database_url=url)
    async with Operations.open(settings) as opened:
        store = opened._stored()
        first, _ = await store.add_credential(credential("aorAAAA-refresh-" + "f" * 80))
        second, _ = await store.add_credential(credential("aorAAAA-refresh-" + "s" * 80))
        assert first.id is not None and second.id is not None
        pool = CredentialPool([first, second])
        pool.disable(second.id, "on its way out")
        ops = over(opened, pool, store)
        stop()
        before = snapshot(pool)
        for change in (
            ops.set_disabled(first.id, True),
            ops.set_disabled(second.id, False),
            ops.reset(second.id),
            ops.set_priority(first.id, 5),
            ops.remove(second.id),
            ops.add(credential("aorAAAA-refresh-" + "n" * 80)),
        ):
            with pytest.raises(StoreUnavailable) as raised:
                await change
            assert raised.value.status == 503
        assert snapshot(pool) == before and len(pool) == 2


async def test_a_kiro_rs_priority_whose_file_cannot_be_written_changes_nothing(
    opened: Operations, tmp_path: Path
) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("[{not json", encoding="utf-8")
    origin = CredentialOrigin("kiro-rs", path, index=0, array=True)
    pool = CredentialPool(
        [Credential(AuthMethod.SOCIAL, refresh_token="a" * 100, id=1, origin=origin)]
    )
    with pytest.raises(CredentialSourceError):
        await over(opened, pool, None).set_priority(1, 4)
    assert pool.state_of(1).priority == 0 and pool.get(1).priority == 0


async def test_a_kiro_rs_priority_reaches_its_file_and_the_pool(
    opened: Operations, tmp_path: Path
) -> None:
    path = tmp_path / "credentials.json"
    path.write_text('[{"refreshToken": "' + "a" * 100 + '", "priority": 0}]', encoding="utf-8")
    origin = CredentialOrigin("kiro-rs", path, index=0, array=True)
    pool = CredentialPool(
        [Credential(AuthMethod.SOCIAL, refresh_token="a" * 100, id=1, origin=origin)]
    )
    await over(opened, pool, None).set_priority(1, 4)
    assert pool.state_of(1).priority == 4 and pool.get(1).priority == 4
    assert '"priority": 4' in path.read_text(encoding="utf-8")

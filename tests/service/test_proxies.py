"""The proxy pool's operations: seeding from PROXY_POOL, edits reaching this process's pool at
once and another process's through the ``proxies`` topic, assignments, the probe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kirogate.pool.proxies import ProxyPool
from kirogate.service.operations import Operations
from kirogate.settings import Settings

SECRET = "pool-password-0123456789"


def with_pool(opened: Operations, proxies: ProxyPool) -> Operations:
    ops = Operations(
        lambda: None,
        opened._tokens,
        opened._client,
        opened._machine_ready,
        store=opened._store,
        proxies=proxies,
    )
    ops.changes = opened.changes
    return ops


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Operations]:
    async with Operations.open(Settings(data_dir=tmp_path)) as operations:
        yield operations


async def test_seeding_stores_each_proxy_once(opened: Operations) -> None:
    urls = ("http://10.0.0.1:8080", f"socks5://u:{SECRET}@10.0.0.2:1080")
    assert await opened.seed_proxies(urls) == 2
    assert await opened.seed_proxies(urls) == 0  # the next start adds nothing
    assert await opened.seed_proxies(()) == 0
    views = await opened.proxy_views()
    assert [view["url"] for view in views] == ["http://10.0.0.1:8080", "socks5://10.0.0.2:1080"]
    assert [view["label"] for view in views] == ["PROXY_POOL", "PROXY_POOL"]
    assert SECRET not in str(views)
    assert views[1]["username"] == "***"


async def test_edits_reach_the_pool_at_once(opened: Operations) -> None:
    proxies = ProxyPool()
    ops = with_pool(opened, proxies)
    record = await ops.add_proxy("http://10.0.0.1:8080", label="a")
    assert [entry.id for entry in proxies.entries()] == [record.id]
    await ops.update_proxy(record.id, disabled=True)
    assert proxies.get(record.id).disabled
    await ops.remove_proxy(record.id)
    assert proxies.entries() == []


async def test_another_process_reloads_on_the_proxies_topic(
    opened: Operations, tmp_path: Path
) -> None:
    async with Operations.open(Settings(data_dir=tmp_path)) as other:
        theirs = ProxyPool()
        remote = with_pool(other, theirs)
        remote.changes.on("proxies", remote.reload_proxies)
        await remote.changes.changed("warm-up")  # the feed knows the revisions before polling
        remote.changes.start()
        try:
            record = await opened.add_proxy("http://10.0.0.9:3128")
            for _ in range(40):
                if theirs.entries():
                    break
                await asyncio.sleep(0.05)
            assert [entry.id for entry in theirs.entries()] == [record.id]
        finally:
            await remote.changes.close()


async def test_assignment_is_stored_and_a_removed_proxy_unassigns(opened: Operations) -> None:
    from kirogate.upstream.credentials import AuthMethod, Credential

    stored, _ = await opened.add(Credential(AuthMethod.SOCIAL, refresh_token="r" * 90))
    assert stored.id is not None
    record = await opened.add_proxy("http://10.0.0.1:8080")
    await opened.assign_proxy(stored.id, record.id)
    assert (await opened.stored_credential(stored.id)).proxy_id == record.id
    assert (await opened.proxy_view(record.id))["credentials"] == [stored.id]
    await opened.remove_proxy(record.id)
    assert (await opened.stored_credential(stored.id)).proxy_id is None


async def test_a_probe_of_a_dead_proxy_says_so(opened: Operations) -> None:
    proxies = ProxyPool()
    ops = with_pool(opened, proxies)
    record = await ops.add_proxy("http://127.0.0.1:9")
    result = await ops.test_proxy(record.id)
    assert not result.ok and result.error is not None and "cannot connect" in result.error
    assert record.id in proxies.cooling()


async def test_a_gateway_fills_its_pool_from_proxy_pool_at_start(tmp_path: Path) -> None:
    from kirogate.service import Gateway
    from kirogate.settings import load_settings

    environ = {"PROXY_POOL": f"http://10.0.0.1:8080,socks5://u:{SECRET}@10.0.0.2:1080",
               "KIROGATE_PROXY_STRATEGY": "least_used"}  # fmt: skip
    settings = load_settings(environ, {"data_dir": tmp_path}, read_default_config=False)
    gateway = Gateway(settings, [], persistent=True)
    await gateway.start()
    try:
        assert len(gateway.proxies.entries()) == 2
        assert gateway.proxies.strategy.value == "least_used"
    finally:
        await gateway.close()

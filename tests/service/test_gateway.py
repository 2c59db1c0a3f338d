"""The gateway's resources: built once, the store's proxies and credentials loaded at start."""

from __future__ import annotations

from pathlib import Path

from kirogate.service import Gateway
from kirogate.service.operations import Operations
from kirogate.settings import Settings
from kirogate.upstream.credentials import AuthMethod, Credential


async def test_a_persistent_gateway_starts_with_the_stored_credentials_and_proxies(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    async with Operations.open(settings) as ops:
        await ops.add(Credential(AuthMethod.SOCIAL, refresh_token="aorAAAA-" + "r" * 80))
        await ops._stored().add_proxy("http://proxy.example:8080", label="office")
    gateway = Gateway(settings, [], persistent=True)
    await gateway.start()
    try:
        assert len(gateway.operations.credentials()) == 1
        assert [entry.label for entry in gateway.proxies.entries()] == ["office"]
    finally:
        await gateway.close()


async def test_a_persistent_gateway_watches_its_database_and_reports_its_buffers(
    tmp_path: Path,
) -> None:
    gateway = Gateway(Settings(data_dir=tmp_path), [], persistent=True)
    await gateway.start()
    try:
        assert gateway.database is not None
        assert await gateway.database.check()
        assert gateway.database_numbers() == {
            "up": 1,
            "request_logs_queued": 0,
            "request_logs_dropped": 0,
            "pool_state_pending": 0,
        }
        gateway.database.failed("a ping", OSError("refused"))
        numbers = gateway.database_numbers()
        assert numbers is not None and numbers["up"] == 0
    finally:
        await gateway.close()


async def test_an_in_memory_gateway_has_no_store_and_operations_over_its_pool() -> None:
    credential = Credential(AuthMethod.SOCIAL, refresh_token="aorAAAA-" + "m" * 80, id=1)
    gateway = Gateway(Settings(), [credential])
    await gateway.start()
    try:
        assert gateway.store is None
        assert gateway.database is None and gateway.database_numbers() is None
        await gateway.operations.set_disabled(1, True)
        assert gateway.pool.state_of(1).disabled
    finally:
        await gateway.close()

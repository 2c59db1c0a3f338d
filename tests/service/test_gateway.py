"""The gateway's resources: built once, the store's proxies and credentials loaded at start."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kirogate.service import Gateway
from kirogate.service.operations import Operations
from kirogate.settings import Settings, UpstreamSettings
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


async def test_a_worker_keeps_the_token_an_earlier_worker_refreshed(tmp_path: Path) -> None:
    """``--workers``: the checks child imported the sources; a worker starting after another
    one refreshed must not put the source's older, rotated-away refresh token back."""
    import json

    from kirogate.store import Store
    from kirogate.upstream.auth.sources import discover_credentials

    source = tmp_path / "credentials.json"
    source.write_text(json.dumps([{"refreshToken": "aorAAAA-" + "o" * 80, "authMethod": "social"}]))
    found = discover_credentials([source], [], {}, default_ide_file=False)
    # Every upstream call goes to a closed local port: nothing leaves the machine.
    settings = Settings(data_dir=tmp_path, upstream=UpstreamSettings(url="http://127.0.0.1:9"))
    store = await Store.open(database_url=None, data_dir=tmp_path, secret_key=settings.secret_key)
    try:
        # The checks child imports the source; a first worker refreshes (the token rotates).
        imported = [replace(c) for c in found.credentials]
        await store.sync_sources(imported)
        (rotated,) = await store.list_credentials()
        rotated.refresh_token = "aorAAAA-" + "n" * 80
        await store.save_tokens(rotated)
    finally:
        await store.close()
    gateway = Gateway(settings, found.credentials, persistent=True, sources_imported=True)
    await gateway.start()
    try:
        (held,) = gateway.operations.credentials()
        assert held.refresh_token == "aorAAAA-" + "n" * 80
    finally:
        await gateway.close()

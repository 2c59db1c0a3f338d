"""The runtime layer: stored whole or not at all, loaded at start, reloaded on its topic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kirogate.errors import InvalidRequest
from kirogate.service import Gateway
from kirogate.service.changes import ChangeFeed
from kirogate.service.runtime_settings import RuntimeSettings
from kirogate.settings import Settings, load_settings
from kirogate.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    opened = await Store.open(database_url=None, data_dir=tmp_path, secret_key="runtime-test-key")
    try:
        yield opened
    finally:
        await opened.close()


def layer(store: Store | None, applied: list[Settings]) -> RuntimeSettings:
    changes = ChangeFeed(lambda: store)
    return RuntimeSettings(Settings(), store=lambda: store, changes=changes, apply=applied.append)


async def test_a_change_is_stored_and_another_layer_loads_it(store: Store) -> None:
    applied: list[Settings] = []
    runtime = layer(store, applied)
    await runtime.change({"pool.mode": "random", "models.hidden": ["glm-*"]})
    assert applied[-1].pool.mode.value == "random"
    assert await store.get_setting("pool.mode") == "random"
    assert await store.get_setting("models.hidden") == ["glm-*"]
    other: list[Settings] = []
    again = layer(store, other)
    await again.load()
    assert other[-1].models.hidden == ("glm-*",)
    assert again.current.origins["pool.mode"].kind == "runtime"


async def test_a_reset_forgets_the_stored_value(store: Store) -> None:
    runtime = layer(store, [])
    await runtime.change({"pool.mode": "random"})
    await runtime.reset("pool.mode")
    assert await store.get_setting("pool.mode", "gone") == "gone"
    assert runtime.current.pool.mode.value == "priority"


async def test_a_refused_change_stores_and_applies_nothing(store: Store) -> None:
    applied: list[Settings] = []
    runtime = layer(store, applied)
    with pytest.raises(InvalidRequest) as caught:
        await runtime.change({"pool.mode": "random", "pool.queue_timeout": "later"})
    assert caught.value.param == "pool.queue_timeout"
    assert applied == []
    assert await store.all_settings() == {}


async def test_a_stored_value_this_build_cannot_read_is_skipped(store: Store) -> None:
    await store.set_setting("pool.mode", "fastest")
    await store.set_setting("pool.max_attempts", 4)
    await store.set_setting("something.else", 1)  # not a runtime setting: left alone
    runtime = layer(store, [])
    await runtime.load()
    assert runtime.values == {"pool.max_attempts": 4}


async def test_without_a_store_a_change_applies_in_memory() -> None:
    applied: list[Settings] = []
    runtime = layer(None, applied)
    await runtime.change({"compression.enabled": True})
    assert applied[-1].compression.enabled
    await runtime.load()  # nothing to load
    assert runtime.values == {"compression.enabled": True}


async def test_runtime_values_survive_a_restart_of_a_persistent_gateway(tmp_path: Path) -> None:
    settings = load_settings(
        {}, {"data_dir": tmp_path, "secret_key": "k" * 32, "upstream.usage_interval": 0}
    )
    gateway = Gateway(settings, [], persistent=True)
    await gateway.start()
    try:
        await gateway.runtime.change({"pool.mode": "round_robin", "models.forced": "glm-5"})
    finally:
        await gateway.close()
    again = Gateway(settings, [], persistent=True)
    await again.start()
    try:
        assert again.pool.mode.value == "round_robin"
        assert again.models.resolve("claude-opus-4-6").upstream_id == "glm-5"
        assert again.settings.origins["models.forced"].kind == "runtime"
    finally:
        await again.close()


async def test_a_proxy_password_is_stored_encrypted(store: Store) -> None:
    import sqlalchemy as sa

    runtime = layer(store, [])
    await runtime.change({"upstream.proxy_url": "http://bob:pw-secret-991@10.0.0.1:3128"})
    async with store.engine.connect() as conn:
        raw = (await conn.execute(sa.text("SELECT value FROM settings"))).all()
    assert "pw-secret-991" not in repr(raw)
    again = layer(store, [])
    await again.load()
    assert again.current.upstream.proxy_url == "http://bob:pw-secret-991@10.0.0.1:3128"


async def test_a_rule_across_settings_refuses_a_change_and_skips_a_load(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kirogate.service.runtime_settings as module
    from kirogate.errors import ConfigError

    def broken(configured: Settings, values: dict[str, Any]) -> Settings:
        raise ConfigError("these two cannot go together")

    await store.set_setting("pool.mode", "random")
    monkeypatch.setattr(module, "with_runtime", broken)
    runtime = layer(store, [])
    with pytest.raises(InvalidRequest, match="cannot go together") as caught:
        await runtime.change({"pool.mode": "balanced"})
    assert caught.value.param == "pool.mode"
    await runtime.load()
    assert runtime.values == {}


async def test_config_show_reads_nothing_without_a_store(tmp_path: Path) -> None:
    from kirogate.service.runtime_settings import stored_runtime_values

    assert await stored_runtime_values(load_settings({}, {"data_dir": tmp_path})) == {}
    away = load_settings(
        {}, {"data_dir": tmp_path, "database_url": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert await stored_runtime_values(away) == {}


async def test_config_show_reads_the_stored_values(store: Store, tmp_path: Path) -> None:
    from kirogate.service.runtime_settings import stored_runtime_values

    await store.set_setting("pool.mode", "random")
    await store.set_setting("pool.max_attempts", "lots")  # unreadable: skipped
    await store.set_setting("other", 1)
    settings = load_settings({}, {"data_dir": tmp_path, "secret_key": "runtime-test-key"})
    assert await stored_runtime_values(settings) == {"pool.mode": "random"}

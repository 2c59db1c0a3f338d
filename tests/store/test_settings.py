import pytest
import sqlalchemy as sa

from kirogate.errors import InvalidRequest


async def test_missing_setting_gives_the_default(store):
    assert await store.get_setting("pool.mode") is None
    assert await store.get_setting("pool.mode", "priority") == "priority"


async def test_json_values_round_trip(store):
    values = {
        "pool.mode": "balanced",
        "limits": {"rpm": 60, "burst": [1, 2.5, None, True]},
        "count": 3,
        "nothing": None,
    }
    for key, value in values.items():
        await store.set_setting(key, value)
    for key, value in values.items():
        assert await store.get_setting(key, "default") == value
    assert await store.all_settings() == dict(sorted(values.items()))


async def test_set_replaces_and_other_processes_see_it(store, open_store):
    other = await open_store()
    await store.set_setting("pool.mode", "priority")
    await other.set_setting("pool.mode", "round_robin")
    assert await store.get_setting("pool.mode") == "round_robin"


async def test_delete_setting(store):
    await store.set_setting("x", 1)
    assert await store.delete_setting("x")
    assert not await store.delete_setting("x")
    assert await store.get_setting("x", 7) == 7


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("", 1, "non-empty"),
        ("k" * 201, 1, "longer than 200"),
        ("k", {1, 2}, "cannot be stored as JSON"),
        ("k", float("nan"), "cannot be stored as JSON"),
        ("k", object(), "cannot be stored as JSON"),
    ],
)
async def test_bad_settings_are_refused(store, key, value, message):
    with pytest.raises(InvalidRequest, match=message):
        await store.set_setting(key, value)


async def test_settings_change_together_and_secrets_are_stored_encrypted(store):
    await store.set_setting("gone", 1)
    url = "http://bob:proxy-pass-7788@10.0.0.1:3128"
    await store.change_settings(
        {"upstream.proxy_url": url, "pool.mode": "random"}, ("gone",),
        secret=frozenset({"upstream.proxy_url"}),
    )  # fmt: skip
    assert await store.all_settings() == {"pool.mode": "random", "upstream.proxy_url": url}
    assert await store.get_setting("upstream.proxy_url") == url
    async with store.engine.connect() as conn:
        raw = (await conn.execute(sa.text("SELECT value FROM settings"))).all()
    assert "proxy-pass-7788" not in repr(raw)

"""Table dumps and restores (secrets decrypted in the dump, encrypted again on restore)."""

from __future__ import annotations

from kirogate.store import Store
from kirogate.store.backup import BACKUP_TABLES


async def test_a_dump_restores_into_another_store(
    store: Store, open_store: object, tmp_path: object
) -> None:
    await store.add_proxy("http://p.example:1", username="u", password="pw-secret-1")
    await store.block_ip("10.0.0.0/8", "x")
    rows = await store.dump_table("proxies")
    assert rows[0]["password"] == "pw-secret-1"
    outcomes = await store.restore_table("proxies", rows, replace=False)
    assert [o.outcome for o in outcomes] == ["skipped"]
    outcomes = await store.restore_table("proxies", [{**rows[0], "password": "new"}], replace=False)
    assert [o.outcome for o in outcomes] == ["updated"]
    assert (await store.list_proxies())[0].password == "new"
    replaced = await store.restore_table("blocked_ips", [{"ip": "192.0.2.1", "reason": None,
                                                          "created_at": rows[0]["created_at"]}],
                                         replace=True)  # fmt: skip
    assert [o.outcome for o in replaced] == ["added"]
    assert [ip for ip, _ in await store.blocked_ips()] == ["192.0.2.1"]
    bad = await store.restore_table("blocked_ips", [{"reason": "no ip"}, "x"], replace=False)
    assert [o.outcome for o in bad] == ["skipped", "skipped"]
    assert set(BACKUP_TABLES) >= {"api_keys", "settings", "blocked_ips", "proxies"}


async def test_a_row_of_the_wrong_shape_is_skipped_naming_the_field(store: Store) -> None:
    rows = [
        {"key": 5, "value": 1, "updated_at": "2026-12-07T00:00:00+00:00"},
        {"key": "a", "value": 1, "updated_at": "yesterday"},
        {"key": "b\x00", "value": 1, "updated_at": "2026-12-07T00:00:00+00:00"},
        {"key": "ok", "value": {"x": 1}, "updated_at": "2026-12-07T00:00:00+00:00"},
    ]
    outcomes = await store.restore_table("settings", rows, replace=False)
    assert [o.outcome for o in outcomes] == ["skipped", "skipped", "skipped", "added"]
    assert [o.reason.split(":")[0] for o in outcomes[:3] if o.reason] == [
        "key",
        "updated_at",
        "key",
    ]
    assert await store.all_settings() == {"ok": {"x": 1}}


async def test_rows_a_constraint_refuses_are_skipped_and_the_rest_restored(store: Store) -> None:
    row = {"ip": "192.0.2.1", "reason": None, "created_at": "2026-12-07T00:00:00+00:00"}
    outcomes = await store.restore_table("blocked_ips", [row, row, {**row, "ip": "192.0.2.2"}],
                                         replace=True)  # fmt: skip
    assert [o.outcome for o in outcomes] == ["added", "skipped", "added"]
    assert [ip for ip, _ in await store.blocked_ips()] == ["192.0.2.1", "192.0.2.2"]

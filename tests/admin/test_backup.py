"""``/api/admin/backup``: one encrypted file, restored on another machine (another secret key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.admin.fakes import ADMIN_KEY, CLIENT_KEY, IDC_REFRESH, REFRESH, app_for, call, key

PASSPHRASE = "correct horse battery staple"
STORED_KEY = "kg-stored-client-key-0123456789"
HOOK_TOKEN = "hook-secret-token-abcdef012345"
PROXY_SECRET = "proxy-secret-pass-77"


def headers(passphrase: str = PASSPHRASE) -> dict[str, str]:
    return {**key(), "x-backup-passphrase": passphrase}


@pytest.fixture
async def other(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Gateway]]:
    """A second machine: its own data dir, so its own secret key."""
    overrides = {"server.admin_key": ADMIN_KEY, "data_dir": tmp_path / "other",
                 "upstream.usage_interval": 0}  # fmt: skip
    gateway = Gateway(load_settings({}, overrides), [], persistent=True)
    await gateway.start()
    try:
        yield app_for(gateway), gateway
    finally:
        await gateway.close()


async def fill(gateway: Gateway) -> None:
    operations = gateway.operations
    social, _ = await operations.add(
        Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, email="a@x.test")
    )
    await operations.create_group("team", "the team's own account")
    assert social.id is not None
    await operations.set_group_members("team", [social.id])
    await operations.add(Credential(AuthMethod.IDC, refresh_token=IDC_REFRESH, client_id="c",
                                    client_secret="client-secret-" + "z" * 30))  # fmt: skip
    store = gateway.store
    assert store is not None
    await store.add_api_key("team", STORED_KEY)
    await operations.block_address("203.0.113.0/24", "abuse")
    await operations.set_setting("log.retention_days", 7)
    await operations.add_proxy("http://proxy.example:8080", username="u", password=PROXY_SECRET)
    await operations.create_webhook(name="ops", format="slack",
                                    url=f"https://hooks.example/{HOOK_TOKEN}")  # fmt: skip


async def test_a_backup_restores_on_another_machine(
    live_store: tuple[FastAPI, Gateway], other: tuple[FastAPI, Gateway]
) -> None:
    app, gateway = live_store
    await fill(gateway)
    reply = await call(app, "GET", "/api/admin/backup", headers=headers())
    assert reply.status == 200, reply.text
    for secret in (REFRESH, IDC_REFRESH, STORED_KEY, HOOK_TOKEN, PROXY_SECRET, "a@x.test"):
        assert secret not in reply.text
    document = reply.json()
    assert document["format"] == "kirogate-backup" and document["version"] == 1
    assert document["counts"]["credentials"] == 2
    other_app, target = other
    restored = await call(other_app, "POST", "/api/admin/backup", body=document, headers=headers())
    assert restored.status == 200, restored.text
    result = restored.json()
    assert result["added"] == 9 and result["skipped"] == 0  # one result per item
    assert {item["outcome"] for item in result["items"]} == {"added"}
    assert {item["kind"] for item in result["items"]} >= {"credentials", "api_keys", "proxies",
                                                          "blocked_ips", "settings", "alert_webhooks"}  # fmt: skip
    # The credentials serve from the running pool; the secrets decrypt with the new key.
    assert sorted(c.refresh_token or "" for c in target.operations.credentials()) == sorted(
        [REFRESH, IDC_REFRESH]
    )
    assert target.store is not None
    assert await target.store.get_setting("log.retention_days") == 7
    # The group and its member, by the id the credential got on this machine.
    (member,) = (await target.operations.get_group("team")).credential_ids
    restored_social = next(c for c in target.operations.credentials() if c.refresh_token == REFRESH)
    assert member == restored_social.id
    assert [proxy.password for proxy in await target.store.list_proxies()] == [PROXY_SECRET]
    assert [hook.url for hook in await target.operations.webhooks()] == [
        f"https://hooks.example/{HOOK_TOKEN}"
    ]
    # Merging the same file again changes nothing.
    again = (await call(other_app, "POST", "/api/admin/backup", body=document,
                        headers=headers())).json()  # fmt: skip
    assert again["added"] == 0 and again["skipped"] == len(again["items"]), [
        i for i in again["items"] if i["outcome"] == "updated"
    ]
    assert SECRET_FREE(again)
    assert await target.store.verify_api_key(STORED_KEY) is not None


def SECRET_FREE(report: object) -> bool:
    text = str(report)
    return all(secret not in text for secret in (REFRESH, IDC_REFRESH, STORED_KEY, HOOK_TOKEN))


async def test_replace_empties_each_kind_first(
    live_store: tuple[FastAPI, Gateway], other: tuple[FastAPI, Gateway]
) -> None:
    app, gateway = live_store
    await fill(gateway)
    document = (await call(app, "GET", "/api/admin/backup", headers=headers())).json()
    other_app, target = other
    await target.operations.add(Credential(AuthMethod.SOCIAL, refresh_token="aorAAAA-" + "o" * 90))
    await target.operations.block_address("198.51.100.7")
    reply = await call(other_app, "POST", "/api/admin/backup?mode=replace", body=document,
                       headers=headers())  # fmt: skip
    assert reply.status == 200, reply.text
    assert len(target.operations.credentials()) == 2
    assert target.store is not None
    assert [ip for ip, _ in await target.store.blocked_ips()] == ["203.0.113.0/24"]


async def test_a_wrong_passphrase_is_400_and_changes_nothing(
    live_store: tuple[FastAPI, Gateway], other: tuple[FastAPI, Gateway]
) -> None:
    app, gateway = live_store
    await fill(gateway)
    document = (await call(app, "GET", "/api/admin/backup", headers=headers())).json()
    other_app, target = other
    reply = await call(other_app, "POST", "/api/admin/backup", body=document,
                       headers=headers("a wrong passphrase!"))  # fmt: skip
    assert reply.status == 400
    assert "X-Backup-Passphrase" in reply.json()["error"]["message"]
    assert target.operations.credentials() == []
    assert target.store is not None and await target.store.blocked_ips() == []
    tampered = {**document, "counts": {**document["counts"], "credentials": 9}}
    assert (await call(other_app, "POST", "/api/admin/backup", body=tampered,
                       headers=headers())).status == 400  # fmt: skip


@pytest.mark.parametrize(
    ("change", "param"),
    [({"format": "zip"}, "format"), ({"version": 99}, "version"), ({"kdf": {}}, "kdf"),
     ({"kdf": {"name": "scrypt", "salt": "AAAA", "n": 2**30, "r": 8, "p": 1}}, "kdf"),
     ({"kdf": {"name": "scrypt", "salt": "AAAA", "n": 1000, "r": 8, "p": 1}}, "kdf"),
     ({"cipher": {"name": "rot13"}}, "cipher"), ({"data": "%%%"}, "data")],
)  # fmt: skip
async def test_a_malformed_file_is_400_naming_the_field(
    live_store: tuple[FastAPI, Gateway], change: dict[str, object], param: str
) -> None:
    app, _ = live_store
    document = (await call(app, "GET", "/api/admin/backup", headers=headers())).json()
    reply = await call(app, "POST", "/api/admin/backup", body={**document, **change},
                       headers=headers())  # fmt: skip
    assert reply.status == 400
    assert param in reply.json()["error"]["message"]


async def test_passphrase_mode_and_authorization(live_store: tuple[FastAPI, Gateway]) -> None:
    app, _ = live_store
    short = await call(app, "GET", "/api/admin/backup", headers=headers("short"))
    assert short.status == 400 and "X-Backup-Passphrase" in short.text
    assert (await call(app, "GET", "/api/admin/backup", headers=key())).status == 400
    bad_mode = await call(app, "POST", "/api/admin/backup?mode=wipe", body={}, headers=headers())
    assert bad_mode.status == 400 and "mode" in bad_mode.text
    assert (await call(app, "GET", "/api/admin/backup")).status == 401
    assert (await call(app, "GET", "/api/admin/backup", headers={"x-api-key": CLIENT_KEY,
                                                                 "x-backup-passphrase": PASSPHRASE})).status == 401  # fmt: skip


async def test_a_download_is_audited_without_the_passphrase(
    live_store: tuple[FastAPI, Gateway],
) -> None:
    app, gateway = live_store
    await call(app, "GET", "/api/admin/backup", headers=headers())
    assert gateway.store is not None
    rows = await gateway.store.dump_table("audit_log")
    assert [row["name"] for row in rows] == ["backup.export"]
    assert PASSPHRASE not in str(rows)

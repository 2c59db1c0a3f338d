"""The ``logins`` table on SQLite and PostgreSQL: status rows, a secret used once, purging."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from kirogate.store.schema import logins

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
VERIFIER = "pkce-verifier-that-must-stay-secret-0123456789"


def record(login_id: str = "login_" + "a" * 24, **fields: object) -> dict[str, object]:
    return {
        "id": login_id,
        "kind": "social",
        "status": "pending",
        "region": "us-east-1",
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=10),
        "provider": "google",
        "redirect_uri": "kiro://kiro.kiroAgent/authenticate-success",
        "state_hash": "f" * 64,
        "secret": {"verifier": VERIFIER},
        **fields,
    }


async def test_a_login_is_read_back_by_id_and_by_state(store):
    await store.add_login(record())
    by_id = await store.get_login("login_" + "a" * 24)
    assert by_id is not None and by_id["secret"] == {"verifier": VERIFIER}
    assert by_id["expires_at"] == NOW + timedelta(minutes=10)
    assert by_id["finished_at"] is None and by_id["provider"] == "google"
    by_state = await store.login_by_state("f" * 64)
    assert by_state == by_id
    assert await store.get_login("login_" + "b" * 24) is None
    assert await store.login_by_state("0" * 64) is None


async def test_the_secret_is_encrypted_at_rest(store):
    await store.add_login(record())
    async with store.engine.connect() as conn:
        stored = (await conn.execute(sa.select(logins.c.secret))).scalar()
    assert stored and VERIFIER not in stored


async def test_the_secret_is_claimed_once_even_by_racing_stores(store, open_store):
    other = await open_store()
    await store.add_login(record())
    claims = await asyncio.gather(
        store.claim_login_secret("login_" + "a" * 24),
        other.claim_login_secret("login_" + "a" * 24),
    )
    assert sorted(claims, key=bool) == [None, {"verifier": VERIFIER}]
    assert (await store.get_login("login_" + "a" * 24))["secret"] is None


async def test_a_login_finishes_once_and_its_secret_goes(store):
    await store.add_login(record())
    login_id = "login_" + "a" * 24
    assert await store.finish_login(login_id, "complete", at=NOW, credential_id=7)
    assert not await store.finish_login(login_id, "expired", at=NOW, error="late")
    done = await store.get_login(login_id)
    assert done is not None
    assert [done[k] for k in ("status", "credential_id", "error", "secret")] == [
        "complete", 7, None, None,
    ]  # fmt: skip
    assert done["finished_at"] == NOW
    assert await store.finish_login(login_id, "failed", at=NOW, overriding=("complete",))
    assert await store.claim_login_secret(login_id) is None


async def test_expired_pending_logins_are_listed_and_old_rows_purged(store):
    await store.add_login(record("login_" + "1" * 24, state_hash="1" * 64))
    await store.add_login(record("login_" + "2" * 24, state_hash="2" * 64, kind="device"))
    await store.add_login(record("login_" + "3" * 24, state_hash=None, secret=None))
    await store.finish_login("login_" + "2" * 24, "denied", at=NOW)
    later = NOW + timedelta(minutes=11)
    assert sorted(await store.expired_logins(later)) == ["login_" + "1" * 24, "login_" + "3" * 24]
    assert await store.purge_logins(NOW) == 0
    assert await store.purge_logins(NOW + timedelta(seconds=1)) == 1  # the denied one
    assert await store.count_logins() == 2
    assert await store.purge_logins(later) == 2  # pending, past their expiry
    assert await store.count_logins() == 0

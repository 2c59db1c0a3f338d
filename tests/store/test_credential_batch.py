"""``Store.add_credentials``: many credentials in one transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

import kirogate.store.credential_batch as batch
from kirogate.errors import InvalidRequest
from kirogate.store import Store
from kirogate.upstream.credentials import AuthMethod, Credential

TOKEN_A = "aorAAAA-store-batch-a-" + "a1" * 60
TOKEN_B = "aorAAAA-store-batch-b-" + "b2" * 60
TOKEN_C = "aorAAAA-store-batch-c-" + "c3" * 60


def social(token: str, **fields: object) -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token=token, **fields)  # type: ignore[arg-type]


async def test_new_ones_are_added_known_ones_answered(store: Store) -> None:
    first, _ = await store.add_credential(social(TOKEN_A))
    results = await store.add_credentials(
        [social(TOKEN_A), social(TOKEN_B, id=99), social(TOKEN_B)]
    )
    assert [(c.id, created) for c, created in results] == [
        (first.id, False),
        (2, True),
        (2, False),
    ]
    assert [c.refresh_token for c in await store.list_credentials()] == [TOKEN_A, TOKEN_B]


async def test_disabled_ones_keep_their_state(store: Store) -> None:
    ((_stored, created),) = await store.add_credentials(
        [social(TOKEN_A, disabled=True, disabled_reason="Manual")]
    )
    assert created
    (state,) = await store.load_states()
    assert state.disabled


async def test_nothing_is_stored_when_one_write_fails(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch.insert_columns
    calls = 0

    def failing(cred: Credential, box: object) -> dict[str, object]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the disk went away")
        return real(cred, box)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "insert_columns", failing)
    with pytest.raises(RuntimeError):
        await store.add_credentials([social(TOKEN_A), social(TOKEN_B), social(TOKEN_C)])
    assert await store.list_credentials() == []


async def test_an_invalid_one_refuses_the_whole_batch(store: Store) -> None:
    with pytest.raises(InvalidRequest):
        await store.add_credentials([social(TOKEN_A), Credential(AuthMethod.SOCIAL)])
    assert await store.list_credentials() == []


async def test_a_race_with_another_process_is_retried_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store._add_all
    calls = 0

    async def racing(credentials: list[Credential]) -> list[tuple[Credential, bool]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            # Another process stores the same credential between our read and our insert.
            await store.add_credential(social(TOKEN_A))
            raise IntegrityError("INSERT", {}, Exception("duplicate fingerprint"))
        return await real(credentials)

    monkeypatch.setattr(store, "_add_all", racing)
    results = await store.add_credentials([social(TOKEN_A), social(TOKEN_B)])
    assert [created for _, created in results] == [False, True]


async def test_a_conflict_that_persists_is_a_400(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def always(credentials: list[Credential]) -> list[tuple[Credential, bool]]:
        raise IntegrityError("INSERT", {}, Exception("duplicate fingerprint"))

    monkeypatch.setattr(store, "_add_all", always)
    with pytest.raises(InvalidRequest, match="conflict"):
        await store.add_credentials([social(TOKEN_A)])
    assert await store.add_credentials([]) == []

"""``import_credential``: one row per account, the newer tokens kept, dead copies merged."""

from __future__ import annotations

from datetime import timedelta

from kirogate.pool.state import DisableReason
from kirogate.store.imports import Outcome
from kirogate.upstream.credentials import CredentialOrigin
from tests.store.factories import EXPIRES, file_origin, social


def ide_origin(tmp_path):
    return file_origin(tmp_path / "kiro-auth-token.json", kind="kiro-ide")


async def kill(store, credential_id):
    await store.apply_state(
        credential_id,
        sets={
            "disabled_reason": DisableReason.INVALID_REFRESH_TOKEN,
            "disabled_detail": "rejected",
        },
        increments={},
    )


async def test_a_new_account_is_added(store):
    result = await store.import_credential(social("a"))
    assert result.outcome is Outcome.ADDED
    assert [c.id for c in await store.list_credentials()] == [result.credential.id]


async def test_the_same_token_is_already_stored(store):
    first = await store.import_credential(social("a"))
    again = await store.import_credential(social("a"))
    assert again.outcome is Outcome.ALREADY and again.credential.id == first.credential.id


async def test_a_rotated_token_of_the_ide_file_updates_its_row(store, tmp_path):
    first = await store.import_credential(social("a", origin=ide_origin(tmp_path)))
    rotated = social("b", origin=ide_origin(tmp_path), expires_at=EXPIRES + timedelta(hours=1))
    result = await store.import_credential(rotated)
    assert result.outcome is Outcome.UPDATED
    (stored,) = await store.list_credentials()
    assert stored.id == first.credential.id
    assert stored.refresh_token == rotated.refresh_token


async def test_an_older_copy_of_a_stored_account_keeps_the_stored_tokens(store):
    newer = social("new", email="a@example.com", expires_at=EXPIRES + timedelta(hours=1))
    await store.import_credential(newer)
    result = await store.import_credential(social("old", email="a@example.com"))
    assert result.outcome is Outcome.ALREADY
    (stored,) = await store.list_credentials()
    assert stored.refresh_token == newer.refresh_token


async def test_a_dead_copy_takes_the_imported_tokens_and_comes_back(store):
    dead = (await store.import_credential(social("old", email="a@example.com"))).credential
    await kill(store, dead.id)
    fresh = social("new", email="a@example.com", expires_at=EXPIRES - timedelta(days=1))
    result = await store.import_credential(fresh)
    assert result.outcome is Outcome.UPDATED
    (stored,) = await store.list_credentials()
    assert stored.refresh_token == fresh.refresh_token and not stored.disabled


async def test_dead_duplicates_are_merged_into_the_live_row(store):
    live = (await store.import_credential(social("live"))).credential
    dead = await store.add_credential(social("dead", email="a@example.com"))
    await kill(store, dead[0].id)
    result = await store.import_credential(social("live", email="a@example.com"))
    assert result.credential.id == live.id and result.merged == (dead[0].id,)
    (stored,) = await store.list_credentials()
    assert stored.id == live.id and stored.email == "a@example.com"


async def test_a_linked_ide_file_row_takes_the_file_origin(store, tmp_path):
    copy = (await store.import_credential(social("a", email="a@example.com"))).credential
    assert copy.origin == CredentialOrigin("store")
    linked = social("a", email="a@example.com", origin=ide_origin(tmp_path))
    result = await store.import_credential(linked)
    assert result.credential.origin.kind == "kiro-ide"


async def test_sync_merges_a_dead_copy_of_a_source_account(store, tmp_path):
    dead, _ = await store.add_credential(social("old", email="a@example.com"))
    await kill(store, dead.id)
    source = social("new", email="a@example.com", origin=ide_origin(tmp_path))
    report = await store.sync_sources([source])
    (stored,) = await store.list_credentials()
    assert stored.refresh_token == source.refresh_token and not stored.disabled
    assert report.added + report.updated == 1


async def test_sync_keeps_the_newer_tokens_of_an_imported_copy(store, tmp_path):
    newer = social("new", email="a@example.com", expires_at=EXPIRES + timedelta(hours=1))
    await store.import_credential(newer)
    older = social("old", email="a@example.com", origin=ide_origin(tmp_path))
    await store.sync_sources([older])
    (stored,) = await store.list_credentials()
    assert stored.refresh_token == newer.refresh_token


async def test_sync_merges_a_dead_copy_by_what_the_source_row_learned(store, tmp_path):
    source = social("ide", origin=ide_origin(tmp_path))
    await store.sync_sources([source])
    await store.update_credential(source.id, email="a@example.com")  # learned from usage data
    dead, _ = await store.add_credential(social("old", email="a@example.com"))
    await kill(store, dead.id)
    report = await store.sync_sources([social("ide", origin=ide_origin(tmp_path))])
    assert report.merged == 1
    assert [c.id for c in await store.list_credentials()] == [source.id]


async def test_import_of_the_ide_file_merges_a_dead_copy_the_row_knows(store, tmp_path):
    row = (await store.import_credential(social("ide", origin=ide_origin(tmp_path)))).credential
    await store.update_credential(row.id, email="a@example.com")
    dead, _ = await store.add_credential(social("old", email="a@example.com"))
    await kill(store, dead.id)
    result = await store.import_credential(social("ide", origin=ide_origin(tmp_path)))
    assert result.merged == (dead.id,)


async def test_two_live_logins_of_one_idc_client_are_both_kept(store):
    from tests.store.factories import idc

    first, second = idc("one"), idc("two")
    second.client_id = first.client_id
    assert (await store.import_credential(first)).outcome is Outcome.ADDED
    assert (await store.import_credential(second)).outcome is Outcome.ADDED
    assert len(await store.list_credentials()) == 2

import asyncio

from kirogate.pool.state import DisableReason
from kirogate.store import SyncReport
from kirogate.upstream.auth.sources import load_credentials_file
from kirogate.upstream.credentials import CredentialOrigin
from tests.store.factories import social, token, write_json


def kiro_rs_entry(tag, **fields):
    return {"refreshToken": token(tag), "authMethod": "social", **fields}


def load(path):
    return load_credentials_file(path)


async def test_first_sync_imports_everything_and_sets_ids(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a"), kiro_rs_entry("b")])
    creds = load(path)
    report = await store.sync_sources(creds)
    assert report == SyncReport(added=2, updated=0, unchanged=0, removed=0)
    stored = await store.list_credentials()
    assert sorted(c.id for c in stored) == sorted(c.id for c in creds)
    assert all(c.id is not None for c in creds)
    assert stored[0].origin.kind == "kiro-rs"


async def test_resync_of_the_same_sources_changes_nothing(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a"), kiro_rs_entry("b")])
    first = load(path)
    await store.sync_sources(first)
    again = load(path)
    report = await store.sync_sources(again)
    assert report == SyncReport(added=0, updated=0, unchanged=2, removed=0)
    assert [c.id for c in again] == [c.id for c in first]


async def test_source_keeps_its_file_ids_when_they_are_free(store, tmp_path):
    path = write_json(
        tmp_path / "credentials.json",
        [kiro_rs_entry("a", id=7), kiro_rs_entry("b", id=3)],
    )
    creds = load(path)
    await store.sync_sources(creds)
    assert [c.id for c in creds] == [7, 3]
    # New rows after explicit ids do not collide (PostgreSQL's sequence was moved past them).
    other, created = await store.add_credential(social("later"))
    assert created
    assert other.id not in (3, 7)


async def test_taken_file_id_gets_a_new_row_id(store, tmp_path):
    first, _ = await store.add_credential(social("store-only"))
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a", id=first.id)])
    (cred,) = load(path)
    await store.sync_sources([cred])
    assert cred.id != first.id


async def test_edited_refresh_token_in_the_file_wins(store, tmp_path):
    path = write_json(tmp_path / "kiro-auth-token.json", {"refreshToken": token("old")})
    (cred,) = load(path)
    await store.sync_sources([cred])
    await store.apply_state(cred.id, {}, {"success_count": 5})
    write_json(path, {"refreshToken": token("rotated"), "accessToken": token("rotated", "a")})
    (edited,) = load(path)
    report = await store.sync_sources([edited])
    assert report == SyncReport(added=0, updated=1, unchanged=0, removed=0)
    assert edited.id == cred.id
    stored = await store.get_credential(cred.id)
    assert stored.refresh_token == token("rotated")
    assert stored.access_token == token("rotated", "a")
    (state,) = await store.load_states()
    assert state.success_count == 5  # same row: the pool state survives


async def test_same_refresh_token_keeps_the_newer_stored_access_token(store, tmp_path):
    path = write_json(tmp_path / "kiro-auth-token.json", {"refreshToken": token("same")})
    (cred,) = load(path)
    await store.sync_sources([cred])
    cred.access_token = token("refreshed", "a")
    await store.save_tokens(cred)
    (again,) = load(path)
    report = await store.sync_sources([again])
    assert report.unchanged == 1
    stored = await store.get_credential(cred.id)
    assert stored.access_token == token("refreshed", "a")


async def test_matched_by_fingerprint_when_the_file_moved(store, tmp_path):
    old = write_json(tmp_path / "old.json", [kiro_rs_entry("m")])
    (cred,) = load(old)
    await store.sync_sources([cred])
    new = write_json(tmp_path / "new.json", [kiro_rs_entry("x"), kiro_rs_entry("m")])
    moved = load(new)
    report = await store.sync_sources(moved)
    assert (report.added, report.updated) == (1, 1)  # the origin changed: an update
    assert moved[1].id == cred.id
    stored = await store.get_credential(cred.id)
    assert stored.origin == CredentialOrigin("kiro-rs", new, 1, True)


async def test_entry_removed_from_a_given_file_is_deleted(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a"), kiro_rs_entry("b")])
    first = load(path)
    await store.sync_sources(first)
    write_json(path, [kiro_rs_entry("a")])
    report = await store.sync_sources(load(path))
    assert report == SyncReport(added=0, updated=0, unchanged=1, removed=1)
    assert [c.id for c in await store.list_credentials()] == [first[0].id]


async def test_entry_shifting_up_keeps_its_own_row(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a"), kiro_rs_entry("b")])
    a, b = load(path)
    await store.sync_sources([a, b])
    await store.apply_state(b.id, {"disabled_reason": DisableReason.MANUAL}, {})
    write_json(path, [kiro_rs_entry("b")])  # "a" removed: "b" is now index 0
    (b_again,) = load(path)
    report = await store.sync_sources([b_again])
    assert report.removed == 1
    assert b_again.id == b.id
    (state,) = await store.load_states()
    assert (state.id, state.disabled_reason) == (b.id, DisableReason.MANUAL)
    stored = await store.get_credential(b.id)
    assert stored.refresh_token == token("b")
    assert stored.origin.index == 0


async def test_rows_of_files_not_given_are_kept(store, tmp_path):
    one = write_json(tmp_path / "one.json", [kiro_rs_entry("a")])
    two = write_json(tmp_path / "two.json", [kiro_rs_entry("b")])
    await store.sync_sources(load(one) + load(two))
    added, _ = await store.add_credential(social("manual"))
    report = await store.sync_sources(load(one))
    assert report.removed == 0
    assert len(await store.list_credentials()) == 3
    assert added.id in {c.id for c in await store.list_credentials()}


async def test_emptied_file_named_in_files_loses_its_rows(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a")])
    await store.sync_sources(load(path))
    path.write_text("")
    assert load(path) == []
    report = await store.sync_sources([], files=[path])
    assert report.removed == 1
    assert await store.list_credentials() == []


async def test_environment_credentials_replace_each_other(store):
    env = CredentialOrigin("env")
    await store.sync_sources([social("env-1", origin=env)])
    report = await store.sync_sources([social("env-2", origin=env)])
    assert (report.added, report.removed) == (1, 1)
    (stored,) = await store.list_credentials()
    assert stored.refresh_token == token("env-2")
    # A sync without environment credentials leaves environment rows alone.
    report = await store.sync_sources([])
    assert report.removed == 0


async def test_source_defined_fields_follow_the_file(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a", region="us-east-1")])
    (cred,) = load(path)
    await store.sync_sources([cred])
    await store.update_credential(cred.id, email="learned@example.com", priority=4)
    write_json(path, [kiro_rs_entry("a", region="eu-west-1", proxyUrl="http://p:8080")])
    report = await store.sync_sources(load(path))
    assert report.updated == 1
    stored = await store.get_credential(cred.id)
    assert (stored.region, stored.proxy_url) == ("eu-west-1", "http://p:8080")
    # What the file does not say is kept (learned email, runtime priority).
    assert (stored.email, stored.priority) == ("learned@example.com", 4)


async def test_the_same_secret_twice_in_one_call_is_one_row(store, tmp_path):
    one = social("dup", origin=CredentialOrigin("env"))
    two = social("dup", origin=CredentialOrigin("env"))
    report = await store.sync_sources([one, two])
    assert report == SyncReport(added=1, updated=0, unchanged=1, removed=0)
    assert one.id == two.id


async def test_disabled_entry_is_imported_disabled(store, tmp_path):
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("off", disabled=True)])
    await store.sync_sources(load(path))
    (state,) = await store.load_states()
    assert state.disabled_reason is DisableReason.MANUAL


async def test_concurrent_syncs_from_two_processes_import_once(store, open_store, tmp_path):
    other = await open_store()
    path = write_json(tmp_path / "credentials.json", [kiro_rs_entry("a"), kiro_rs_entry("b")])
    mine, theirs = load(path), load(path)
    reports = await asyncio.gather(store.sync_sources(mine), other.sync_sources(theirs))
    assert sorted(r.added for r in reports) == [0, 2]
    assert sorted(r.unchanged for r in reports) == [0, 2]
    assert [c.id for c in mine] == [c.id for c in theirs]
    assert len(await store.list_credentials()) == 2


async def test_a_short_source_token_is_warned_about_once_when_first_stored(store, tmp_path, caplog):
    import logging

    path = write_json(
        tmp_path / "credentials.json", [{"refreshToken": "rt-tiny", "authMethod": "social"}]
    )
    from kirogate.upstream.auth.sources import discover_credentials

    def discovered():  # as serve reads its sources on every start
        return discover_credentials([path], [], {"HOME": str(tmp_path)}).credentials

    with caplog.at_level(logging.WARNING):
        await store.sync_sources(discovered())
        await store.sync_sources(discovered())
    assert caplog.text.count("refreshToken is only 7 characters") == 1

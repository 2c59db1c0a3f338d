from datetime import timedelta

import pytest
import sqlalchemy as sa

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import ApiKeyRecord, access


async def test_created_key_verifies_and_is_shown_only_once(store):
    record, plaintext = await store.create_api_key("laptop")
    assert plaintext.startswith("kg-")
    assert len(plaintext) > 40
    assert record.name == "laptop"
    assert plaintext.startswith(record.prefix.rstrip("…"))
    assert plaintext not in repr(record)
    verified = await store.verify_api_key(plaintext)
    assert verified.id == record.id
    assert verified.last_used_at is not None


async def test_only_the_hash_is_stored(store):
    _, plaintext = await store.create_api_key("ci")
    async with store.engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT * FROM api_keys"))).mappings().one()
    assert plaintext not in str(dict(row))
    assert row["key_hash"] == access.hash_key(plaintext)


async def test_wrong_or_empty_keys_do_not_verify(store):
    _, plaintext = await store.create_api_key("a")
    assert await store.verify_api_key(plaintext + "x") is None
    assert await store.verify_api_key("") is None
    assert await store.verify_api_key(None) is None


async def test_revoked_key_no_longer_verifies_but_is_listed(store):
    record, plaintext = await store.create_api_key("old")
    await store.revoke_api_key(record.id)
    assert await store.verify_api_key(plaintext) is None
    (listed,) = await store.list_api_keys()
    assert listed.revoked
    with pytest.raises(NotFound):
        await store.revoke_api_key(record.id + 100)


async def test_imported_key_verifies_and_reimport_returns_the_same_record(store):
    imported = await store.add_api_key("from env", "sk-my-existing-client-key")
    assert imported.prefix == "sk-my-…"
    again = await store.add_api_key("renamed", "sk-my-existing-client-key")
    assert again.id == imported.id
    assert again.name == "from env"
    assert (await store.verify_api_key("sk-my-existing-client-key")).id == imported.id


@pytest.mark.parametrize(
    ("name", "key", "message"),
    [
        ("", "long-enough-key", "name"),
        ("n", "short", "8 to 512 characters"),
        ("n", "has a space in it", "cannot contain spaces"),
        ("n", 12345678, "must be a string"),
    ],
)
async def test_bad_imports_are_refused(store, name, key, message):
    with pytest.raises(InvalidRequest, match=message):
        await store.add_api_key(name, key)


async def test_listing_is_masked_and_ordered(store):
    first, k1 = await store.create_api_key("one")
    second, _k2 = await store.create_api_key("two")
    listed = await store.list_api_keys()
    assert [r.id for r in listed] == [first.id, second.id]
    public = listed[0].to_public()
    assert set(public) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked"}
    assert k1 not in str(public)


async def test_last_used_is_written_at_most_once_a_minute(store, monkeypatch):
    _record, plaintext = await store.create_api_key("busy")
    first = await store.verify_api_key(plaintext)
    second = await store.verify_api_key(plaintext)
    assert second.last_used_at == first.last_used_at
    later = first.last_used_at + timedelta(minutes=2)
    monkeypatch.setattr(access, "utcnow", lambda: later)
    third = await store.verify_api_key(plaintext)
    assert third.last_used_at == later
    (listed,) = await store.list_api_keys()
    assert listed.last_used_at == later


def test_display_prefix_never_shows_much_of_a_short_key():
    assert access.display_prefix("abcdefgh") == "ab…"
    assert access.display_prefix("kg-" + "x" * 40) == "kg-xxxxx…"


def test_record_is_frozen():
    record = ApiKeyRecord(1, "n", "p…", None, None, False)
    with pytest.raises(AttributeError):
        record.name = "m"


# ---------------------------------------------------------------- blocked IPs


async def test_block_list_and_unblock(store):
    await store.block_ip("203.0.113.7", "scraping")
    await store.block_ip("10.0.0.0/8")
    await store.block_ip("2001:db8::1/128", "v6")
    assert await store.blocked_ips() == [
        ("203.0.113.7", "scraping"),
        ("10.0.0.0/8", None),
        ("2001:db8::1", "v6"),
    ]
    await store.unblock_ip("10.0.0.0/8")
    assert [ip for ip, _ in await store.blocked_ips()] == ["203.0.113.7", "2001:db8::1"]


async def test_blocking_again_replaces_the_reason(store):
    await store.block_ip("198.51.100.1", "first")
    await store.block_ip("198.51.100.1", "second")
    assert await store.blocked_ips() == [("198.51.100.1", "second")]


async def test_networks_are_normalised(store):
    await store.block_ip(" 192.168.1.77/24 ")
    assert await store.blocked_ips() == [("192.168.1.0/24", None)]
    await store.unblock_ip("192.168.1.0/24")


async def test_bad_ips_and_unknown_unblocks(store):
    with pytest.raises(InvalidRequest, match="not an IP address"):
        await store.block_ip("example.com")
    with pytest.raises(InvalidRequest):
        await store.block_ip("")
    with pytest.raises(NotFound, match="is not blocked"):
        await store.unblock_ip("192.0.2.1")

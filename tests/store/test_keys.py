"""Client keys in the store: limits, expiry, switch, group, regeneration and usage per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store.access import hash_key
from kirogate.store.keys import (
    NO_LIMITS,
    KeyLimits,
    KeyRecord,
    check_expiry,
    check_group,
    parse_limits,
)


async def test_a_created_key_keeps_its_limits_expiry_and_group(store):
    limits = parse_limits({"rpm": 3, "models": ["claude-*"], "tokens_per_month": 10})
    when = datetime.now(UTC) + timedelta(days=1)
    record, plaintext = await store.create_client_key(
        "alice", limits=limits, expires_at=when, group="team-a"
    )
    assert plaintext.startswith("kg-") and plaintext not in repr(record)
    found = await store.find_client_key(plaintext)
    assert found == await store.client_key(record.id)
    assert found.limits == limits
    assert found.group == "team-a"
    assert abs((found.expires_at - when).total_seconds()) < 1
    assert await store.find_client_key(plaintext + "x") is None
    assert await store.find_client_key("") is None
    async with store.engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT * FROM api_keys"))).mappings().one()
    assert plaintext not in str(dict(row)) and row["key_hash"] == hash_key(plaintext)


async def test_update_changes_only_what_is_given(store):
    record, _ = await store.create_client_key("bob")
    changed = await store.update_client_key(
        record.id, name="robert", disabled=True, limits=parse_limits({"rpm": 5}), group="g1"
    )
    assert (changed.name, changed.disabled, changed.limits.rpm, changed.group) == (
        "robert",
        True,
        5,
        "g1",
    )
    again = await store.update_client_key(record.id, expires_at="2030-01-01T00:00:00")
    assert again.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert again.name == "robert" and again.disabled
    cleared = await store.update_client_key(record.id, limits=NO_LIMITS, group=None)
    assert cleared.limits == NO_LIMITS and cleared.group is None
    with pytest.raises(NotFound):
        await store.update_client_key(record.id + 100, name="x")
    with pytest.raises(InvalidRequest, match="disabled"):
        await store.update_client_key(record.id, disabled="yes")
    with pytest.raises(InvalidRequest, match="colour"):
        await store.update_client_key(record.id, colour="red")


async def test_a_revoked_key_is_refused_changes_and_regeneration(store):
    record, plaintext = await store.create_client_key("old")
    await store.revoke_api_key(record.id)
    assert (await store.find_client_key(plaintext)).revoked
    with pytest.raises(InvalidRequest, match="revoked"):
        await store.update_client_key(record.id, name="new")
    with pytest.raises(InvalidRequest, match="revoked"):
        await store.regenerate_client_key(record.id)


async def test_regenerate_replaces_the_secret_and_keeps_the_rest(store):
    record, old = await store.create_client_key("ci", limits=parse_limits({"rpm": 9}))
    regenerated, new = await store.regenerate_client_key(record.id)
    assert new != old and regenerated.id == record.id and regenerated.limits.rpm == 9
    assert await store.find_client_key(old) is None
    assert (await store.find_client_key(new)).id == record.id
    assert [key.id for key in await store.client_keys()] == [record.id]


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ("fast", "limits"),
        ({"rpm": 0}, "limits.rpm"),
        ({"rpm": True}, "limits.rpm"),
        ({"tokens_per_day": -1}, "limits.tokens_per_day"),
        ({"tokens_per_month": 2**63}, "limits.tokens_per_month"),
        ({"models": "claude-*"}, "limits.models"),
        ({"models": [""]}, "limits.models"),
        ({"models": [3]}, "limits.models"),
        ({"burst": 3}, "limits.burst"),
    ],
)
def test_bad_limits_name_the_field(limits, field):
    with pytest.raises(InvalidRequest) as caught:
        parse_limits(limits)
    assert caught.value.param == field


def test_limits_match_model_names_and_patterns():
    limits = KeyLimits(models=("claude-haiku-*", "GPT-4o"))
    assert limits.allows_model("claude-haiku-4-5")
    assert limits.allows_model("gpt-4o")
    assert not limits.allows_model("claude-sonnet-4-6", "")
    assert KeyLimits().allows_model("anything")
    assert parse_limits(None) == NO_LIMITS and NO_LIMITS.unlimited
    assert parse_limits({"models": None}) == NO_LIMITS


def test_groups_and_expiry_are_checked():
    assert check_group("team-a.eu_1") == "team-a.eu_1"
    assert check_group(None) is None
    for bad in ("", "-x", "a" * 65, "team a", 3):
        with pytest.raises(InvalidRequest) as caught:
            check_group(bad)
        assert caught.value.param == "group"
    assert check_expiry(None) is None
    assert check_expiry("2030-01-01T01:00:00+01:00") == datetime(2030, 1, 1, tzinfo=UTC)
    for bad in ("soon", 5):
        with pytest.raises(InvalidRequest) as caught:
            check_expiry(bad)
        assert caught.value.param == "expires_at"


def test_refusal_says_why():
    now = datetime.now(UTC)
    base = KeyRecord(1, "k", "kg-…", now)
    assert base.refusal(now) is None
    assert "revoked" in (KeyRecord(1, "k", "p", now, revoked=True).refusal(now) or "")
    assert "disabled" in (KeyRecord(1, "k", "p", now, disabled=True).refusal(now) or "")
    assert "expired" in (KeyRecord(1, "k", "p", now, expires_at=now).refusal(now) or "")


async def test_bad_names_and_groups_are_refused_on_create(store):
    with pytest.raises(InvalidRequest) as caught:
        await store.create_client_key("")
    assert caught.value.param == "name"
    with pytest.raises(InvalidRequest) as caught:
        await store.create_client_key("ok", group="not ok")
    assert caught.value.param == "group"

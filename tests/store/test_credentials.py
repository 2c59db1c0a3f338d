import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kirogate.errors import InvalidRequest, NotFound
from kirogate.pool.state import DisableReason
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin
from tests.store.factories import EXPIRES, api_key, file_origin, idc, social, token


async def test_add_assigns_an_id_and_store_origin(store):
    cred = social("a")
    stored, created = await store.add_credential(cred)
    assert created
    assert stored is cred
    assert cred.id is not None
    assert cred.origin == CredentialOrigin("store")


async def test_add_keeps_a_given_origin(store, tmp_path):
    origin = file_origin(tmp_path / "credentials.json", 2)
    cred = social("o", origin=origin)
    await store.add_credential(cred)
    loaded = await store.get_credential(cred.id)
    assert loaded.origin == CredentialOrigin("kiro-rs", tmp_path / "credentials.json", 2, True)


async def test_add_dedupes_on_refresh_token(store):
    first, _ = await store.add_credential(social("same", email="a@example.com"))
    again = social("same", email="other@example.com")
    existing, created = await store.add_credential(again)
    assert not created
    assert existing.id == first.id
    assert existing.email == "a@example.com"
    assert again.id is None
    assert len(await store.list_credentials()) == 1


async def test_add_dedupes_api_keys_on_the_key(store):
    _, created = await store.add_credential(api_key("k1"))
    _, again = await store.add_credential(api_key("k1"))
    _, other = await store.add_credential(api_key("k2"))
    assert (created, again, other) == (True, False, True)


async def test_concurrent_adds_of_one_credential_store_it_once(store, open_store):
    other = await open_store()
    results = await asyncio.gather(
        *(s.add_credential(social("race")) for s in (store, other, store, other))
    )
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({cred.id for cred, _ in results}) == 1


async def test_round_trip_keeps_every_field(store, tmp_path):
    cred = idc(
        "full",
        access_token=token("full", "a"),
        expires_at=EXPIRES,
        profile_arn="arn:aws:codewhisperer:us-east-1:1:profile/P",
        region="us-east-1",
        api_region="us-west-2",
        machine_id="m" * 64,
        email="dev@example.com",
        subscription_title="KIRO PRO",
        priority=3,
        proxy_url="socks5h://proxy:1080",
        proxy_username="pu",
        proxy_password="pp-secret",
        provider="Github",
        client_id_hash="abc123",
        origin=file_origin(tmp_path / "c.json", 0),
        extra={"custom": [1, {"x": True}]},
    )
    await store.add_credential(cred)
    loaded = await store.get_credential(cred.id)
    for name in Credential.__slots__:
        assert getattr(loaded, name) == getattr(cred, name), name
    assert loaded.expires_at.tzinfo is not None


async def test_expiry_in_another_zone_is_stored_as_the_same_instant(store):
    cred = social("tz", expires_at=datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=8))))
    await store.add_credential(cred)
    loaded = await store.get_credential(cred.id)
    assert loaded.expires_at == datetime(2030, 1, 1, 4, tzinfo=UTC)
    assert loaded.expires_at.utcoffset() == timedelta(0)


async def test_list_is_ordered_by_priority_then_id(store):
    for tag, priority in (("p2", 2), ("p0", 0), ("p1", 1), ("p0b", 0)):
        await store.add_credential(social(tag, priority=priority))
    listed = await store.list_credentials()
    assert [c.priority for c in listed] == [0, 0, 1, 2]
    assert listed[0].id < listed[1].id


async def test_disabled_source_credential_maps_to_pool_state(store):
    cred = social("off", disabled=True, disabled_reason="Manual")
    await store.add_credential(cred)
    (state,) = await store.load_states()
    assert state.disabled_reason is DisableReason.MANUAL
    loaded = await store.get_credential(cred.id)
    assert loaded.disabled
    assert loaded.disabled_reason == "manual"


async def test_disabled_with_free_text_keeps_the_text_as_detail(store):
    cred = social("why", disabled=True, disabled_reason="account banned")
    await store.add_credential(cred)
    (state,) = await store.load_states()
    assert state.disabled_reason is DisableReason.MANUAL
    assert state.disabled_detail == "account banned"


async def test_state_disable_shows_on_the_credential(store):
    cred, _ = await store.add_credential(social("s"))
    await store.apply_state(cred.id, {"disabled_reason": DisableReason.INVALID_REFRESH_TOKEN}, {})
    loaded = await store.get_credential(cred.id)
    assert loaded.disabled
    assert loaded.disabled_reason == "invalid_refresh_token"
    await store.apply_state(cred.id, {"disabled_reason": None}, {})
    assert not (await store.get_credential(cred.id)).disabled


@pytest.mark.parametrize(
    ("cred", "param"),
    [
        (Credential(AuthMethod.SOCIAL), "refreshToken"),
        (Credential(AuthMethod.API_KEY), "kiroApiKey"),
        (Credential(AuthMethod.SOCIAL, refresh_token=token("x"), priority=-1), "priority"),
        (
            Credential(
                AuthMethod.SOCIAL, refresh_token=token("x"), expires_at=datetime(2030, 1, 1)
            ),
            "expiresAt",
        ),
        (Credential(AuthMethod.SOCIAL, refresh_token=token("x"), proxy_url="ftp://x"), "proxyUrl"),
        (Credential(AuthMethod.SOCIAL, refresh_token=token("x"), region="r" * 65), "region"),
    ],
)
async def test_add_rejects_unusable_credentials(store, cred, param):
    with pytest.raises(InvalidRequest) as caught:
        await store.add_credential(cred)
    assert caught.value.param == param


async def test_get_and_delete_unknown_ids_are_not_found(store):
    with pytest.raises(NotFound):
        await store.get_credential(999)
    with pytest.raises(NotFound):
        await store.delete_credential(999)


async def test_delete_removes_the_row(store):
    cred, _ = await store.add_credential(social("d"))
    await store.delete_credential(cred.id)
    assert await store.list_credentials() == []
    assert await store.load_states() == []


async def test_save_tokens_persists_a_rotated_refresh_token(store):
    cred, _ = await store.add_credential(social("old"))
    cred.refresh_token = token("rotated")
    cred.access_token = token("rotated", "a")
    cred.expires_at = EXPIRES + timedelta(hours=1)
    cred.profile_arn = "arn:new"
    cred.email = "new@example.com"
    await store.save_tokens(cred)
    loaded = await store.get_credential(cred.id)
    assert (loaded.refresh_token, loaded.access_token) == (cred.refresh_token, cred.access_token)
    assert loaded.expires_at == cred.expires_at
    assert (loaded.profile_arn, loaded.email) == ("arn:new", "new@example.com")
    # The fingerprint follows the token: the old token no longer dedupes, the new one does.
    _, created = await store.add_credential(social("rotated"))
    assert not created
    _, created = await store.add_credential(social("old"))
    assert created


async def test_save_tokens_of_unknown_or_unsaved_credentials(store):
    with pytest.raises(InvalidRequest):
        await store.save_tokens(social("nosave"))
    ghost = social("ghost", id=4242)
    with pytest.raises(NotFound):
        await store.save_tokens(ghost)


async def test_reload_tokens_takes_what_another_process_stored(store, open_store):
    other = await open_store()
    mine, _ = await store.add_credential(social("shared"))
    theirs = await other.get_credential(mine.id)
    assert not await store.reload_tokens(mine)
    theirs.access_token = token("fresh", "a")
    theirs.refresh_token = token("fresh")
    theirs.expires_at = EXPIRES + timedelta(days=1)
    theirs.machine_id = "machine-2"
    await other.save_tokens(theirs)
    assert await store.reload_tokens(mine)
    assert mine.access_token == theirs.access_token
    assert mine.refresh_token == theirs.refresh_token
    assert mine.expires_at == theirs.expires_at
    assert mine.machine_id == "machine-2"
    assert not await store.reload_tokens(mine)


async def test_reload_tokens_of_a_deleted_credential_changes_nothing(store):
    cred, _ = await store.add_credential(social("gone"))
    await store.delete_credential(cred.id)
    assert not await store.reload_tokens(cred)
    assert cred.refresh_token == token("gone")


async def test_update_credential_settings(store):
    cred, _ = await store.add_credential(idc("u"))
    proxy = await store.add_proxy("http://proxy:8080")
    await store.update_credential(
        cred.id,
        priority=7,
        weight=2.5,
        proxy_id=proxy.id,
        email="e@example.com",
        region="eu-central-1",
        client_secret="new-client-secret",
        usage={"limit": 50, "used": 1.5},
        usage_fetched_at=EXPIRES,
    )
    loaded = await store.get_credential(cred.id)
    assert (loaded.priority, loaded.email, loaded.region) == (7, "e@example.com", "eu-central-1")
    assert loaded.client_secret == "new-client-secret"
    (state,) = await store.load_states()
    assert (state.priority, state.weight) == (7, 2.5)
    assert await store.get_usage(cred.id) == ({"limit": 50, "used": 1.5}, EXPIRES)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "x"}, "unknown credential field 'password'"),
        ({"priority": "high"}, "non-negative integer"),
        ({"weight": 0}, "positive number"),
        ({"proxy_id": 12345}, "proxy 12345 does not exist"),
        ({"proxy_url": "gopher://x"}, "use http://"),
        ({"email": 5}, "must be a string"),
        ({"usage": {"x": float("nan")}}, "cannot be stored as JSON"),
        ({"usage_fetched_at": datetime(2030, 1, 1)}, "timezone-aware"),
    ],
)
async def test_update_credential_rejects_bad_fields(store, fields, message):
    cred, _ = await store.add_credential(social("bad"))
    with pytest.raises(InvalidRequest, match=message):
        await store.update_credential(cred.id, **fields)


async def test_update_unknown_credential_is_not_found(store):
    with pytest.raises(NotFound):
        await store.update_credential(31337, priority=1)


async def test_removing_a_proxy_clears_its_assignment(store):
    cred, _ = await store.add_credential(social("px"))
    proxy = await store.add_proxy("socks5://proxy:1080")
    await store.update_credential(cred.id, proxy_id=proxy.id)
    await store.remove_proxy(proxy.id)
    await store.update_credential(cred.id, priority=1)  # the row is intact
    async with store.engine.connect() as conn:
        import sqlalchemy as sa

        value = await conn.scalar(sa.text("SELECT proxy_id FROM credentials"))
    assert value is None


async def test_add_refuses_a_line_break_in_the_api_key_naming_the_field(store):
    with pytest.raises(InvalidRequest) as caught:
        await store.add_credential(Credential(AuthMethod.API_KEY, kiro_api_key="ksk_a\r\nb"))
    assert caught.value.param == "kiroApiKey"
    assert await store.list_credentials() == []


async def test_update_refuses_a_proxy_url_with_a_line_break(store):
    cred, _ = await store.add_credential(social("proxied"))
    with pytest.raises(InvalidRequest) as caught:
        await store.update_credential(cred.id, proxy_url="http://proxy:8080/\r\nx")
    assert caught.value.param == "proxyUrl"


async def test_a_stored_row_no_request_could_carry_is_not_loaded(store, caplog):
    good, _ = await store.add_credential(social("good"))
    bad, _ = await store.add_credential(social("bad"))
    await store.update_credential(bad.id, email="x@example.com")
    # Written before fields were checked (or by hand): a control character in a column.
    import sqlalchemy as sa

    from kirogate.store.schema import credentials as table

    async with store._writing() as conn:
        await conn.execute(sa.update(table).where(table.c.id == bad.id).values(region="us\n"))
    loaded = await store.list_credentials()
    assert [c.id for c in loaded] == [good.id]
    assert "region" in caplog.text

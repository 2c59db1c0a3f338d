"""Credential groups in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import Store
from tests.store.factories import social


async def two_credentials(store: Store) -> tuple[int, int]:
    one, _ = await store.add_credential(social("one"))
    two, _ = await store.add_credential(social("two"))
    assert one.id is not None and two.id is not None
    return one.id, two.id


async def test_create_list_get_update_delete(store: Store) -> None:
    created = await store.create_group("team-a", "Team A")
    assert (created.name, created.description, created.credential_ids) == ("team-a", "Team A", ())
    await store.create_group("b.team_2")
    assert [g.name for g in await store.list_groups()] == ["b.team_2", "team-a"]
    assert (await store.get_group("team-a")).created_at == created.created_at
    updated = await store.update_group("team-a", description=None)
    assert updated.description is None
    await store.delete_group("team-a")
    assert [g.name for g in await store.list_groups()] == ["b.team_2"]
    with pytest.raises(NotFound):
        await store.get_group("team-a")
    with pytest.raises(NotFound):
        await store.delete_group("team-a")
    with pytest.raises(NotFound):
        await store.update_group("team-a", description="x")


async def test_a_taken_name_is_refused_naming_the_field(store: Store) -> None:
    await store.create_group("team")
    with pytest.raises(InvalidRequest) as caught:
        await store.create_group("team")
    assert caught.value.param == "name"


@pytest.mark.parametrize("name", ["", " ", "-lead", "a b", "x" * 65, "ü", "a/b", None, 3])
async def test_bad_names_are_refused(store: Store, name: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await store.create_group(name)  # type: ignore[arg-type]
    assert caught.value.param == "name"


async def test_bad_descriptions_are_refused(store: Store) -> None:
    for description in (5, "x" * 1001, "nul\x00"):
        with pytest.raises(InvalidRequest) as caught:
            await store.create_group("team", description)  # type: ignore[arg-type]
        assert caught.value.param == "description"


async def test_a_name_that_cannot_exist_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.get_group("bad name\x00")


async def test_members_are_replaced_added_and_removed(store: Store) -> None:
    one, two = await two_credentials(store)
    await store.create_group("team")
    group = await store.set_group_members("team", [two, one, two])
    assert group.credential_ids == (one, two)
    assert (await store.set_group_members("team", [two])).credential_ids == (two,)
    assert (await store.add_group_members("team", [one, two])).credential_ids == (one, two)
    assert (await store.remove_group_member("team", one)).credential_ids == (two,)
    with pytest.raises(NotFound):
        await store.remove_group_member("team", one)
    assert (await store.set_group_members("team", [])).credential_ids == ()


async def test_a_credential_may_be_in_several_groups(store: Store) -> None:
    one, two = await two_credentials(store)
    await store.create_group("a")
    await store.create_group("b")
    await store.create_group("c")
    await store.set_group_members("a", [one])
    await store.set_group_members("b", [one, two])
    assert await store.group_memberships() == {
        "a": frozenset({one}),
        "b": frozenset({one, two}),
        "c": frozenset(),
    }


async def test_unknown_ids_are_refused_by_name_and_nothing_changes(store: Store) -> None:
    one, _ = await two_credentials(store)
    await store.create_group("team")
    await store.set_group_members("team", [one])
    with pytest.raises(InvalidRequest) as caught:
        await store.set_group_members("team", [one, 404, 405])
    assert caught.value.param == "ids"
    assert "#404, #405" in caught.value.message
    with pytest.raises(InvalidRequest):
        await store.add_group_members("team", [406])
    assert (await store.get_group("team")).credential_ids == (one,)


@pytest.mark.parametrize("ids", [[0], [-1], ["1"], [True], [1.5], [2**40]])
async def test_bad_ids_are_refused(store: Store, ids: list[object]) -> None:
    await store.create_group("team")
    with pytest.raises(InvalidRequest) as caught:
        await store.set_group_members("team", ids)  # type: ignore[arg-type]
    assert caught.value.param == "ids"


async def test_members_of_an_unknown_group(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.set_group_members("nope", [])
    with pytest.raises(NotFound):
        await store.add_group_members("nope", [])
    with pytest.raises(NotFound):
        await store.remove_group_member("nope", 1)


async def test_deleting_a_credential_or_a_group_removes_its_memberships(store: Store) -> None:
    one, two = await two_credentials(store)
    await store.create_group("team")
    await store.set_group_members("team", [one, two])
    await store.delete_credential(one)
    assert (await store.get_group("team")).credential_ids == (two,)
    await store.delete_group("team")
    await store.create_group("team")
    assert (await store.get_group("team")).credential_ids == ()


async def test_public_view(store: Store) -> None:
    group = await store.create_group("team", "desc")
    view = group.to_public()
    assert view["name"] == "team" and view["credential_ids"] == []
    assert view["created_at"].endswith("Z")

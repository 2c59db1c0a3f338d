"""``/api/admin/groups``: every route, its admin-key check and its bad-input answers (400
naming the field, never a 422 or a 500), over the real operations of the fake gateway (the
groups kept in memory, with the store's rules; the store's own are in tests/store)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.admin.fakes import CLIENT_KEY, FakeGateway, call, key

GROUP_ROUTES = [
    ("GET", "/api/admin/groups", None),
    ("POST", "/api/admin/groups", {"name": "team"}),
    ("GET", "/api/admin/groups/team", None),
    ("PATCH", "/api/admin/groups/team", {"description": "x"}),
    ("DELETE", "/api/admin/groups/team", None),
    ("PUT", "/api/admin/groups/team/credentials", {"ids": [1]}),
    ("POST", "/api/admin/groups/team/credentials", {"ids": [1]}),
    ("DELETE", "/api/admin/groups/team/credentials/1", None),
]


async def make(app: FastAPI, name: str = "team", **fields: object) -> dict[str, object]:
    reply = await call(app, "POST", "/api/admin/groups", body={"name": name, **fields},
                       headers=key())  # fmt: skip
    assert reply.status == 201, reply.text
    body: dict[str, object] = reply.json()
    return body


async def test_create_list_get_patch_delete(app: FastAPI) -> None:
    made = await make(app, description="Team A")
    assert made["name"] == "team" and made["description"] == "Team A"
    assert made["credential_ids"] == []
    listed = (await call(app, "GET", "/api/admin/groups", headers=key())).json()
    assert listed["total"] == 1 and listed["groups"][0]["name"] == "team"
    got = await call(app, "GET", "/api/admin/groups/team", headers=key())
    assert got.json() == made
    patched = await call(app, "PATCH", "/api/admin/groups/team",
                         body={"description": None}, headers=key())  # fmt: skip
    assert patched.status == 200 and patched.json()["description"] is None
    deleted = await call(app, "DELETE", "/api/admin/groups/team", headers=key())
    assert deleted.json() == {"success": True, "message": "group team deleted"}
    missing = await call(app, "GET", "/api/admin/groups/team", headers=key())
    assert missing.status == 404
    assert missing.json()["error"]["type"] == "not_found"


async def test_members_replace_add_and_remove(app: FastAPI, gateway: FakeGateway) -> None:
    await make(app)
    put = await call(app, "PUT", "/api/admin/groups/team/credentials",
                     body={"ids": [3, 1]}, headers=key())  # fmt: skip
    assert put.status == 200 and put.json()["credential_ids"] == [1, 3]
    added = await call(app, "POST", "/api/admin/groups/team/credentials",
                       body={"ids": [2]}, headers=key())  # fmt: skip
    assert added.json()["credential_ids"] == [1, 2, 3]
    removed = await call(app, "DELETE", "/api/admin/groups/team/credentials/2", headers=key())
    assert removed.json()["credential_ids"] == [1, 3]
    again = await call(app, "DELETE", "/api/admin/groups/team/credentials/2", headers=key())
    assert again.status == 404


async def test_unknown_credential_ids_are_a_400_naming_them(app: FastAPI) -> None:
    await make(app)
    reply = await call(app, "PUT", "/api/admin/groups/team/credentials",
                       body={"ids": [1, 41, 42]}, headers=key())  # fmt: skip
    assert reply.status == 400
    message = reply.json()["error"]["message"]
    assert "#41" in message and "#42" in message and "ids" in message
    got = await call(app, "GET", "/api/admin/groups/team", headers=key())
    assert got.json()["credential_ids"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/admin/groups", {}, "name"),
        ("POST", "/api/admin/groups", {"name": ""}, "name"),
        ("POST", "/api/admin/groups", {"name": "a b"}, "name"),
        ("POST", "/api/admin/groups", {"name": 5}, "name"),
        ("POST", "/api/admin/groups", {"name": "x" * 65}, "name"),
        ("POST", "/api/admin/groups", {"name": "ok", "description": 3}, "description"),
        ("POST", "/api/admin/groups", {"name": "ok", "colour": "red"}, "colour"),
        ("PATCH", "/api/admin/groups/team", {}, "description"),
        ("PATCH", "/api/admin/groups/team", {"name": "other", "description": "x"}, "name"),
        ("PATCH", "/api/admin/groups/team", {"description": "x" * 1001}, "description"),
        ("PUT", "/api/admin/groups/team/credentials", {}, "ids"),
        ("PUT", "/api/admin/groups/team/credentials", {"ids": 1}, "ids"),
        ("PUT", "/api/admin/groups/team/credentials", {"ids": ["1"]}, "ids"),
        ("PUT", "/api/admin/groups/team/credentials", {"ids": [0]}, "ids"),
        ("POST", "/api/admin/groups/team/credentials", {"ids": [True]}, "ids"),
        ("POST", "/api/admin/groups/team/credentials", {"ids": [1], "x": 1}, "x"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    app: FastAPI, method: str, path: str, body: dict[str, object], field: str
) -> None:
    await make(app)
    reply = await call(app, method, path, body=body, headers=key())
    assert reply.status == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert field in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/admin/groups"),
        ("PUT", "/api/admin/groups/team/credentials"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_a_400(
    app: FastAPI, method: str, path: str
) -> None:
    await make(app)
    for raw in (b"", b"[1]", b"{"):
        reply = await call(app, method, path, raw=raw, headers=key())
        assert reply.status == 400


async def test_a_taken_name_is_a_400(app: FastAPI) -> None:
    await make(app)
    reply = await call(app, "POST", "/api/admin/groups", body={"name": "team"}, headers=key())
    assert reply.status == 400
    assert "exists already" in reply.json()["error"]["message"]


async def test_a_bad_credential_id_in_the_path_is_a_400(app: FastAPI) -> None:
    await make(app)
    reply = await call(app, "DELETE", "/api/admin/groups/team/credentials/x1", headers=key())
    assert reply.status == 400


async def test_unknown_groups_are_404_everywhere(app: FastAPI) -> None:
    for method, path, body in GROUP_ROUTES[2:]:
        reply = await call(app, method, path, body=body, headers=key())
        assert reply.status == 404, (method, path)


@pytest.mark.parametrize("headers", [{}, key("wrong-key"), key(CLIENT_KEY)])
async def test_every_route_refuses_a_missing_wrong_or_client_key(
    app: FastAPI, headers: dict[str, str]
) -> None:
    for method, path, body in GROUP_ROUTES:
        reply = await call(app, method, path, body=body, headers=headers)
        assert reply.status == 401, (method, path)
        assert reply.json()["error"]["type"] == "authentication_error"
    listed = (await call(app, "GET", "/api/admin/groups", headers=key())).json()
    assert listed == {"total": 0, "groups": []}


async def test_the_routes_are_documented_with_their_bodies_and_answers(app: FastAPI) -> None:
    from kirogate import admin
    from kirogate.api.app import create_app  # noqa: F401 - the real app documents the same routes

    schema = FastAPI(routes=admin.router.routes).openapi()
    operation = schema["paths"]["/api/admin/groups"]["post"]
    assert operation["tags"] == ["Groups"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "name" in str(body)
    assert "201" in operation["responses"] and "400" in operation["responses"]
    put = schema["paths"]["/api/admin/groups/{name}/credentials"]["put"]
    assert "ids" in str(put["requestBody"])
    assert "200" in put["responses"]

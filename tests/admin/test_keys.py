"""``/api/admin/keys`` on a real gateway with its store (SQLite): authorization, bodies, views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirogate.api.app import create_app
from kirogate.service import Gateway
from kirogate.settings import load_settings

ADMIN = "admin-key-for-keys-tests"
CONFIGURED = "configured-client-key"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    overrides = {
        "server.admin_key": ADMIN,
        "server.api_keys": (CONFIGURED,),
        "data_dir": tmp_path,
        "upstream.usage_interval": 0,
    }
    gateway = Gateway(load_settings({}, overrides), [], persistent=True)
    await gateway.start()
    app = create_app(gateway)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers={"x-api-key": ADMIN}
        ) as http:
            yield http
    finally:
        await gateway.close()


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/admin/keys", json={"name": "alice", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_answers_the_key_once_then_only_its_prefix(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/admin/groups", json={"name": "team-a"})).status_code == 201
    created = await create(
        client,
        limits={"rpm": 10, "models": ["claude-*"], "max_concurrency": 2},
        expires_at="2099-01-01T00:00:00Z",
        group="team-a",
    )
    key = created["key"]
    assert key.startswith("kg-") and key.startswith(created["prefix"].rstrip("…"))
    assert created["limits"]["rpm"] == 10 and created["limits"]["models"] == ["claude-*"]
    assert created["group"] == "team-a" and created["enabled"] and not created["expired"]
    listed = (await client.get("/api/admin/keys")).json()["keys"]
    assert key not in str(listed)
    assert [row["id"] for row in listed] == ["default", created["id"]]
    assert listed[0]["configured"] and listed[0]["limits"]["rpm"] is None
    assert CONFIGURED not in str(listed)
    one = (await client.get(f"/api/admin/keys/{created['id']}")).json()
    assert one["usage"]["today"]["requests"] == 0 and "key" not in one
    default = (await client.get("/api/admin/keys/default")).json()
    assert default["name"] == "default"


async def test_patch_renames_limits_disables_and_sets_expiry_and_group(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client)
    path = f"/api/admin/keys/{created['id']}"
    assert (await client.post("/api/admin/groups", json={"name": "team-b"})).status_code == 201
    response = await client.patch(
        path,
        json={
            "name": "alice-2",
            "limits": {"tokens_per_day": 1000},
            "enabled": False,
            "expires_at": "2000-01-01T00:00:00+00:00",
            "group": "team-b",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "alice-2" and not body["enabled"] and body["expired"]
    assert body["limits"]["tokens_per_day"] == 1000 and body["group"] == "team-b"
    cleared = (await client.patch(path, json={"group": None, "expires_at": None})).json()
    assert cleared["group"] is None and not cleared["expired"]


async def test_delete_revokes_and_regenerate_replaces_the_secret(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client)
    regenerated = (await client.post(f"/api/admin/keys/{created['id']}/regenerate")).json()
    assert regenerated["key"] != created["key"] and regenerated["id"] == created["id"]
    old = await client.get("/v1/models", headers={"x-api-key": created["key"]})
    assert old.status_code == 401
    new = await client.get("/v1/models", headers={"x-api-key": regenerated["key"]})
    assert new.status_code == 200
    deleted = await client.delete(f"/api/admin/keys/{created['id']}")
    assert deleted.status_code == 200
    revoked = await client.get("/v1/models", headers={"x-api-key": regenerated["key"]})
    assert revoked.status_code == 401 and "revoked" in revoked.text
    listed = (await client.get(f"/api/admin/keys/{created['id']}")).json()
    assert listed["revoked"] and not listed["enabled"]
    again = await client.patch(f"/api/admin/keys/{created['id']}", json={"name": "x"})
    assert again.status_code == 400


async def test_the_configured_key_is_read_only(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("PATCH", "/api/admin/keys/default"),
        ("DELETE", "/api/admin/keys/default"),
        ("POST", "/api/admin/keys/default/regenerate"),
    ):
        response = await client.request(method, path, json={"name": "x"})
        assert response.status_code == 400, (method, response.text)
        assert "--api-key" in response.json()["error"]["message"]


async def test_no_admin_access_with_a_client_key_or_none(client: httpx.AsyncClient) -> None:
    created = await create(client)
    # Eight wrong keys: under the sign-in throttle's ten a minute.
    for headers in ({"x-api-key": created["key"]}, {"x-api-key": CONFIGURED}, {"x-api-key": ""}):
        for method, path in (
            ("GET", "/api/admin/keys"),
            ("POST", "/api/admin/keys"),
            ("PATCH", f"/api/admin/keys/{created['id']}"),
            ("POST", f"/api/admin/keys/{created['id']}/regenerate"),
        ):
            response = await client.request(method, path, headers=headers, json={"name": "x"})
            assert response.status_code == 401, (method, path, headers)
    assert (await client.get(f"/api/admin/keys/{created['id']}")).json()["name"] == "alice"
    # The admin key is not a client key.
    refused = await client.get("/v1/models", headers={"x-api-key": ADMIN})
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 3}, "name"),
        ({"name": "a" * 201}, "name"),
        ({"name": "a", "limits": {"rpm": 0}}, "limits.rpm"),
        ({"name": "a", "limits": {"rpm": "fast"}}, "limits.rpm"),
        ({"name": "a", "limits": {"models": "x"}}, "limits.models"),
        ({"name": "a", "limits": {"burst": 1}}, "limits.burst"),
        ({"name": "a", "limits": []}, "limits"),
        ({"name": "a", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "a", "expires_at": 5}, "expires_at"),
        ({"name": "a", "group": "no spaces"}, "group"),
        ({"name": "a", "group": "g" * 65}, "group"),
        ({"name": "a", "group": "no-such-group"}, "group"),
        ({"name": "a", "colour": "red"}, "colour"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/admin/keys", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


async def test_bad_patches_and_ids(client: httpx.AsyncClient) -> None:
    created = await create(client)
    path = f"/api/admin/keys/{created['id']}"
    for body, field in (
        ({"enabled": "no"}, "enabled"),
        ({"limits": {"rpm": -1}}, "limits.rpm"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ):
        response = await client.patch(path, json=body)
        assert response.status_code == 400 and field in response.text, body
    assert (await client.get("/api/admin/keys/abc")).status_code == 400
    assert (await client.get("/api/admin/keys/0")).status_code == 400
    assert (await client.get("/api/admin/keys/default-9")).status_code == 400
    assert (await client.get("/api/admin/keys/999")).status_code == 404
    assert (await client.delete("/api/admin/keys/999")).status_code == 404
    assert (await client.post("/api/admin/keys/999/regenerate")).status_code == 404
    assert (await client.post("/api/admin/keys", content=b"[1]")).status_code == 400

"""``GET /api/admin/audit`` and the trail the admin route class records for every change."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from kirogate.service import Gateway
from tests.admin.fakes import CLIENT_KEY, REFRESH, SECRETS, FakeGateway, call, key


async def test_a_change_is_recorded_with_route_target_actor_and_address(app: FastAPI) -> None:
    reply = await call(app, "POST", "/api/admin/credentials/2/disabled",
                       body={"disabled": True}, headers=key(), client="10.1.2.3")  # fmt: skip
    assert reply.status == 200
    rows = (await call(app, "GET", "/api/admin/audit", headers=key())).json()["items"]
    assert len(rows) == 1
    row = rows[0]
    assert row["action"] == "POST /api/admin/credentials/{credential_id}/disabled"
    assert row["name"] == "set_disabled"
    assert row["target"] == "2"
    assert row["actor"] == "admin-key"
    assert row["address"] == "10.1.2.3"
    assert row["status"] == 200
    assert row["detail"] == {"disabled": True}


async def test_a_refusal_is_recorded_with_its_error_and_field(app: FastAPI) -> None:
    await call(app, "POST", "/api/admin/credentials/1/priority", body={"priority": "x"},
               headers=key())  # fmt: skip
    (row,) = (await call(app, "GET", "/api/admin/audit", headers=key())).json()["items"]
    assert row["status"] == 400
    assert row["detail"] == {"priority": "x", "error": "InvalidRequest", "param": "priority"}


async def test_reads_and_wrong_keys_are_not_recorded(app: FastAPI) -> None:
    await call(app, "GET", "/api/admin/credentials", headers=key())
    await call(app, "POST", "/api/admin/credentials/1/reset", headers=key("wrong-key-123456"))
    await call(app, "POST", "/api/admin/credentials/1/reset", headers=key(CLIENT_KEY))
    assert (await call(app, "GET", "/api/admin/audit", headers=key())).json()["items"] == []


async def test_no_secret_reaches_the_trail(app: FastAPI) -> None:
    await call(app, "POST", "/api/admin/credentials",
               body={"refreshToken": REFRESH + "x", "clientSecret": SECRETS[3], "name": "n"},
               headers=key())  # fmt: skip
    text = (await call(app, "GET", "/api/admin/audit", headers=key())).text
    assert all(secret not in text for secret in SECRETS)
    assert REFRESH not in text and "refreshToken" not in text


async def test_filters_and_pagination(app: FastAPI) -> None:
    for cid in ("1", "2", "3"):
        await call(app, "POST", f"/api/admin/credentials/{cid}/priority",
                   body={"priority": 4}, headers=key())  # fmt: skip
    await call(app, "PUT", "/api/admin/config/load-balancing", body={"mode": "balanced"},
               headers=key())  # fmt: skip
    page = (await call(app, "GET", "/api/admin/audit?limit=2", headers=key())).json()
    assert [row["name"] for row in page["items"]] == ["set_load_balancing", "set_priority"]
    cursor = page["next_cursor"]
    rest = (await call(app, "GET", f"/api/admin/audit?limit=2&cursor={cursor}",
                       headers=key())).json()  # fmt: skip
    assert [row["target"] for row in rest["items"]] == ["2", "1"]
    by_target = (await call(app, "GET", "/api/admin/audit?target=3", headers=key())).json()
    assert [row["target"] for row in by_target["items"]] == ["3"]
    by_action = (await call(app, "GET", "/api/admin/audit?action=set_load_balancing",
                            headers=key())).json()  # fmt: skip
    assert len(by_action["items"]) == 1
    future = (await call(app, "GET", "/api/admin/audit?since=2999-01-01T00:00:00Z",
                         headers=key())).json()  # fmt: skip
    assert future["items"] == []
    assert (await call(app, "GET", "/api/admin/audit?actor=console:x", headers=key())).json()[
        "items"
    ] == []


@pytest.mark.parametrize(
    ("query", "param"),
    [("since=yesterday", "since"), ("until=x", "until"), ("limit=0", "limit"),
     ("limit=abc", "limit"), ("cursor=-1", "cursor"), ("target=" + "x" * 400, "target"), ("actor=a%00b", "actor")],
)  # fmt: skip
async def test_bad_filters_are_400_naming_the_field(app: FastAPI, query: str, param: str) -> None:
    reply = await call(app, "GET", f"/api/admin/audit?{query}", headers=key())
    assert reply.status == 400
    assert param in reply.json()["error"]["message"]


async def test_the_listing_needs_the_admin_key(app: FastAPI) -> None:
    assert (await call(app, "GET", "/api/admin/audit")).status == 401
    assert (await call(app, "GET", "/api/admin/audit", headers=key(CLIENT_KEY))).status == 401


async def test_explicit_events_name_the_running_call(gateway: FakeGateway) -> None:
    await gateway.operations.audit_event("credentials.export", detail={"secrets": True, "x": {}})
    rows = await gateway.operations.audit_records(__import__("kirogate.service.audit",
                                                             fromlist=["AuditQuery"]).AuditQuery())  # fmt: skip
    assert rows[0].name == "credentials.export"
    assert rows[0].actor == "system"
    assert rows[0].detail == {"secrets": True}


async def test_a_console_session_is_the_actor_it_names(app: FastAPI) -> None:
    from starlette.middleware.base import BaseHTTPMiddleware

    async def console(request, call_next):  # type: ignore[no-untyped-def]
        request.state.admin_actor = "console:abc"
        return await call_next(request)

    app.add_middleware(BaseHTTPMiddleware, dispatch=console)
    await call(app, "POST", "/api/admin/credentials/1/reset", headers=key())
    (row,) = (await call(app, "GET", "/api/admin/audit", headers=key())).json()["items"]
    assert row["actor"] == "console:abc"


async def test_a_persistent_gateway_stores_the_trail(live_store: tuple[FastAPI, Gateway]) -> None:
    app, gateway = live_store
    await call(app, "PUT", "/api/admin/config/load-balancing", body={"mode": "balanced"},
               headers=key())  # fmt: skip
    assert gateway.store is not None
    from kirogate.service.audit import AuditQuery

    (row,) = await gateway.store.list_audit(AuditQuery())
    assert row.action == "PUT /api/admin/config/load-balancing"
    assert row.detail == {"mode": "balanced"}


async def test_an_export_with_secrets_is_in_the_trail(live_store: tuple[FastAPI, Gateway]) -> None:
    app, _gateway = live_store
    headers = {**key(), "X-Kirogate-Confirm": "export-secrets"}
    exported = await call(app, "GET", "/api/admin/credentials/export?secrets=true", headers=headers)
    assert exported.status == 200
    plain = await call(app, "GET", "/api/admin/credentials/export", headers=key())
    assert plain.status == 200
    trail = (await call(app, "GET", "/api/admin/audit", headers=key())).json()
    # One record, by the running call; the export without secrets is a read, not recorded.
    (row,) = trail["items"]
    assert (row["action"], row["name"]) == (
        "GET /api/admin/credentials/export",
        "credentials.export_secrets",
    )

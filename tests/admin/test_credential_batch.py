"""``/api/admin/credentials`` batch routes: import, export, refresh, verify, enable/disable-all,
delete-failed. The fake gateway (real operations over a real pool, no store) for the rules;
a real :class:`Gateway` (SQLite store) on the emulator for refresh, verify and the store."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.errors import StoreUnavailable
from kirogate.pool.state import DisableReason
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.admin.fakes import (
    ACCESS,
    ADMIN_KEY,
    CLIENT_KEY,
    REFRESH,
    SECRETS,
    FakeGateway,
    Reply,
    app_for,
    call,
    key,
)
from tests.cluster.conftest import connect_redis, throwaway_database
from tests.pool.fakes import FakeTime, make_pool

REDIS_URL = "redis://127.0.0.1:6379/6"  # this module's own Redis database

LiveApp = tuple[FastAPI, Gateway, RunningEmulator]

NEW_A = "aorAAAA-new-token-a-" + "a" * 100
NEW_B = "aorAAAA-new-token-b-" + "b" * 100
NEW_C = "aorAAAA-new-token-c-" + "c" * 100
BAD = "aorAAAA-revoked-by-the-emulator-" + "x" * 100  # "revoked": an invalid_grant
NEW_SECRETS = (NEW_A, NEW_B, NEW_C, BAD)

NEW_ROUTES = [
    ("POST", "/api/admin/credentials/import", [{"refreshToken": NEW_A}]),
    ("GET", "/api/admin/credentials/export", None),
    ("POST", "/api/admin/credentials/1/refresh", None),
    ("POST", "/api/admin/credentials/verify", {"all": True}),
    ("POST", "/api/admin/credentials/enable-all", None),
    ("POST", "/api/admin/credentials/disable-all", None),
    ("POST", "/api/admin/credentials/delete-failed", None),
    ("GET", "/api/admin/jobs/abc", None),
]


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[LiveApp]:
    """A persistent gateway (its SQLite store in ``tmp_path``) on the emulator."""
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(
        refresh_token=REFRESH, auth_method="social", usage={"currentUsage": 12.5}
    )
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, email="one@x.test")
    gateway = Gateway(load_settings({}, overrides), [credential], persistent=True)
    await gateway.start()
    try:
        yield app_for(gateway), gateway, emulator
    finally:
        await gateway.close()
        await emulator.close()


async def post_raw(app: FastAPI, path: str, raw: bytes, content_type: str) -> Reply:
    """A body sent as a file would be (curl --data-binary @file -H 'content-type: ...')."""
    return await call(app, "POST", path, raw=raw, headers={**key(), "content-type": content_type})


def no_secret_in(reply: Reply, secrets: tuple[str, ...] = SECRETS + NEW_SECRETS) -> None:
    for secret in secrets:
        assert secret not in reply.text


# ---------------------------------------------------------------- authorization


@pytest.mark.parametrize(("method", "path", "body"), NEW_ROUTES)
async def test_every_new_route_needs_the_admin_key(
    app: FastAPI, method: str, path: str, body: Any
) -> None:
    for headers in ({}, key(CLIENT_KEY), key(CLIENT_KEY, bearer=True)):
        reply = await call(app, method, path, body=body, headers=headers)
        assert reply.status == 401, (path, headers)
        assert reply.json()["error"]["type"] == "authentication_error"


# ---------------------------------------------------------------- import


async def test_import_a_kiro_rs_array_adds_each_item(app: FastAPI, gateway: FakeGateway) -> None:
    items = [
        {"refreshToken": NEW_A, "authMethod": "social", "priority": 5, "region": "us-east-1"},
        {"refreshToken": NEW_B, "authMethod": "idc", "clientId": "cid", "clientSecret": "s" * 30},
    ]
    reply = await call(app, "POST", "/api/admin/credentials/import", body=items, headers=key())
    assert reply.status == 200
    body = reply.json()
    assert (body["success"], body["added"], body["duplicates"], body["invalid"]) == (
        True,
        2,
        0,
        0,
    )
    assert [r["status"] for r in body["results"]] == ["added", "added"]
    ids = [r["id"] for r in body["results"]]
    assert ids == [4, 5]
    assert gateway.pool.get(4).priority == 5
    assert gateway.pool.get(5).client_id == "cid"
    no_secret_in(reply)


async def test_import_an_ide_token_file_uploaded_as_it_is(
    app: FastAPI, gateway: FakeGateway
) -> None:
    token_file = {
        "accessToken": "aoaAAAA-access-" + "z" * 50,
        "refreshToken": NEW_A,
        "expiresAt": "2026-05-14T13:00:00.000Z",
        "authMethod": "social",
        "provider": "Google",
        "profileArn": "arn:aws:codewhisperer:us-east-1:1:profile/Y",
    }
    raw = json.dumps(token_file, indent=2).encode()
    reply = await post_raw(app, "/api/admin/credentials/import", raw, "application/octet-stream")
    assert reply.status == 200
    (result,) = reply.json()["results"]
    assert result["status"] == "added"
    credential = gateway.pool.get(result["id"])
    assert credential.provider == "Google"
    assert credential.profile_arn == "arn:aws:codewhisperer:us-east-1:1:profile/Y"


async def test_import_aiclient_provider_pools_json(app: FastAPI, gateway: FakeGateway) -> None:
    token_file = {"refreshToken": NEW_B, "authMethod": "social", "region": "us-east-1"}
    pools = {
        "claude-kiro-oauth": [
            {
                "uuid": "1b2c",
                "KIRO_OAUTH_CREDS_BASE64": base64.b64encode(
                    json.dumps(token_file).encode()
                ).decode(),
                "isHealthy": True,
                "isDisabled": False,
            },
            {"uuid": "3d4e", "KIRO_OAUTH_CREDS_FILE_PATH": "./configs/kiro/kiro-auth-token-2.json"},
            {"uuid": "5f6a", "refreshToken": NEW_C, "isDisabled": True},
        ],
        "gemini-cli-oauth": [{"uuid": "x"}],
    }
    raw = json.dumps(pools).encode()
    reply = await post_raw(app, "/api/admin/credentials/import", raw, "application/json")
    body = reply.json()
    assert [r["status"] for r in body["results"]] == ["added", "invalid", "added"]
    assert body["results"][1]["field"] == "KIRO_OAUTH_CREDS_FILE_PATH"
    assert body["results"][1]["reason"].startswith("[1].KIRO_OAUTH_CREDS_FILE_PATH: ")
    assert body["success"] is False
    assert gateway.pool.get(body["results"][0]["id"]).region == "us-east-1"
    assert gateway.pool.state_of(body["results"][2]["id"]).disabled


async def test_import_a_kiro_cli_token_database_uploaded_as_it_is(
    app: FastAPI, gateway: FakeGateway, tmp_path: Path
) -> None:
    path = tmp_path / "data.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE auth_kv (key TEXT PRIMARY KEY, value TEXT)")
        token = {"refresh_token": NEW_A, "region": "us-east-1", "expires_at": 1767323045000000000}
        db.execute("INSERT INTO auth_kv VALUES (?, ?)", ("kirocli:social:token", json.dumps(token)))
        db.commit()
    raw = path.read_bytes()
    reply = await post_raw(app, "/api/admin/credentials/import", raw, "application/octet-stream")
    (result,) = reply.json()["results"]
    assert result["status"] == "added"
    credential = gateway.pool.get(result["id"])
    assert (credential.refresh_token, credential.auth_region) == (NEW_A, "us-east-1")
    no_secret_in(reply)


async def test_import_a_plain_list_of_refresh_tokens(app: FastAPI, gateway: FakeGateway) -> None:
    raw = f"# exported tokens\n{NEW_A}\n\n{NEW_B}\n".encode()
    path = "/api/admin/credentials/import?auth_method=social&region=eu-central-1"
    reply = await post_raw(app, path, raw, "text/plain")
    body = reply.json()
    assert [r["status"] for r in body["results"]] == ["added", "added"]
    for result in body["results"]:
        credential = gateway.pool.get(result["id"])
        assert (credential.auth_method.value, credential.region) == ("social", "eu-central-1")
    no_secret_in(reply)


async def test_a_large_file_is_read_too(app: FastAPI, gateway: FakeGateway) -> None:
    tokens = [f"aorAAAA-bulk-{n:04d}-" + "k" * 120 for n in range(600)]
    raw = "\n".join(tokens).encode()
    assert len(raw) > 64 * 1024  # read in a worker thread
    reply = await post_raw(app, "/api/admin/credentials/import", raw, "text/plain")
    assert reply.json()["added"] == 600
    assert len(gateway.pool.credentials()) == 603


async def test_import_refresh_tokens_in_a_json_wrapper(app: FastAPI, gateway: FakeGateway) -> None:
    wrapper = {
        "refresh_tokens": [NEW_A],
        "auth_method": "idc",
        "region": "us-west-2",
        "client_id": "cid",
        "client_secret": "secret-" + "q" * 30,
    }
    reply = await call(app, "POST", "/api/admin/credentials/import", body=wrapper, headers=key())
    (result,) = reply.json()["results"]
    credential = gateway.pool.get(result["id"])
    assert (credential.auth_method.value, credential.region) == ("idc", "us-west-2")
    assert "secret-" not in reply.text


async def test_import_reports_duplicates_with_the_existing_id(app: FastAPI) -> None:
    items = [{"refreshToken": REFRESH}, {"refreshToken": NEW_A}, {"refreshToken": NEW_A}]
    reply = await call(app, "POST", "/api/admin/credentials/import", body=items, headers=key())
    results = reply.json()["results"]
    assert [(r["status"], r["id"]) for r in results] == [
        ("duplicate", 1),
        ("added", 4),
        ("duplicate", 4),
    ]
    again = await call(app, "POST", "/api/admin/credentials/import", body=items, headers=key())
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 3


async def test_invalid_items_name_their_field_and_the_others_are_still_added(
    app: FastAPI, gateway: FakeGateway
) -> None:
    items: list[Any] = [
        {"refreshToken": NEW_A},
        {"authMethod": "social"},
        {"refreshToken": NEW_B, "authMethod": "idc"},
        "not an object",
        {"refreshToken": NEW_C, "proxyUrl": f"ftp://u:{NEW_C}@h"},
        {"refreshToken": NEW_C, "machineId": "nope"},
    ]
    reply = await call(app, "POST", "/api/admin/credentials/import", body=items, headers=key())
    assert reply.status == 200
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["added"] + ["invalid"] * 5
    reasons = [r.get("reason", "") for r in results]
    assert reasons[1].startswith("[1].refreshToken: missing")
    assert reasons[2].startswith("[2].clientId: ")
    assert reasons[3].startswith("[3]: expected a JSON object")
    assert reasons[4].startswith("[4].proxyUrl: ")
    assert reasons[5].startswith("[5].machineId: ")
    no_secret_in(reply)
    assert len(gateway.pool.credentials()) == 4


@pytest.mark.parametrize(
    ("raw", "content_type", "query", "named"),
    [
        (b"", "application/json", "", "body"),
        (b"[{]", "application/json", "", "body"),
        (b"not json", "application/json", "", "body"),
        (b"[]", "application/json", "", "body"),
        (b'"a string"', "application/json", "", "body"),
        (b"\xff\xfe", "text/plain", "", "body"),
        (b"tok" * 40, "text/plain", "?auth_method=api_key", "auth_method"),
        (b'{"refresh_tokens": "x"}', "application/json", "", "refresh_tokens"),
        (b'{"credentials": 3}', "application/json", "", "credentials"),
        (b'{"claude-kiro-oauth": {}}', "application/json", "", "claude-kiro-oauth"),
    ],
)
async def test_an_unreadable_body_is_a_400_naming_the_field(
    app: FastAPI, raw: bytes, content_type: str, query: str, named: str
) -> None:
    reply = await post_raw(app, f"/api/admin/credentials/import{query}", raw, content_type)
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert named in error["message"] or named == "body"


async def test_import_is_all_or_nothing_when_the_store_write_fails(
    stored: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, gateway, _emulator = stored
    assert gateway.store is not None

    async def fail(credentials: object) -> None:
        raise StoreUnavailable("database sqlite: disk I/O error")

    monkeypatch.setattr(gateway.store, "add_credentials", fail)
    items = [{"refreshToken": NEW_A}, {"refreshToken": NEW_B}]
    reply = await call(app, "POST", "/api/admin/credentials/import", body=items, headers=key())
    assert reply.status == 503
    assert [c.id for c in gateway.pool.credentials()] == [1]
    monkeypatch.undo()
    assert len(await gateway.store.list_credentials()) == 1


async def test_import_stores_the_credentials(stored: LiveApp) -> None:
    app, gateway, _emulator = stored
    items = [{"refreshToken": NEW_A}, {"refreshToken": REFRESH}]
    reply = await call(app, "POST", "/api/admin/credentials/import", body=items, headers=key())
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["added", "duplicate"]
    assert gateway.store is not None
    stored = {c.id for c in await gateway.store.list_credentials()}
    assert stored == {1, results[0]["id"]}
    assert results[0]["id"] in {c.id for c in gateway.pool.credentials()}


# ---------------------------------------------------------------- export


async def test_export_leaves_secrets_out_by_default(app: FastAPI) -> None:
    reply = await call(app, "GET", "/api/admin/credentials/export", headers=key())
    assert reply.status == 200
    body = reply.json()
    assert body["secrets"] is False
    assert [entry["id"] for entry in body["credentials"]] == [1, 2, 3]
    assert body["credentials"][0]["proxyUrl"] == "http://alice:***@proxy.example:8080"
    no_secret_in(reply)


@pytest.mark.shows_secret  # an export with secrets shows them, on purpose
async def test_export_with_secrets_needs_the_confirmation_header(
    app: FastAPI, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    audited: list[tuple[str, str | None]] = []

    async def audit_event(action: str, *, target: str | None) -> None:
        audited.append((action, target))

    monkeypatch.setattr(gateway.operations, "audit_event", audit_event)
    for headers in (key(), {**key(), "x-kirogate-confirm": "yes"}):
        refused = await call(
            app, "GET", "/api/admin/credentials/export?secrets=true", headers=headers
        )
        assert refused.status == 400
        assert "X-Kirogate-Confirm: export-secrets" in refused.json()["error"]["message"]
    assert audited == []
    confirmed = {**key(), "X-Kirogate-Confirm": "export-secrets"}
    reply = await call(app, "GET", "/api/admin/credentials/export?secrets=true", headers=confirmed)
    assert reply.status == 200
    assert reply.headers["cache-control"] == "no-store"
    assert reply.json()["credentials"][0]["refreshToken"] == REFRESH
    assert reply.json()["credentials"][0]["accessToken"] == ACCESS
    assert audited == [("credentials.export_secrets", None)]


@pytest.mark.shows_secret
async def test_an_export_with_secrets_imports_back(app: FastAPI, time: FakeTime) -> None:
    confirmed = {**key(), "X-Kirogate-Confirm": "export-secrets"}
    exported = await call(app, "GET", "/api/admin/credentials/export?secrets=1", headers=confirmed)
    raw = exported.body
    # Into the same gateway: every one is there already.
    same = await post_raw(app, "/api/admin/credentials/import", raw, "application/json")
    assert [(r["status"], r["id"]) for r in same.json()["results"]] == [
        ("duplicate", 1),
        ("duplicate", 2),
        ("duplicate", 3),
    ]
    # Into an empty gateway: every one is added, as it was.
    empty = FakeGateway(make_pool([], time))
    other = app_for(empty)
    fresh = await post_raw(other, "/api/admin/credentials/import", raw, "application/json")
    assert [r["status"] for r in fresh.json()["results"]] == ["added"] * 3
    again = await call(other, "GET", "/api/admin/credentials/export?secrets=1", headers=confirmed)
    fields = ("authMethod", "email", "priority", "refreshToken", "clientSecret", "kiroApiKey")
    before = [{k: e.get(k) for k in fields} for e in exported.json()["credentials"]]
    after = [{k: e.get(k) for k in fields} for e in again.json()["credentials"]]
    assert after == before


async def test_an_export_without_secrets_does_not_import(app: FastAPI) -> None:
    exported = await call(app, "GET", "/api/admin/credentials/export", headers=key())
    reply = await post_raw(app, "/api/admin/credentials/import", exported.body, "application/json")
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["invalid"] * 3
    assert results[0]["reason"].startswith("[0].refreshToken: missing")


# ---------------------------------------------------------------- refresh and verify


async def test_refresh_gets_a_new_token_and_answers_only_its_expiry(stored: LiveApp) -> None:
    app, gateway, _emulator = stored
    reply = await call(app, "POST", "/api/admin/credentials/1/refresh", headers=key())
    assert reply.status == 200
    body = reply.json()
    credential = gateway.pool.get(1)
    assert credential.access_token
    assert body["id"] == 1
    assert body["expiresAt"] is not None
    assert credential.access_token not in reply.text
    no_secret_in(reply)


@pytest.mark.parametrize(("path", "status"), [("/x/refresh", 400), ("/77/refresh", 404)])
async def test_refresh_of_a_bad_or_unknown_id(app: FastAPI, path: str, status: int) -> None:
    reply = await call(app, "POST", f"/api/admin/credentials{path}", headers=key())
    assert reply.status == status


async def test_refresh_of_an_api_key_credential_is_a_400(app: FastAPI) -> None:
    reply = await call(app, "POST", "/api/admin/credentials/3/refresh", headers=key())
    assert reply.status == 400
    assert "no token to refresh" in reply.json()["error"]["message"]


async def wait_done(app: FastAPI, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        reply = await call(app, "GET", f"/api/admin/jobs/{job_id}", headers=key())
        assert reply.status == 200
        body: dict[str, Any] = reply.json()
        assert body["status"] in ("running", "done")
        if body["status"] == "done":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


async def test_verify_runs_as_a_job_and_reports_each_credential(stored: LiveApp) -> None:
    app, gateway, _emulator = stored
    added = await call(
        app, "POST", "/api/admin/credentials/import", body=[{"refreshToken": BAD}], headers=key()
    )
    bad_id = added.json()["results"][0]["id"]
    started = await call(
        app, "POST", "/api/admin/credentials/verify", body={"all": True}, headers=key()
    )
    assert started.status == 202
    start = started.json()
    assert start["total"] == 2
    job = await wait_done(app, start["jobId"])
    assert (job["total"], job["done"], job["kind"]) == (2, 2, "verify")
    by_id = {result["id"]: result for result in job["results"]}
    assert by_id[1]["ok"] is True
    assert by_id[1]["balance"]["currentUsage"] == 12.5
    assert "nextResetAt" in by_id[1]["balance"]
    assert by_id[bad_id]["ok"] is False
    assert by_id[bad_id]["error"]
    assert gateway.pool.state_of(bad_id).disabled_reason is DisableReason.INVALID_REFRESH_TOKEN
    # The balance the job fetched is in the listing row.
    listing = await call(app, "GET", "/api/admin/credentials", headers=key())
    row = next(row for row in listing.json()["credentials"] if row["id"] == 1)
    assert row["balance"]["currentUsage"] == 12.5
    no_secret_in(listing)


async def test_verify_some_ids(stored: LiveApp) -> None:
    app, _gateway, _emulator = stored
    started = await call(
        app, "POST", "/api/admin/credentials/verify", body={"ids": [1]}, headers=key()
    )
    job = await wait_done(app, started.json()["jobId"])
    assert [(r["id"], r["ok"]) for r in job["results"]] == [(1, True)]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "ids"),
        ({"all": False}, "ids"),
        ({"all": "yes"}, "all"),
        ({"ids": []}, "ids"),
        ({"ids": "1"}, "ids"),
        ({"ids": [1, "2"]}, "ids[1]"),
        ({"ids": [True]}, "ids[0]"),
        ({"ids": [99]}, "#99"),
    ],
)
async def test_verify_bad_bodies_are_400s_naming_the_field(
    app: FastAPI, body: dict[str, Any], named: str
) -> None:
    reply = await call(app, "POST", "/api/admin/credentials/verify", body=body, headers=key())
    assert reply.status == 400
    assert named in reply.json()["error"]["message"]


# ---------------------------------------------------------------- all at once


async def test_disable_all_then_enable_all_answer_what_changed(
    app: FastAPI, gateway: FakeGateway
) -> None:
    await gateway.operations.set_disabled(2, True)
    reply = await call(app, "POST", "/api/admin/credentials/disable-all", headers=key())
    assert reply.status == 200
    assert reply.json()["changed"] == [
        {"id": 1, "was": "enabled", "now": "disabled"},
        {"id": 3, "was": "enabled", "now": "disabled"},
    ]
    assert all(gateway.pool.state_of(cid).disabled for cid in (1, 2, 3))
    again = await call(app, "POST", "/api/admin/credentials/disable-all", headers=key())
    assert again.json()["changed"] == []
    enabled = await call(app, "POST", "/api/admin/credentials/enable-all", headers=key())
    assert [(c["id"], c["was"], c["now"]) for c in enabled.json()["changed"]] == [
        (1, "manual", "enabled"),
        (2, "manual", "enabled"),
        (3, "manual", "enabled"),
    ]
    assert not any(gateway.pool.state_of(cid).disabled for cid in (1, 2, 3))


async def test_delete_failed_removes_only_the_permanently_failed(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.pool.disable(1, "invalid_grant", reason=DisableReason.INVALID_REFRESH_TOKEN)
    gateway.pool.disable(2, "an operator's choice")
    reply = await call(app, "POST", "/api/admin/credentials/delete-failed", headers=key())
    assert reply.status == 200
    assert reply.json()["deleted"] == [{"id": 1, "reason": "invalid_refresh_token"}]
    assert [c.id for c in gateway.pool.credentials()] == [2, 3]
    nothing = await call(app, "POST", "/api/admin/credentials/delete-failed", headers=key())
    assert nothing.json()["deleted"] == []


async def test_delete_failed_with_a_bad_flag_is_a_400(app: FastAPI) -> None:
    path = "/api/admin/credentials/delete-failed?include_suspended=maybe"
    reply = await call(app, "POST", path, headers=key())
    assert reply.status == 400
    assert "include_suspended" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- two processes


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with throwaway_database("kg") as url:
        yield url


async def test_an_import_through_one_instance_is_seen_by_the_other_within_a_second(
    pg_url: str, tmp_path: Path
) -> None:
    redis = await connect_redis(REDIS_URL)
    await redis.flushdb()  # DB 6 is this module's alone: no state left from an earlier run
    emulator = await start_emulator(EmulatorConfig(port=0))
    gateways = []
    try:
        for name in ("one", "two"):
            overrides = {
                "upstream.url": emulator.url,
                "upstream.usage_interval": 0,
                "server.admin_key": ADMIN_KEY,
                "database_url": pg_url,
                "redis_url": REDIS_URL,
                "secret_key": "credops-two-instances-secret",
                "data_dir": tmp_path / name,
            }
            gateway = Gateway(load_settings({}, overrides), [], persistent=True)
            await gateway.start()
            gateways.append(gateway)
        one, two = (app_for(gateway) for gateway in gateways)
        reply = await call(
            one,
            "POST",
            "/api/admin/credentials/import",
            body=[{"refreshToken": NEW_A}],
            headers=key(),
        )
        new_id = reply.json()["results"][0]["id"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while True:
            listing = await call(two, "GET", "/api/admin/credentials", headers=key())
            if new_id in [row["id"] for row in listing.json()["credentials"]]:
                break
            assert loop.time() < deadline, "the other instance did not see the import"
            await asyncio.sleep(0.05)
        again = await call(
            two,
            "POST",
            "/api/admin/credentials/import",
            body=[{"refreshToken": NEW_A}],
            headers=key(),
        )
        assert again.json()["results"] == [{"index": 0, "status": "duplicate", "id": new_id}]
    finally:
        for gateway in gateways:
            await gateway.close()
        await emulator.close()
        await redis.flushdb()
        await redis.aclose()

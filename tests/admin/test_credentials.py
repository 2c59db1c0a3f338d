"""``/api/admin/credentials``: the kiro.rs shapes, the rules, and no secret ever returned.

Most tests use a fake gateway whose real operations work over a real :class:`CredentialPool`
(balances faked); the last ones run a real :class:`Gateway` against the in-process emulator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from kirogate.emulator.app import RunningEmulator
from kirogate.errors import StoreUnavailable, UpstreamConnectionError, UpstreamThrottled
from kirogate.service import Gateway
from kirogate.upstream.credentials import AuthMethod, secret_hash
from tests.admin.fakes import (
    ACCESS,
    API_KEY,
    CLIENT_SECRET,
    IDC_REFRESH,
    PROXY_PASSWORD,
    PROXY_URL,
    REFRESH,
    ROUTES,
    SECRETS,
    FakeGateway,
    balance,
    call,
    key,
)
from tests.pool.fakes import FakeTime

# ---------------------------------------------------------------- listing


async def test_listing_has_the_kiro_rs_envelope_sorted_by_priority(app: FastAPI) -> None:
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    assert body["total"] == 3
    assert body["available"] == 3
    assert body["currentId"] is None
    assert body["mode"] == "priority"
    assert [row["id"] for row in body["credentials"]] == [1, 2, 3]


async def test_available_counts_only_credentials_usable_now(
    app: FastAPI, gateway: FakeGateway
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled("429 throttled", retry_after=30))
    await lease.release()
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    assert [row["state"] for row in body["credentials"]] == ["cooling", "ready", "ready"]
    assert body["available"] == 2


async def test_listing_row_shows_kiro_rs_fields_and_masks_secrets(app: FastAPI) -> None:
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    social, idc, api_key = body["credentials"]
    assert social["authMethod"] == "social"
    assert social["email"] == "user1@example.com"
    assert social["expiresAt"] == "2026-05-14T13:00:00.000Z"
    assert social["hasProfileArn"] is True
    assert social["refreshTokenHash"] == secret_hash(REFRESH)
    assert social["refreshTokenPreview"] == f"{REFRESH[:4]}…{REFRESH[-4:]}"
    assert social["hasProxy"] is True
    assert social["proxyUrl"] == "http://alice:***@proxy.example:8080"
    assert social["state"] == "ready"
    assert social["disabled"] is False
    assert (social["successCount"], social["errorCount"], social["failureCount"]) == (0, 0, 0)
    assert social["endpoint"] == "ide"
    assert idc["authMethod"] == "idc"
    assert idc["hasProxy"] is False
    assert api_key["authMethod"] == "api_key"
    assert api_key["refreshTokenHash"] is None
    assert api_key["apiKeyHash"] == secret_hash(API_KEY)
    assert api_key["maskedApiKey"] == "ksk_…kkkk"


async def test_listing_shows_cooling_and_disabled_reasons_counters_and_last_use(
    app: FastAPI, gateway: FakeGateway, time: FakeTime
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_success(lease)
    await lease.release()
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled("429 throttled", retry_after=30))
    await lease.release()
    gateway.pool.disable(2, "broken on purpose")
    body = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    cooling, disabled, _ = body["credentials"]
    assert body["available"] == 1  # only the ready one: cooling and disabled ones wait
    assert body["currentId"] == 1
    assert cooling["isCurrent"] is True
    assert cooling["state"] == "cooling"
    assert cooling["cooldownReason"] == "throttled"
    assert cooling["cooldownUntil"] == "2026-05-14T12:00:30.000Z"
    assert cooling["lastError"] == "429 throttled"
    assert (cooling["successCount"], cooling["errorCount"]) == (1, 1)
    assert cooling["lastUsedAt"] == "2026-05-14T12:00:00.000Z"
    assert cooling["disabledReason"] is None
    assert disabled["state"] == "disabled"
    assert disabled["disabled"] is True
    assert disabled["disabledReason"] == "manual"
    assert disabled["reasonDetail"] == "broken on purpose"


async def test_listing_includes_the_cached_balance(app: FastAPI, gateway: FakeGateway) -> None:
    gateway.balances[1] = balance(remaining=42.0)
    rows = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()["credentials"]
    assert rows[0]["balance"]["id"] == 1
    assert rows[0]["balance"]["remaining"] == 42.0
    assert rows[1]["balance"] is None


async def test_listing_scrubs_a_secret_out_of_an_error_message(
    app: FastAPI, gateway: FakeGateway
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamConnectionError(f"proxy {PROXY_URL} refused"))
    await lease.release()
    reply = await call(app, "GET", "/api/admin/credentials", headers=key())
    assert PROXY_PASSWORD not in reply.text
    assert "proxy http://alice:prox…" in reply.json()["credentials"][0]["lastError"]


# ---------------------------------------------------------------- adding


async def test_add_builds_the_credential_like_a_kiro_rs_entry(
    app: FastAPI, gateway: FakeGateway
) -> None:
    body = {
        "refreshToken": "aorAAAA-new-" + "n" * 100,
        "authMethod": "idc",
        "clientId": "cid",
        "clientSecret": "csecret",
        "priority": 4,
        "authRegion": "eu-west-1",
        "apiRegion": "us-east-1",
        "email": "new@example.com",
        "machineId": "0123456789abcdef" * 4,
        "proxyUrl": "socks5://proxy.local:1080",
        "id": 99,  # ignored: the pool assigns ids, as kiro.rs does
    }
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 200
    assert reply.json() == {
        "success": True,
        "message": "credential #4 added",
        "credentialId": 4,
        "email": "new@example.com",
    }
    added = gateway.pool.get(4)
    assert added.auth_method is AuthMethod.IDC
    assert (added.client_id, added.client_secret) == ("cid", "csecret")
    assert (added.priority, added.auth_region, added.api_region) == (4, "eu-west-1", "us-east-1")
    assert added.proxy_url == "socks5://proxy.local:1080"
    assert gateway.pool.state_of(4).priority == 4


async def test_add_accepts_an_api_key_credential(app: FastAPI, gateway: FakeGateway) -> None:
    body = {"kiroApiKey": "ksk_" + "z" * 40}
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 200
    assert gateway.pool.get(reply.json()["credentialId"]).auth_method is AuthMethod.API_KEY


async def test_add_of_a_known_credential_is_400_naming_the_existing_id(
    app: FastAPI, gateway: FakeGateway
) -> None:
    body = {"refreshToken": REFRESH, "authMethod": "social"}
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert "already in the pool as #1" in error["message"]
    assert REFRESH not in reply.text
    assert len(gateway.pool) == 3


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"authMethod": "social"}, "refreshToken"),
        ({"refreshToken": "abc...def" + "x" * 100}, "refreshToken"),
        ({"refreshToken": "r" * 120, "authMethod": "idc", "clientId": "c"}, "clientSecret"),
        ({"refreshToken": "r" * 120, "authMethod": "carrier-pigeon"}, "authMethod"),
        ({"refreshToken": "r" * 120, "priority": -1}, "priority"),
        ({"refreshToken": "r" * 120, "priority": "high"}, "priority"),
        ({"refreshToken": 12345}, "refreshToken"),
        ({"refreshToken": "r" * 120, "proxyUrl": "ftp://proxy"}, "proxyUrl"),
        ({"refreshToken": "r" * 120, "expiresAt": "tomorrow"}, "expiresAt"),
        ({"authMethod": "api_key"}, "kiroApiKey"),
        ({"refreshToken": "r" * 120, "machineId": "not-a-machine-id"}, "machineId"),
        ({"authMethod": "api_key", "kiroApiKey": "ksk_a\r\nX-Injected: 1"}, "kiroApiKey"),
        ({"refreshToken": "r" * 120, "region": "us-east-1.evil/"}, "region"),
        ({"refreshToken": "r" * 120, "proxyUrl": "http://p:1/\r\nx"}, "proxyUrl"),
    ],
)
async def test_add_rejects_a_bad_field_with_400_naming_it(
    app: FastAPI, gateway: FakeGateway, body: dict[str, Any], field_name: str
) -> None:
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert f"'{field_name}'" in error["message"]
    assert len(gateway.pool) == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'[{"refreshToken": "x"}]', "JSON object"),
        (b'"text"', "JSON object"),
    ],
)
async def test_add_rejects_a_body_that_is_not_a_json_object(
    app: FastAPI, raw: bytes, expected: str
) -> None:
    reply = await call(app, "POST", "/api/admin/credentials", raw=raw, headers=key())
    assert reply.status == 400
    assert expected in reply.json()["error"]["message"]


async def test_add_error_never_echoes_a_proxy_password(app: FastAPI) -> None:
    body = {"refreshToken": "r" * 120, "proxyUrl": "ftp://bob:hunter2-very-secret@proxy:21"}
    reply = await call(app, "POST", "/api/admin/credentials", body=body, headers=key())
    assert reply.status == 400
    assert "hunter2-very-secret" not in reply.text
    assert "proxyUrl" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- changing one credential


async def test_delete_refuses_an_enabled_credential(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(app, "DELETE", "/api/admin/credentials/1", headers=key())
    assert reply.status == 400
    assert "disable it first" in reply.json()["error"]["message"]
    assert len(gateway.pool) == 3


async def test_delete_removes_a_disabled_credential(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(
        app, "POST", "/api/admin/credentials/2/disabled", body={"disabled": True}, headers=key()
    )
    assert reply.json() == {"success": True, "message": "credential #2 disabled"}
    reply = await call(app, "DELETE", "/api/admin/credentials/2", headers=key())
    assert reply.json() == {"success": True, "message": "credential #2 deleted"}
    assert [c.id for c in gateway.pool.credentials()] == [1, 3]


async def test_enable_brings_a_disabled_credential_back(app: FastAPI, gateway: FakeGateway) -> None:
    gateway.pool.disable(1, "manual")
    reply = await call(
        app, "POST", "/api/admin/credentials/1/disabled", body={"disabled": False}, headers=key()
    )
    assert reply.json()["message"] == "credential #1 enabled"
    assert not gateway.pool.state_of(1).disabled


async def test_priority_is_set(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(
        app, "POST", "/api/admin/credentials/3/priority", body={"priority": 0}, headers=key()
    )
    assert reply.json() == {"success": True, "message": "credential #3 priority set to 0"}
    assert gateway.pool.state_of(3).priority == 0


class StoreAway:
    async def update_credential(self, credential_id: int, **fields: object) -> None:
        raise StoreUnavailable("database postgresql://kg@db.internal:5432/kg: connection refused")


async def test_priority_during_a_database_outage_is_503_and_changes_nothing(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.operations._store = lambda: StoreAway()  # type: ignore[assignment,return-value]
    reply = await call(
        app, "POST", "/api/admin/credentials/3/priority", body={"priority": 0}, headers=key()
    )
    assert reply.status == 503
    error = reply.json()["error"]
    assert error["type"] == "service_unavailable"
    assert "db.internal" not in error["message"] and "postgresql" not in error["message"]
    assert gateway.pool.state_of(3).priority != 0


class StoreDown:
    """Every call fails as a stopped database's would."""

    def __getattr__(self, name: str) -> object:
        async def fail(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable("database postgresql://kg@db.internal:5432/kg: refused")

        return fail


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/admin/credentials/2/disabled", {"disabled": True}),
        ("POST", "/api/admin/credentials/1/disabled", {"disabled": False}),
        ("POST", "/api/admin/credentials/1/reset", None),
        ("DELETE", "/api/admin/credentials/1", None),
        ("POST", "/api/admin/credentials/3/priority", {"priority": 0}),
        ("POST", "/api/admin/credentials", {"refreshToken": "n" * 120, "authMethod": "social"}),
    ],
)
async def test_every_change_during_a_database_outage_is_503_and_changes_nothing(
    app: FastAPI, gateway: FakeGateway, method: str, path: str, body: dict[str, Any] | None
) -> None:
    gateway.pool.disable(1, "manual")
    before = [(c.id, c.priority, gateway.pool.state_of(c.id)) for c in gateway.pool.credentials()]
    gateway.operations._store = lambda: StoreDown()  # type: ignore[assignment,return-value]
    reply = await call(app, method, path, body=body, headers=key())
    assert reply.status == 503, reply.text
    error = reply.json()["error"]
    assert error["type"] == "service_unavailable"
    assert "db.internal" not in reply.text and "postgresql" not in reply.text
    after = [(c.id, c.priority, gateway.pool.state_of(c.id)) for c in gateway.pool.credentials()]
    assert after == before


async def test_reset_lifts_cooldown_and_disable(app: FastAPI, gateway: FakeGateway) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled("429", retry_after=60))
    await lease.release()
    gateway.pool.disable(1, "manual")
    reply = await call(app, "POST", "/api/admin/credentials/1/reset", headers=key())
    assert reply.json()["success"] is True
    row = (await call(app, "GET", "/api/admin/credentials", headers=key())).json()
    assert row["credentials"][0]["state"] == "ready"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/disabled", {}, "'disabled' must be true or false (it is missing)"),
        ("/disabled", {"disabled": "true"}, "'disabled' must be true or false (got a string)"),
        ("/disabled", {"disabled": 1}, "(got a number)"),
        ("/priority", {}, "'priority' must be an integer (it is missing)"),
        ("/priority", {"priority": True}, "(got a boolean)"),
        ("/priority", {"priority": 1.5}, "(got a number)"),
        ("/priority", {"priority": None}, "(got null)"),
        ("/priority", {"priority": -1}, "between 0 and 2147483647, got -1"),
        ("/priority", {"priority": 2**32}, "between 0 and 2147483647"),
        # PostgreSQL keeps priorities in an int4: 2^31 would be a 500 there.
        ("/priority", {"priority": 2**31}, "between 0 and 2147483647"),
    ],
)
async def test_bad_bodies_are_400_not_422(
    app: FastAPI, path: str, body: dict[str, Any], expected: str
) -> None:
    reply = await call(app, "POST", f"/api/admin/credentials/1{path}", body=body, headers=key())
    assert reply.status == 400
    assert reply.json()["error"]["type"] == "invalid_request"
    assert expected in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("DELETE", "", None),
        ("POST", "/disabled", {"disabled": True}),
        ("POST", "/priority", {"priority": 1}),
        ("POST", "/reset", None),
        ("GET", "/balance", None),
    ],
)
async def test_unknown_id_is_404_and_a_non_number_is_400(
    app: FastAPI, method: str, suffix: str, body: object
) -> None:
    reply = await call(app, method, f"/api/admin/credentials/77{suffix}", body=body, headers=key())
    assert reply.status == 404
    assert reply.json()["error"] == {
        "type": "not_found",
        "message": "credential #77 is not in the pool",
    }
    reply = await call(app, method, f"/api/admin/credentials/abc{suffix}", body=body, headers=key())
    assert reply.status == 400
    assert "credential id 'abc' is not a number" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- balance and mode


async def test_balance_has_kiro_rs_keys_and_is_cached(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    body = reply.json()
    assert reply.status == 200
    assert list(body)[:7] == [
        "id",
        "subscriptionTitle",
        "currentUsage",
        "usageLimit",
        "remaining",
        "usagePercentage",
        "nextResetAt",
    ]
    assert (body["id"], body["remaining"], body["usageLimit"]) == (1, 90.0, 100.0)
    assert body["nextResetAt"] == datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    assert gateway.refresh_flags == [True]
    await call(app, "GET", "/api/admin/credentials/1/balance?refresh=false", headers=key())
    assert gateway.refresh_flags == [True, False]


async def test_balance_rejects_a_bad_refresh_flag(app: FastAPI) -> None:
    reply = await call(app, "GET", "/api/admin/credentials/1/balance?refresh=maybe", headers=key())
    assert reply.status == 400
    assert "'refresh' must be true or false" in reply.json()["error"]["message"]


async def test_balance_upstream_failure_is_502_api_error(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.balance_error = UpstreamConnectionError("cannot reach the usage endpoint")
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    assert reply.status == 502
    assert reply.json() == {
        "error": {"type": "api_error", "message": "cannot reach the usage endpoint"}
    }


# ---------------------------------------------------------------- no secret, anywhere


async def test_no_secret_of_the_fixture_appears_in_any_admin_response(
    app: FastAPI, gateway: FakeGateway
) -> None:
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled(f"429 for {ACCESS} via {PROXY_URL}"))
    await lease.release()
    gateway.balances[1] = balance()
    replies = [await call(app, m, p, body=b, headers=key()) for m, p, b in ROUTES]
    bad_adds = [
        {"refreshToken": REFRESH},
        {"kiroApiKey": API_KEY},
        {"refreshToken": "r" * 120, "proxyUrl": f"ftp://u:{PROXY_PASSWORD}@x"},
        {"refreshToken": CLIENT_SECRET + "...", "authMethod": "social"},
        {"refreshToken": IDC_REFRESH, "authMethod": "idc", "clientId": "c"},
    ]
    for body in bad_adds:
        replies.append(await call(app, "POST", "/api/admin/credentials", body=body, headers=key()))
    for cid in (1, 2, 3):
        for suffix in ("/balance", "/reset"):
            method = "GET" if suffix == "/balance" else "POST"
            replies.append(
                await call(app, method, f"/api/admin/credentials/{cid}{suffix}", headers=key())
            )
    replies.append(await call(app, "GET", "/api/admin/credentials", headers=key()))
    assert all(reply.status < 500 for reply in replies)
    for reply in replies:
        for secret in SECRETS:
            assert secret not in reply.text


# ---------------------------------------------------------------- a real Gateway on the emulator


async def test_real_gateway_balance_comes_from_the_emulator_and_is_listed(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, gateway, _ = live
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["id"] == 1
    assert body["subscriptionTitle"] == "KIRO FREE"
    assert body["currentUsage"] == 12.5
    assert body["remaining"] == body["usageLimit"] - 12.5
    listing = await call(app, "GET", "/api/admin/credentials", headers=key())
    row = listing.json()["credentials"][0]
    assert row["balance"]["remaining"] == body["remaining"]
    assert row["hasProfileArn"] is True
    assert row["expiresAt"] is not None
    credential = gateway.pool.get(1)
    for secret in (credential.access_token, credential.refresh_token):
        assert secret
        assert secret not in reply.text
        assert secret not in listing.text


async def test_real_gateway_add_disable_delete_round_trip(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, gateway, _ = live
    new = {"refreshToken": "aorAAAA-second-" + "2" * 100, "authMethod": "social", "priority": 2}
    reply = await call(app, "POST", "/api/admin/credentials", body=new, headers=key())
    assert reply.status == 200, reply.text
    cid = reply.json()["credentialId"]
    again = await call(app, "POST", "/api/admin/credentials", body=new, headers=key())
    assert again.status == 400
    assert f"#{cid}" in again.json()["error"]["message"]
    balance_reply = await call(app, "GET", f"/api/admin/credentials/{cid}/balance", headers=key())
    assert balance_reply.status == 200, balance_reply.text
    refused = await call(app, "DELETE", f"/api/admin/credentials/{cid}", headers=key())
    assert refused.status == 400
    path = f"/api/admin/credentials/{cid}/disabled"
    await call(app, "POST", path, body={"disabled": True}, headers=key())
    assert gateway.pool.state_of(cid).disabled
    deleted = await call(app, "DELETE", f"/api/admin/credentials/{cid}", headers=key())
    assert deleted.status == 200
    assert [c.id for c in gateway.pool.credentials()] == [1]


async def test_real_gateway_dead_refresh_token_balance_is_400(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, _, _ = live
    dead = {"refreshToken": "aorAAAA-revoked-" + "d" * 100, "authMethod": "social"}
    cid = (await call(app, "POST", "/api/admin/credentials", body=dead, headers=key())).json()[
        "credentialId"
    ]
    reply = await call(app, "GET", f"/api/admin/credentials/{cid}/balance", headers=key())
    assert reply.status == 400, reply.text
    assert reply.json()["error"]["type"] == "invalid_request"
    assert dead["refreshToken"] not in reply.text

"""The listing's filters and pages (``GET /api/admin/credentials?state=&q=&group=&limit=&offset=``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from kirogate.errors import UpstreamThrottled
from tests.admin.fakes import FakeGateway, balance, call, key


async def listing(app: FastAPI, query: str = "") -> dict[str, Any]:
    reply = await call(app, "GET", f"/api/admin/credentials{query}", headers=key())
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [row["id"] for row in body["credentials"]]


async def test_without_filters_the_listing_is_kiro_rs_whole(app: FastAPI) -> None:
    body = await listing(app)
    assert ids(body) == [1, 2, 3]
    assert (body["total"], body["available"], body["offset"], body["limit"]) == (3, 3, 0, None)


async def test_state_filter(app: FastAPI, gateway: FakeGateway) -> None:
    await gateway.operations.set_disabled(2, True)
    lease = await gateway.pool.acquire()
    gateway.pool.report_failure(lease, UpstreamThrottled("429 throttled", retry_after=30))
    await lease.release()
    assert ids(await listing(app, "?state=disabled")) == [2]
    assert ids(await listing(app, "?state=cooling")) == [1]
    assert ids(await listing(app, "?state=ready,cooling")) == [1, 3]
    body = await listing(app, "?state=READY")
    assert (ids(body), body["total"], body["available"]) == ([3], 1, 1)


@pytest.mark.parametrize(
    ("q", "expected"),
    [("user1@", [1]), ("EXAMPLE.COM", [1]), ("#2", [2]), ("3", [3]), ("nobody", [])],
)
async def test_text_search_on_email_id_and_label(app: FastAPI, q: str, expected: list[int]) -> None:
    assert ids(await listing(app, f"?q={q.replace('#', '%23')}")) == expected


async def test_pages_keep_the_total_of_every_match(app: FastAPI) -> None:
    body = await listing(app, "?limit=2")
    assert (ids(body), body["total"], body["limit"]) == ([1, 2], 3, 2)
    body = await listing(app, "?limit=2&offset=2")
    assert (ids(body), body["total"], body["offset"]) == ([3], 3, 2)
    body = await listing(app, "?offset=5")
    assert (ids(body), body["total"]) == ([], 3)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?state=sleeping", "state"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=x", "limit"),
        ("?offset=-1", "offset"),
        ("?group=team-a", "group"),
    ],
)
async def test_bad_filters_are_400s_naming_the_parameter(
    app: FastAPI, query: str, named: str
) -> None:
    reply = await call(app, "GET", f"/api/admin/credentials{query}", headers=key())
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert named in error["message"]


async def test_group_filter_uses_the_group_hook(
    app: FastAPI, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def members(group: str) -> frozenset[int] | None:
        return frozenset({1, 3}) if group == "team-a" else None

    monkeypatch.setattr(gateway.operations, "credential_group_members", members)
    assert ids(await listing(app, "?group=team-a")) == [1, 3]
    assert ids(await listing(app, "?group=team-a&q=user1")) == [1]


async def test_each_row_keeps_the_cached_balance_with_its_reset_date(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.balances[1] = balance(remaining=40.0)
    row = (await listing(app, "?limit=1"))["credentials"][0]
    assert row["balance"]["currentUsage"] == 60.0
    assert row["balance"]["usageLimit"] == 100.0
    assert row["balance"]["nextResetAt"] == balance().next_reset_at.timestamp()  # type: ignore[union-attr]

"""``/api/admin/alerts/webhooks``: CRUD, the masked URL, the test route, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from kirogate.service import Gateway
from tests.admin.fakes import CLIENT_KEY, call, key
from tests.service.test_alerts import SECRET_TOKEN, Receiver

BASE = "/api/admin/alerts/webhooks"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.close()


async def test_crud_with_the_url_masked(live_store: tuple[FastAPI, Gateway]) -> None:
    app, gateway = live_store
    url = f"https://hooks.example/services/{SECRET_TOKEN}"
    made = await call(app, "POST", BASE, body={"name": "ops", "format": "slack", "url": url},
                      headers=key())  # fmt: skip
    assert made.status == 201, made.text
    hook = made.json()
    assert hook["url"].startswith("https://hooks.example/…") and SECRET_TOKEN not in made.text
    assert hook["events"] == ["credential_disabled", "quota_exhausted", "refresh_failing",
                              "all_unusable", "key_limit"]  # fmt: skip
    listing = await call(app, "GET", BASE, headers=key())
    assert [row["id"] for row in listing.json()["webhooks"]] == [hook["id"]]
    assert SECRET_TOKEN not in listing.text
    changed = await call(app, "PATCH", f"{BASE}/{hook['id']}",
                         body={"enabled": False, "events": ["key_limit"]}, headers=key())  # fmt: skip
    assert changed.json()["enabled"] is False and changed.json()["events"] == ["key_limit"]
    assert (await call(app, "GET", f"{BASE}/{hook['id']}", headers=key())).json()[
        "enabled"
    ] is False
    assert (await call(app, "DELETE", f"{BASE}/{hook['id']}", headers=key())).status == 200
    assert (await call(app, "GET", f"{BASE}/{hook['id']}", headers=key())).status == 404
    # The URL is encrypted at rest, and the trail holds no token either.
    assert gateway.store is not None
    rows = await gateway.store.dump_table("audit_log")
    assert rows and SECRET_TOKEN not in str(rows)


async def test_the_test_route_sends_one_alert(
    live_store: tuple[FastAPI, Gateway], receiver: Receiver
) -> None:
    app, _ = live_store
    hook = (await call(app, "POST", BASE, body={"name": "t", "format": "dingtalk",
                                                "url": receiver.url}, headers=key())).json()  # fmt: skip
    reply = await call(app, "POST", f"{BASE}/{hook['id']}/test", headers=key())
    assert reply.json() == {"delivered": True, "tries": 1, "status": 200, "error": None}
    assert receiver.bodies[0]["msgtype"] == "text"
    receiver.statuses = [500]
    failed = await call(app, "POST", f"{BASE}/{hook['id']}/test", headers=key())
    assert failed.json()["delivered"] is False and failed.json()["status"] == 500


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"format": "slack", "url": "https://x.test/a"}, "name"),
        ({"name": "a", "format": "teams", "url": "https://x.test/a"}, "format"),
        ({"name": "a", "format": "slack", "url": "ftp://x.test/a"}, "url"),
        ({"name": "a", "format": "slack", "url": "https://x.test/a", "events": ["nope"]}, "events"),
        ({"name": "a", "format": "slack", "url": "https://x.test/a", "enabled": "yes"}, "enabled"),
        ({"name": "a", "format": "slack", "url": "https://x.test/a", "colour": 1}, "colour"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    live_store: tuple[FastAPI, Gateway], body: dict[str, object], param: str
) -> None:
    app, _ = live_store
    reply = await call(app, "POST", BASE, body=body, headers=key())
    assert reply.status == 400
    assert param in reply.json()["error"]["message"]


async def test_bad_ids_and_authorization(live_store: tuple[FastAPI, Gateway]) -> None:
    app, _ = live_store
    assert (await call(app, "GET", f"{BASE}/abc", headers=key())).status == 400
    assert (await call(app, "GET", f"{BASE}/99", headers=key())).status == 404
    assert (await call(app, "GET", BASE)).status == 401
    assert (await call(app, "GET", BASE, headers=key(CLIENT_KEY))).status == 401


async def test_without_a_store_webhooks_and_backups_are_404(app: FastAPI) -> None:
    reply = await call(app, "GET", BASE, headers=key())
    assert reply.status == 404 and "store" in reply.json()["error"]["message"]
    backup = await call(app, "GET", "/api/admin/backup",
                        headers={**key(), "x-backup-passphrase": "long enough passphrase"})  # fmt: skip
    assert backup.status == 404

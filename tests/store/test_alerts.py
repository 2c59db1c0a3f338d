"""Alert webhooks in the store (URL encrypted) and the shared dedupe window."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kirogate.errors import NotFound
from kirogate.store import Store
from kirogate.store.alerts import mask_url
from kirogate.store.schema import alert_webhooks

URL = "https://hooks.example/services/T000/B000/secret-token-abcdef"


async def test_webhooks_round_trip_with_the_url_encrypted(store: Store) -> None:
    hook = await store.add_webhook(name="ops", format="slack", url=URL, events=["key_limit"])
    async with store.engine.connect() as conn:
        raw = (await conn.execute(sa.select(alert_webhooks.c.url))).scalar_one()
    assert "secret-token" not in raw
    assert (await store.get_webhook(hook.id)).url == URL
    assert "secret-token" not in str(hook.to_public()) and "secret-token" not in repr(hook)
    changed = await store.update_webhook(hook.id, enabled=False, events=["all_unusable"])
    assert changed.enabled is False and changed.events == ("all_unusable",)
    assert [h.id for h in await store.list_webhooks()] == [hook.id]
    await store.delete_webhook(hook.id)
    with pytest.raises(NotFound):
        await store.get_webhook(hook.id)
    with pytest.raises(NotFound):
        await store.delete_webhook(hook.id)


async def test_an_alert_is_claimed_once_per_window(open_store: object) -> None:
    one = await open_store()  # type: ignore[operator]
    two = await open_store()  # type: ignore[operator]
    assert await one.claim_alert("credential_disabled:1", timedelta(minutes=10))
    assert not await two.claim_alert("credential_disabled:1", timedelta(minutes=10))
    assert await two.claim_alert("credential_disabled:2", timedelta(minutes=10))
    assert await one.claim_alert("x", timedelta(seconds=0))
    assert await two.claim_alert("x", timedelta(seconds=0))  # the window has passed


def test_a_masked_url_keeps_the_host_only() -> None:
    assert mask_url(URL) == "https://hooks.example/…cdef"

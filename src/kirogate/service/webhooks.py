"""Alert webhooks as operators manage them: the checks on their fields and the operations
(add, list, change, delete, send a test) for :class:`~kirogate.service.operations.Operations`.

Every change is stored, then the ``alerts`` topic tells every process (its alerter reloads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kirogate.errors import InvalidRequest, NotFound
from kirogate.service.alerts import ALERT_TYPES, FORMATS, Alert, Alerter, Delivery
from kirogate.store.alerts import WebhookRecord

if TYPE_CHECKING:
    from kirogate.store import Store

log = logging.getLogger(__name__)

MAX_NAME = 200
MAX_URL = 2000


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InvalidRequest(f"name: give a text of 1 to {MAX_NAME} characters", param="name")
    if any(not ch.isprintable() for ch in value):
        raise InvalidRequest("name: no control characters", param="name")
    return value.strip()


def check_format(value: Any) -> str:
    if value not in FORMATS:
        raise InvalidRequest(f"format: one of {', '.join(FORMATS)}", param="format")
    return str(value)


def check_url(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise InvalidRequest("url: give the webhook's http(s) URL", param="url")
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidRequest("url: not a valid URL", param="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("url: an http:// or https:// URL with a host", param="url")
    if any(ch.isspace() or not ch.isprintable() for ch in value.strip()):
        raise InvalidRequest("url: no spaces or control characters", param="url")
    return value.strip()


def check_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"events: a list of {', '.join(ALERT_TYPES)}", param="events")
    unknown = [item for item in value if item not in ALERT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"events: unknown {unknown[0]!r}; use {', '.join(ALERT_TYPES)}", param="events"
        )
    return list(dict.fromkeys(value))


def check_enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest("enabled: true or false", param="enabled")
    return value


class AlertOperations:
    """Webhook records for :class:`~kirogate.service.operations.Operations`."""

    _store: Callable[[], Store | None]
    changes: Any
    alerter: Alerter | None = None

    def _alert_store(self) -> Store:
        store: Store | None = self._store()
        if store is None:
            # An in-memory gateway (tests, embedding) has nowhere to keep them.
            raise NotFound("alert webhooks need the store: run kirogate serve")
        return store

    async def webhooks(self) -> list[WebhookRecord]:
        return await self._alert_store().list_webhooks()

    async def webhook(self, webhook_id: int) -> WebhookRecord:
        return await self._alert_store().get_webhook(webhook_id)

    async def create_webhook(
        self, *, name: Any, format: Any, url: Any, events: Any = None, enabled: Any = True
    ) -> WebhookRecord:
        record = await self._alert_store().add_webhook(
            name=check_name(name),
            format=check_format(format),
            url=check_url(url),
            events=check_events(list(ALERT_TYPES) if events is None else events),
            enabled=check_enabled(enabled),
        )
        log.info("alert webhook #%s (%s) added", record.id, record.name)
        await self.changes.changed("alerts")
        return record

    async def update_webhook(self, webhook_id: int, **fields: Any) -> WebhookRecord:
        checks = {"name": check_name, "format": check_format, "url": check_url,
                  "events": check_events, "enabled": check_enabled}  # fmt: skip
        clean = {name: checks[name](value) for name, value in fields.items()}
        store = self._alert_store()
        record = (
            await store.update_webhook(webhook_id, **clean)
            if clean
            else await store.get_webhook(webhook_id)
        )
        log.info("alert webhook #%s changed", webhook_id)
        await self.changes.changed("alerts")
        return record

    async def delete_webhook(self, webhook_id: int) -> None:
        await self._alert_store().delete_webhook(webhook_id)
        log.info("alert webhook #%s deleted", webhook_id)
        await self.changes.changed("alerts")

    async def test_webhook(self, webhook_id: int) -> Delivery:
        """Send a test alert now (one try, no dedupe) and say how it went."""
        hook = await self.webhook(webhook_id)
        alert = Alert("test", "test", f"kirogate: test alert for webhook {hook.name!r}")
        alerter = self.alerter
        if alerter is not None:
            return await alerter.deliver(hook, alert, tries=1)
        sender = Alerter(self.webhooks)
        try:
            return await sender.deliver(hook, alert, tries=1)
        finally:
            await sender.close()

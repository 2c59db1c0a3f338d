"""Alert webhooks (the URL, which holds the receiver's token, encrypted) and the shared
de-duplication window of sent alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from kirogate.errors import NotFound
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.schema import alert_sent
from kirogate.store.schema import alert_webhooks as table


def mask_url(url: str) -> str:
    """``https://host/…`` plus the last 4 characters: enough to recognise, never the token."""
    parts = urlsplit(url)
    tail = url[-4:] if len(url) > 24 else ""
    return f"{parts.scheme}://{parts.hostname or ''}/…{tail}"


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A stored webhook; ``url`` is the plaintext URL (never shown: :meth:`to_public` masks it)."""

    id: int
    name: str
    format: str
    url: str = field(repr=False)
    events: tuple[str, ...]
    enabled: bool
    created_at: datetime
    updated_at: datetime

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "format": self.format,
            "url": mask_url(self.url),
            "events": list(self.events),
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class AlertsMixin(StoreBase):
    def _webhook(self, row: sa.Row[Any]) -> WebhookRecord:
        return WebhookRecord(
            id=int(row.id),
            name=row.name,
            format=row.format,
            url=self._box.decrypt(row.url) or "",
            events=tuple(row.events or ()),
            enabled=bool(row.enabled),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def add_webhook(
        self, *, name: str, format: str, url: str, events: list[str], enabled: bool = True
    ) -> WebhookRecord:
        now = utcnow()
        values = {
            "name": name,
            "format": format,
            "url": self._box.encrypt(url),
            "events": list(events),
            "enabled": enabled,
            "created_at": now,
            "updated_at": now,
        }
        async with self._writing() as conn:
            new_id = inserted_id(await conn.execute(sa.insert(table).values(**values)))
        return WebhookRecord(new_id, name, format, url, tuple(events), enabled, now, now)

    async def list_webhooks(self) -> list[WebhookRecord]:
        async with self._reading() as conn:
            rows = list(await conn.execute(sa.select(table).order_by(table.c.id)))
        return [self._webhook(row) for row in rows]

    async def get_webhook(self, webhook_id: int) -> WebhookRecord:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id == webhook_id))).first()
        if row is None:
            raise NotFound(f"webhook {webhook_id} does not exist")
        return self._webhook(row)

    async def update_webhook(self, webhook_id: int, **fields: Any) -> WebhookRecord:
        """Change ``name``, ``format``, ``url``, ``events`` or ``enabled``."""
        values = dict(fields)
        if "url" in values:
            values["url"] = self._box.encrypt(values["url"])
        if "events" in values:
            values["events"] = list(values["events"])
        values["updated_at"] = utcnow()
        async with self._writing() as conn:
            result = await conn.execute(
                sa.update(table).where(table.c.id == webhook_id).values(**values)
            )
        if result.rowcount == 0:
            raise NotFound(f"webhook {webhook_id} does not exist")
        return await self.get_webhook(webhook_id)

    async def delete_webhook(self, webhook_id: int) -> None:
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(table).where(table.c.id == webhook_id))
        if result.rowcount == 0:
            raise NotFound(f"webhook {webhook_id} does not exist")

    async def claim_alert(self, key: str, window: timedelta) -> bool:
        """``True`` for the first process to send ``key`` within ``window`` (then it is
        claimed until ``now + window``); ``False`` while an earlier claim holds."""
        now = utcnow()
        key = key[:300]
        async with self._writing() as conn:
            taken = (
                await conn.execute(
                    sa.update(alert_sent)
                    .where(alert_sent.c.key == key, alert_sent.c.until <= now)
                    .values(until=now + window)
                )
            ).rowcount
            if taken:
                return True
            inserted = await conn.execute(self._insert_new(alert_sent, key=key, until=now + window))
            return bool(inserted.rowcount)

    def _insert_new(self, target: sa.Table, **values: Any) -> sa.Executable:
        """``INSERT ... ON CONFLICT DO NOTHING`` for this dialect."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(target).values(**values).on_conflict_do_nothing()
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(target).values(**values).on_conflict_do_nothing()

"""What each client key used: requests, input and output tokens per key and UTC day.

:meth:`KeyUsageMixin.count_key_usage` only adds to a small table in memory (merged per key and
day, so a busy key costs one row per flush); a background task writes it every
:data:`USAGE_FLUSH_INTERVAL` seconds with additive upserts, so several processes may count
the same key. While the request-log writer runs that often, its turns write the usage in the
same transaction as the log rows (one write a second instead of two under load). Nothing
here writes on a request's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from kirogate.errors import KirogateError
from kirogate.store.base import StoreBase, utcnow
from kirogate.store.schema import api_keys, key_usage
from kirogate.tasks import spawn

log = logging.getLogger(__name__)

CONFIGURED_KEY_ID = 0  # the usage row of the configured (--api-key) keys
USAGE_FLUSH_INTERVAL = 1.0
_WARN_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """What a key used today and this month (UTC), and when it was last used."""

    requests_today: int = 0
    input_tokens_today: int = 0
    output_tokens_today: int = 0
    requests_month: int = 0
    input_tokens_month: int = 0
    output_tokens_month: int = 0
    last_used_at: datetime | None = None

    @property
    def tokens_today(self) -> int:
        return self.input_tokens_today + self.output_tokens_today

    @property
    def tokens_month(self) -> int:
        return self.input_tokens_month + self.output_tokens_month

    def to_json(self) -> dict[str, Any]:
        return {
            "today": {
                "requests": self.requests_today,
                "input_tokens": self.input_tokens_today,
                "output_tokens": self.output_tokens_today,
                "tokens": self.tokens_today,
            },
            "month": {
                "requests": self.requests_month,
                "input_tokens": self.input_tokens_month,
                "output_tokens": self.output_tokens_month,
                "tokens": self.tokens_month,
            },
        }


def utc_day(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


@dataclass(slots=True)
class _Pending:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    last_used_at: datetime | None = None


class KeyUsageMixin(StoreBase):
    _usage_pending: dict[tuple[int, date], _Pending]
    _usage_flusher: asyncio.Task[None] | None
    _usage_lock: asyncio.Lock

    def count_key_usage(
        self,
        key_id: int,
        *,
        requests: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        at: datetime | None = None,
    ) -> None:
        """Add to the key's usage of the day; written behind, never waits."""
        if not hasattr(self, "_usage_pending"):
            self._usage_pending = {}
            self._usage_flusher = None
            self._usage_lock = asyncio.Lock()
        now = at or utcnow()
        slot = self._usage_pending.setdefault((key_id, utc_day(now)), _Pending())
        slot.requests += max(0, requests)
        slot.input_tokens += max(0, input_tokens or 0)
        slot.output_tokens += max(0, output_tokens or 0)
        if requests and (slot.last_used_at is None or now > slot.last_used_at):
            slot.last_used_at = now
        if self._usage_rides_along():
            return  # the request-log writer's next turn writes it, in its transaction
        if self._usage_flusher is None or self._usage_flusher.done():
            with contextlib.suppress(RuntimeError):  # no running loop: written at flush/close
                self._usage_flusher = spawn(self._run_usage_flusher(), name="kirogate key usage")

    def _usage_rides_along(self) -> bool:
        """Whether the request-log writer's turns write the usage, in their transaction (it
        runs, at least as often as this module's own writer would)."""
        interval = getattr(self, "_log_flush_interval", math.inf)
        return getattr(self, "_log_flusher", None) is not None and interval <= USAGE_FLUSH_INTERVAL

    async def flush_key_usage(self) -> None:
        """Write what was counted so far (additively: other processes count the same keys)."""
        if not getattr(self, "_usage_pending", None):
            return
        async with self._usage_lock:
            pending = self._take_key_usage()
            try:
                async with self._writing() as conn:
                    await self._write_key_usage(conn, pending)
            except BaseException:
                self._return_key_usage(pending)
                raise

    def _take_key_usage(self) -> dict[tuple[int, date], _Pending]:
        """What was counted so far, now owned by the caller (``{}`` when nothing was)."""
        pending: dict[tuple[int, date], _Pending] | None = getattr(self, "_usage_pending", None)
        if not pending:
            return {}
        self._usage_pending = {}
        return pending

    async def _write_key_usage(self, conn: Any, pending: dict[tuple[int, date], _Pending]) -> None:
        for (key_id, day), slot in pending.items():
            await self._add_usage(conn, key_id, day, slot)

    def _return_key_usage(self, pending: dict[tuple[int, date], _Pending]) -> None:
        """Put usage whose write failed back, to be written on the next attempt."""
        for where, slot in pending.items():
            merged = self._usage_pending.setdefault(where, _Pending())
            merged.requests += slot.requests
            merged.input_tokens += slot.input_tokens
            merged.output_tokens += slot.output_tokens
            if slot.last_used_at and (
                merged.last_used_at is None or slot.last_used_at > merged.last_used_at
            ):
                merged.last_used_at = slot.last_used_at

    async def _add_usage(self, conn: Any, key_id: int, day: date, slot: _Pending) -> None:
        table = key_usage
        updated = await conn.execute(
            sa.update(table)
            .where(table.c.key_id == key_id, table.c.day == day)
            .values(
                requests=table.c.requests + slot.requests,
                input_tokens=table.c.input_tokens + slot.input_tokens,
                output_tokens=table.c.output_tokens + slot.output_tokens,
                last_used_at=slot.last_used_at or table.c.last_used_at,
            )
        )
        if updated.rowcount == 0:
            insert = {
                "key_id": key_id,
                "day": day,
                "requests": slot.requests,
                "input_tokens": slot.input_tokens,
                "output_tokens": slot.output_tokens,
                "last_used_at": slot.last_used_at,
            }
            # Another process may insert the same row meanwhile: add to it then.
            statement: Any
            if self.dialect == "sqlite":
                from sqlalchemy.dialects import sqlite

                lite = sqlite.insert(table).values(**insert)
                statement = lite.on_conflict_do_update(
                    index_elements=["key_id", "day"],
                    set_={
                        "requests": table.c.requests + lite.excluded.requests,
                        "input_tokens": table.c.input_tokens + lite.excluded.input_tokens,
                        "output_tokens": table.c.output_tokens + lite.excluded.output_tokens,
                    },
                )
            else:
                from sqlalchemy.dialects import postgresql

                pg = postgresql.insert(table).values(**insert)
                statement = pg.on_conflict_do_update(
                    index_elements=["key_id", "day"],
                    set_={
                        "requests": table.c.requests + pg.excluded.requests,
                        "input_tokens": table.c.input_tokens + pg.excluded.input_tokens,
                        "output_tokens": table.c.output_tokens + pg.excluded.output_tokens,
                    },
                )
            await conn.execute(statement)
        if slot.last_used_at is not None and key_id != CONFIGURED_KEY_ID:
            await conn.execute(
                sa.update(api_keys)
                .where(
                    api_keys.c.id == key_id,
                    sa.or_(
                        api_keys.c.last_used_at.is_(None),
                        api_keys.c.last_used_at < slot.last_used_at,
                    ),
                )
                .values(last_used_at=slot.last_used_at)
            )

    async def key_usage(
        self, now: datetime | None = None, *, key_id: int | None = None
    ) -> dict[int, KeyUsage]:
        """Usage today and this month (UTC) by key id, for every key that used anything
        (or only for ``key_id``)."""
        today = utc_day(now)
        first = today.replace(day=1)
        table = key_usage
        only = table.c.key_id == key_id if key_id is not None else sa.true()
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(
                    table.c.key_id,
                    table.c.day,
                    table.c.requests,
                    table.c.input_tokens,
                    table.c.output_tokens,
                    table.c.last_used_at,
                ).where(table.c.day >= first, only)
            )
            month: dict[int, list[Any]] = {}
            for row in rows:
                entry = month.setdefault(row.key_id, [0, 0, 0, 0, 0, 0, None])
                entry[3] += row.requests
                entry[4] += row.input_tokens
                entry[5] += row.output_tokens
                if row.day == today:
                    entry[0] += row.requests
                    entry[1] += row.input_tokens
                    entry[2] += row.output_tokens
                if row.last_used_at is not None and (
                    entry[6] is None or row.last_used_at > entry[6]
                ):
                    entry[6] = row.last_used_at
            last_rows = await conn.execute(
                sa.select(table.c.key_id, sa.func.max(table.c.last_used_at))
                .where(only)
                .group_by(table.c.key_id)
            )
            last = {row[0]: row[1] for row in last_rows}
        usage = {key_id: KeyUsage(*entry) for key_id, entry in month.items()}
        for key_id, when in last.items():
            if when is not None and key_id not in usage:
                usage[key_id] = KeyUsage(last_used_at=when)
        return usage

    async def _run_usage_flusher(self) -> None:
        warned = -math.inf
        while getattr(self, "_usage_pending", None):
            await asyncio.sleep(USAGE_FLUSH_INTERVAL)
            try:
                await self.flush_key_usage()
            except (KirogateError, SQLAlchemyError) as exc:
                now = asyncio.get_running_loop().time()
                if now - warned >= _WARN_EVERY:
                    warned = now
                    log.warning("key usage not written (kept for later): %s", exc)

    async def _stop_key_usage(self) -> None:
        """Stop the writer and write what is still counted (bounded: a frozen database must
        not hold the shutdown)."""
        task = getattr(self, "_usage_flusher", None)
        if task is not None:
            self._usage_flusher = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            async with asyncio.timeout(5.0):
                await self.flush_key_usage()
        except (KirogateError, SQLAlchemyError, TimeoutError) as exc:
            log.warning("key usage lost at close: %s", exc or "no answer in time")

"""Client keys for people and teams: limits, expiry, a switch, a credential group, and usage.

A key's usage (requests, input and output tokens) is counted per UTC day in ``key_usage``.
:meth:`KeysMixin.count_key_usage` only adds to a small table in memory (merged per key and
day, so a busy key costs one row per flush); a background task writes it every
:data:`USAGE_FLUSH_INTERVAL` seconds with additive upserts, so several processes may count
the same key. Nothing here writes on a request's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import math
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from kirogate.errors import InvalidRequest, KirogateError, NotFound
from kirogate.store import values as check
from kirogate.store.access import KEY_PREFIX, display_prefix, hash_key
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.schema import api_keys, key_usage
from kirogate.tasks import spawn

log = logging.getLogger(__name__)

CONFIGURED_KEY_ID = 0  # the usage row of the configured (--api-key) keys
USAGE_FLUSH_INTERVAL = 1.0
MAX_NAME = 200
MAX_GROUP = 64
MAX_MODELS = 100
MAX_PATTERN = 200
_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LIMIT_NAMES = ("rpm", "requests_per_day", "tokens_per_day", "tokens_per_month", "max_concurrency")
_WARN_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """What one key may do; ``None`` (or an empty ``models``) means no limit of that kind."""

    rpm: int | None = None
    requests_per_day: int | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    models: tuple[str, ...] = ()
    max_concurrency: int | None = None

    @property
    def unlimited(self) -> bool:
        return self == KeyLimits()

    def allows_model(self, *names: str) -> bool:
        """Whether any of ``names`` (the name asked, the id it resolved to) is allowed."""
        if not self.models:
            return True
        return any(
            fnmatch.fnmatchcase(name.lower(), pattern.lower())
            for pattern in self.models
            for name in names
            if name
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in _LIMIT_NAMES}
        data["models"] = list(self.models)
        return data


NO_LIMITS = KeyLimits()


def parse_limits(value: Any, name: str = "limits") -> KeyLimits:
    """``value`` (a JSON object, or ``None`` for none) as limits; bad input names the field."""
    if value is None:
        return NO_LIMITS
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name}: must be an object or null", param=name)
    unknown = sorted(set(value) - {*_LIMIT_NAMES, "models"})
    if unknown:
        raise InvalidRequest(
            f"{name}.{unknown[0]}: unknown limit (known: {', '.join((*_LIMIT_NAMES, 'models'))})",
            param=f"{name}.{unknown[0]}",
        )
    numbers: dict[str, int | None] = {}
    for limit in _LIMIT_NAMES:
        number = value.get(limit)
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int) or number < 1
        ):
            raise InvalidRequest(
                f"{name}.{limit}: must be a positive integer or null, got {number!r}",
                param=f"{name}.{limit}",
            )
        if number is not None and number > 2**62:
            raise InvalidRequest(f"{name}.{limit}: too large", param=f"{name}.{limit}")
        numbers[limit] = number
    models = value.get("models")
    if models is None:
        models = []
    if not isinstance(models, list) or len(models) > MAX_MODELS:
        raise InvalidRequest(
            f"{name}.models: must be a list of at most {MAX_MODELS} model names or patterns",
            param=f"{name}.models",
        )
    for pattern in models:
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > MAX_PATTERN:
            raise InvalidRequest(
                f"{name}.models: each entry must be a model name or pattern of 1 to "
                f"{MAX_PATTERN} characters, got {pattern!r}",
                param=f"{name}.models",
            )
    return KeyLimits(models=tuple(p.strip() for p in models), **numbers)


def check_group(value: Any) -> str | None:
    """A credential group's name (letters, digits, ``.``, ``_``, ``-``; at most 64) or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _GROUP_NAME.fullmatch(value):
        raise InvalidRequest(
            "group: a group name has 1 to 64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit), or is null",
            param="group",
        )
    return value


def check_expiry(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRequest(
                f"expires_at: not an ISO 8601 time: {value!r}", param="expires_at"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidRequest("expires_at: must be an ISO 8601 time or null", param="expires_at")
    when: datetime = value
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=UTC)  # a time without an offset is read as UTC
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored client key with everything the access check needs (never the key itself)."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    updated_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked: bool = False
    disabled: bool = False
    expires_at: datetime | None = None
    group: str | None = None
    limits: KeyLimits = field(default=NO_LIMITS)

    def refusal(self, now: datetime) -> str | None:
        """Why this key is refused now (revoked, disabled, expired), else ``None``."""
        if self.revoked:
            return "this API key was revoked"
        if self.disabled:
            return "this API key is disabled"
        if self.expires_at is not None and now >= self.expires_at:
            return f"this API key expired at {self.expires_at.isoformat()}"
        return None


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


def _limits_of(stored: Any) -> KeyLimits:
    try:
        return parse_limits(stored)
    except InvalidRequest:
        log.warning("stored key limits %r are not valid; the key is served without them", stored)
        return NO_LIMITS


def _key_record(row: sa.Row[Any]) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
        revoked=bool(row.revoked),
        disabled=bool(row.disabled),
        expires_at=row.expires_at,
        group=row.group,
        limits=_limits_of(row.limits),
    )


def _new_plaintext() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def utc_day(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


@dataclass(slots=True)
class _Pending:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    last_used_at: datetime | None = None


class KeysMixin(StoreBase):
    _usage_pending: dict[tuple[int, date], _Pending]
    _usage_flusher: asyncio.Task[None] | None
    _usage_lock: asyncio.Lock

    # ------------------------------------------------------------ keys

    async def create_client_key(
        self,
        name: Any,
        *,
        limits: KeyLimits = NO_LIMITS,
        expires_at: datetime | None = None,
        group: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new random key: its record and the plaintext, which is shown only this once."""
        name = check.required_text(name, "name", MAX_NAME)
        group = check_group(group)
        plaintext = _new_plaintext()
        now = utcnow()
        values = {
            "name": name,
            "key_hash": hash_key(plaintext),
            "prefix": display_prefix(plaintext),
            "created_at": now,
            "updated_at": now,
            "limits": None if limits.unlimited else limits.to_json(),
            "expires_at": expires_at,
            "disabled": False,
            "group": group,
        }
        async with self._writing() as conn:
            result = await conn.execute(sa.insert(api_keys).values(**values))
        record = KeyRecord(
            id=inserted_id(result),
            name=name,
            prefix=values["prefix"],
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            group=group,
            limits=limits,
        )
        return record, plaintext

    async def client_keys(self) -> list[KeyRecord]:
        """Every stored key, revoked ones too, oldest first."""
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(api_keys).order_by(api_keys.c.id))
            return [_key_record(row) for row in rows]

    async def client_key(self, key_id: int) -> KeyRecord:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"API key {key_id} does not exist", param="id")
        return _key_record(row)

    async def find_client_key(self, plaintext: str) -> KeyRecord | None:
        """The record of the key ``plaintext`` (revoked or not), else ``None``; read only."""
        if not isinstance(plaintext, str) or not plaintext:
            return None
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    sa.select(api_keys).where(api_keys.c.key_hash == hash_key(plaintext))
                )
            ).first()
        return None if row is None else _key_record(row)

    async def update_client_key(self, key_id: int, **changes: Any) -> KeyRecord:
        """Change ``name``, ``limits`` (:class:`KeyLimits`), ``disabled``, ``expires_at`` or
        ``group`` of a key that is not revoked."""
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "name":
                values["name"] = check.required_text(value, "name", MAX_NAME)
            elif name == "limits":
                values["limits"] = None if value.unlimited else value.to_json()
            elif name == "disabled":
                if not isinstance(value, bool):
                    raise InvalidRequest("disabled: must be true or false", param="disabled")
                values["disabled"] = value
            elif name == "expires_at":
                values["expires_at"] = check_expiry(value)
            elif name == "group":
                values["group"] = check_group(value)
            else:
                raise InvalidRequest(f"{name}: not a field of a key", param=name)
        current = await self.client_key(key_id)
        if current.revoked:
            raise InvalidRequest(f"API key {key_id} is revoked; create a new one", param="id")
        if values:
            values["updated_at"] = utcnow()
            async with self._writing() as conn:
                await conn.execute(
                    sa.update(api_keys).where(api_keys.c.id == key_id).values(**values)
                )
        return await self.client_key(key_id)

    async def regenerate_client_key(self, key_id: int) -> tuple[KeyRecord, str]:
        """A new secret for the key ``key_id`` (same id, name, limits); the old one stops working."""
        current = await self.client_key(key_id)
        if current.revoked:
            raise InvalidRequest(f"API key {key_id} is revoked; create a new one", param="id")
        plaintext = _new_plaintext()
        now = utcnow()
        prefix = display_prefix(plaintext)
        async with self._writing() as conn:
            await conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(key_hash=hash_key(plaintext), prefix=prefix, updated_at=now)
            )
        return replace(current, prefix=prefix, updated_at=now), plaintext

    # ------------------------------------------------------------ usage

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
        if self._usage_flusher is None or self._usage_flusher.done():
            with contextlib.suppress(RuntimeError):  # no running loop: written at flush/close
                self._usage_flusher = spawn(self._run_usage_flusher(), name="kirogate key usage")

    async def flush_key_usage(self) -> None:
        """Write what was counted so far (additively: other processes count the same keys)."""
        if not getattr(self, "_usage_pending", None):
            return
        async with self._usage_lock:
            pending, self._usage_pending = self._usage_pending, {}
            try:
                async with self._writing() as conn:
                    for (key_id, day), slot in pending.items():
                        await self._add_usage(conn, key_id, day, slot)
            except BaseException:
                for where, slot in pending.items():  # written on the next attempt
                    merged = self._usage_pending.setdefault(where, _Pending())
                    merged.requests += slot.requests
                    merged.input_tokens += slot.input_tokens
                    merged.output_tokens += slot.output_tokens
                    if slot.last_used_at and (
                        merged.last_used_at is None or slot.last_used_at > merged.last_used_at
                    ):
                        merged.last_used_at = slot.last_used_at
                raise

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


__all__ = [
    "CONFIGURED_KEY_ID",
    "NO_LIMITS",
    "KeyLimits",
    "KeyRecord",
    "KeyUsage",
    "KeysMixin",
    "check_expiry",
    "check_group",
    "parse_limits",
    "utc_day",
]

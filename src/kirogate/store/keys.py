"""Client keys for people and teams: limits, expiry, a switch and a credential group per key.

Only a hash of each key is stored (see :mod:`kirogate.store.access`); what the keys used is
counted in :mod:`kirogate.store.key_usage`.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import values as check
from kirogate.store.access import KEY_PREFIX, display_prefix, hash_key
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.key_usage import CONFIGURED_KEY_ID, KeyUsage, utc_day
from kirogate.store.schema import api_keys

log = logging.getLogger(__name__)

MAX_NAME = 200
MAX_GROUP = 64
MAX_MODELS = 100
MAX_PATTERN = 200
_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LIMIT_NAMES = ("rpm", "requests_per_day", "tokens_per_day", "tokens_per_month", "max_concurrency")


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


class KeysMixin(StoreBase):
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

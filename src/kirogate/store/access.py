"""Client access: API keys (kept as a sha256 hash and a short display prefix) and blocked IPs."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import values as check
from kirogate.store.addresses import BlockRecord
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.schema import api_keys
from kirogate.store.schema import blocked_ips as blocked_table

KEY_PREFIX = "kg-"
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 512
# last_used_at is written at most this often per key, to keep writes off the request path.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_DUMMY_HASH = "0" * 64


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def display_prefix(plaintext: str) -> str:
    """Enough of the key to recognise it, never more than a quarter of it."""
    return plaintext[: min(8, len(plaintext) // 4)] + "…"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A client API key as listed: never the key itself, only its first characters."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked": self.revoked,
        }


def _record(row: sa.Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked=bool(row.revoked),
    )


def _check_plaintext(plaintext: Any) -> str:
    if not isinstance(plaintext, str):
        raise InvalidRequest("the API key must be a string", param="key")
    if not MIN_KEY_LENGTH <= len(plaintext) <= MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"an API key must have {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters", param="key"
        )
    if any(ch.isspace() or not ch.isprintable() for ch in plaintext):
        raise InvalidRequest("an API key cannot contain spaces or control characters", param="key")
    return plaintext


def normalise_ip(ip: Any) -> str:
    """An address or a network (CIDR) in canonical form; a host network is its address."""
    if not isinstance(ip, str) or not ip.strip():
        raise InvalidRequest("give an IP address or a network like 10.0.0.0/8", param="ip")
    try:
        network = ipaddress.ip_network(ip.strip(), strict=False)
    except ValueError:
        raise InvalidRequest(f"{ip!r} is not an IP address or network", param="ip") from None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


class AccessMixin(StoreBase):
    async def create_api_key(self, name: str) -> tuple[ApiKeyRecord, str]:
        """A new random key: its record and the plaintext, which is shown only this once."""
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        return await self.add_api_key(name, plaintext), plaintext

    async def add_api_key(self, name: str, plaintext: str) -> ApiKeyRecord:
        """Import an existing key; importing the same key again returns its record as stored."""
        name = check.required_text(name, "name", 200)
        plaintext = _check_plaintext(plaintext)
        key_hash = hash_key(plaintext)
        for _attempt in range(2):
            try:
                async with self._writing() as conn:
                    found = (
                        await conn.execute(
                            sa.select(api_keys).where(api_keys.c.key_hash == key_hash)
                        )
                    ).first()
                    if found is not None:
                        return _record(found)
                    prefix, now = display_prefix(plaintext), utcnow()
                    result = await conn.execute(
                        sa.insert(api_keys).values(
                            name=name, key_hash=key_hash, prefix=prefix, created_at=now
                        )
                    )
                return ApiKeyRecord(inserted_id(result), name, prefix, now, None, False)
            except IntegrityError:
                continue  # the same key imported by another process just now
        raise InvalidRequest("the API key could not be stored", param="key")

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(api_keys).order_by(api_keys.c.id))
            return [_record(row) for row in rows]

    async def verify_api_key(self, plaintext: str) -> ApiKeyRecord | None:
        """The record of an active key, else ``None``; the hash is compared in constant time."""
        if not isinstance(plaintext, str) or not plaintext:
            return None
        key_hash = hash_key(plaintext)
        async with self._reading() as conn:
            row = (
                await conn.execute(sa.select(api_keys).where(api_keys.c.key_hash == key_hash))
            ).first()
        stored = row.key_hash if row is not None else _DUMMY_HASH
        if row is None or not hmac.compare_digest(stored, key_hash) or row.revoked:
            return None
        record = _record(row)
        now = utcnow()
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
            async with self._writing() as conn:
                await conn.execute(
                    sa.update(api_keys).where(api_keys.c.id == record.id).values(last_used_at=now)
                )
            record = ApiKeyRecord(
                record.id, record.name, record.prefix, record.created_at, now, False
            )
        return record

    async def revoke_api_key(self, key_id: int) -> None:
        async with self._writing() as conn:
            result = await conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(revoked=True, revoked_at=utcnow())
            )
        if result.rowcount == 0:
            raise NotFound(f"API key {key_id} does not exist")

    # ---------------------------------------------------------------- blocked IPs

    async def block_ip(
        self, ip: str, reason: str | None = None, *, expires_at: datetime | None = None
    ) -> BlockRecord:
        """Block an address or network, until ``expires_at`` if given; blocking it again
        replaces the reason and the expiry."""
        key, now = normalise_ip(ip), utcnow()
        text = check.optional_text(reason, "reason")
        values = {"ip": key, "reason": text, "created_at": now, "expires_at": expires_at}
        async with self._writing() as conn:
            await conn.execute(
                self._upsert(blocked_table, values, ["ip"], ["reason", "expires_at"])
            )
        return BlockRecord(key, text, now, expires_at)

    async def unblock_ip(self, ip: str) -> None:
        key = normalise_ip(ip)
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(blocked_table).where(blocked_table.c.ip == key))
        if result.rowcount == 0:
            raise NotFound(f"{key} is not blocked")

    async def blocked_ips(self) -> list[tuple[str, str | None]]:
        """(address or network, reason) of the blocks in force (not expired), oldest first."""
        now = utcnow()
        async with self._reading() as conn:
            active = sa.or_(blocked_table.c.expires_at.is_(None), blocked_table.c.expires_at > now)
            rows = await conn.execute(
                sa.select(blocked_table.c.ip, blocked_table.c.reason)
                .where(active)
                .order_by(blocked_table.c.created_at, blocked_table.c.ip)
            )
            return [(row.ip, row.reason) for row in rows]

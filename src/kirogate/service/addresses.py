"""Operators' actions on client addresses (blocks with expiry, the visitors), and the visitor log.

:class:`VisitorLog` is what the request path touches: one dict update per request. A background
task adds the counts to the store's ``visitors`` table every few seconds (write-behind, like
the request log), so every instance's visitors are listed together; rows not seen for
:data:`VISITOR_RETENTION` and expired blocks are pruned by the same task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from typing import TYPE_CHECKING, Any

from kirogate.errors import InvalidRequest
from kirogate.tasks import spawn

if TYPE_CHECKING:
    from kirogate.service.changes import ChangeFeed
    from kirogate.store import Store
    from kirogate.store.addresses import BlockRecord, VisitorRecord

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 2.0
PRUNE_INTERVAL = 3600.0
VISITOR_RETENTION = timedelta(days=7)
MAX_PENDING = 50_000  # distinct addresses held between flushes; more are dropped (counted)
MAX_TTL = 10 * 365 * 86400


def canonical_network(value: Any, name: str = "ip") -> str:
    """An address or CIDR network (IPv4 or IPv6) in canonical form; a one-address network
    is its address. :class:`InvalidRequest` names the field."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"{name}: give an IP address or a CIDR network such as 10.0.0.0/8", param=name
        )
    try:
        network = ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidRequest(
            f"{name}: {value.strip()[:80]!r} is not an IP address or a CIDR network", param=name
        ) from None
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def parse_expiry(expires_at: Any, ttl: Any, *, now: datetime | None = None) -> datetime | None:
    """The block's end from ``expires_at`` (ISO 8601, with a zone or UTC) or ``ttl`` seconds;
    ``None`` for a block until removed. :class:`InvalidRequest` names the field."""
    now = now or datetime.now(UTC)
    if expires_at is not None and ttl is not None:
        raise InvalidRequest("give expires_at or ttl, not both", param="ttl")
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
            raise InvalidRequest("ttl must be a number of seconds", param="ttl")
        if not 0 < ttl <= MAX_TTL:
            raise InvalidRequest(f"ttl must be more than 0 and at most {MAX_TTL} s", param="ttl")
        return now + timedelta(seconds=float(ttl))
    if expires_at is None:
        return None
    if not isinstance(expires_at, str):
        raise InvalidRequest("expires_at must be an ISO 8601 time", param="expires_at")
    try:
        when = datetime.fromisoformat(expires_at.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"expires_at {expires_at!r} is not an ISO 8601 time such as 2026-12-31T23:59:00Z",
            param="expires_at",
        ) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when <= now:
        raise InvalidRequest("expires_at is in the past", param="expires_at")
    return when


class VisitorLog:
    """Requests per client address, counted in memory and written behind to the store."""

    def __init__(
        self, store: Callable[[], Store | None], *, interval: float = FLUSH_INTERVAL
    ) -> None:
        self._store = store
        self._interval = interval
        self._pending: dict[str, list[float]] = {}  # address -> [requests, last seen (epoch)]
        self._task: asyncio.Task[None] | None = None
        self._next_prune = 0.0
        self.dropped = 0

    def seen(self, address: str) -> None:
        """Count one request from ``address`` (no I/O)."""
        entry = self._pending.get(address)
        if entry is not None:
            entry[0] += 1
            entry[1] = time.time()
        elif len(self._pending) < MAX_PENDING:
            self._pending[address] = [1, time.time()]
        else:
            self.dropped += 1

    def start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name="kirogate visitor log")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception as exc:  # the database is away: the counts wait for the next turn
                log.warning("visitors not written yet: %s: %s", type(exc).__name__, exc)

    async def flush(self) -> None:
        """Add the counts held here to the store (and prune, at most hourly)."""
        store = self._store()
        if store is None:
            return
        batch, self._pending = self._pending, {}
        seen = {
            address: (int(count), datetime.fromtimestamp(last, UTC))
            for address, (count, last) in batch.items()
        }
        try:
            await store.record_visits(seen)
        except BaseException:
            for address, (count, last) in batch.items():  # back in line for the next flush
                entry = self._pending.setdefault(address, [0, last])
                entry[0] += count
                entry[1] = max(entry[1], last)
            raise
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            await store.prune_visitors(datetime.now(UTC) - VISITOR_RETENTION)
            await store.prune_blocked()

    async def close(self) -> None:
        """Stop the writer and write what is held (bounded: shutdown must not hang)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(5.0):
                await self.flush()
        except Exception as exc:
            log.warning("visitors not written at shutdown: %s: %s", type(exc).__name__, exc)


class AddressOperations:
    """Blocked addresses and visitors; a mixin of :class:`~kirogate.service.operations.Operations`."""

    changes: ChangeFeed
    visitors: VisitorLog

    def _stored(self) -> Store:  # pragma: no cover - Operations' own wins
        raise NotImplementedError

    async def block_address(
        self, ip: str, reason: str | None = None, *, expires_at: datetime | None = None
    ) -> BlockRecord:
        """Block an address or network (until ``expires_at``); every process applies it."""
        record = await self._stored().block_ip(ip, reason, expires_at=expires_at)
        until = f" until {expires_at.isoformat()}" if expires_at else ""
        log.info("address %s blocked%s", record.ip, until)
        await self.changes.changed("ips")
        return record

    async def unblock_address(self, ip: str) -> None:
        await self._stored().unblock_ip(ip)
        log.info("address %s unblocked", ip)
        await self.changes.changed("ips")

    async def blocked_addresses(self) -> list[BlockRecord]:
        """The blocks in force; expired ones are deleted on the way."""
        store = self._stored()
        if await store.prune_blocked():
            await self.changes.changed("ips")
        return await store.blocks()

    async def recent_visitors(
        self, *, since: datetime | None = None, limit: int = 100
    ) -> list[VisitorRecord]:
        """Addresses seen by every instance (this one's latest counts written first)."""
        try:
            await self.visitors.flush()
        except Exception as exc:  # listing still works, with the counts written before
            log.warning("visitors not written before listing: %s: %s", type(exc).__name__, exc)
        return await self._stored().visitors(since=since, limit=limit)

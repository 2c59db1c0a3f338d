"""Fake time, credentials and a pool factory for the pool tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from kirogate.pool import CredentialPool, Lease, PoolSettings
from kirogate.upstream.credentials import AuthMethod, Credential

START = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


class FakeTime:
    """A wall clock and a monotonic clock that move together, only when told."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.mono = 1000.0

    def wall(self) -> datetime:
        return self.now

    def clock(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def credential(cid: int, **fields: Any) -> Credential:
    return Credential(
        AuthMethod.SOCIAL,
        refresh_token=f"refresh-{cid}",
        access_token=f"access-{cid}",
        id=cid,
        email=f"user{cid}@example.com",
        **fields,
    )


def credentials(count: int) -> list[Credential]:
    return [credential(cid) for cid in range(1, count + 1)]


def make_pool(
    creds: list[Credential] | int, time: FakeTime, *, seed: int = 7, **settings: Any
) -> CredentialPool:
    items = credentials(creds) if isinstance(creds, int) else creds
    return CredentialPool(
        items,
        PoolSettings(**settings),
        clock=time.clock,
        wall=time.wall,
        rng=random.Random(seed),
    )


async def pick(pool: CredentialPool, *, succeed: bool = True, **kwargs: Any) -> int:
    """Acquire, optionally report success, release; the credential id picked."""
    lease: Lease = await pool.acquire(**kwargs)
    if succeed:
        pool.report_success(lease)
    await lease.release()
    return lease.id

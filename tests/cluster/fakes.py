"""An in-memory stand-in for :class:`kirogate.store.Store` with the methods the cluster uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kirogate.errors import NotFound
from kirogate.pool.state import CredentialState
from kirogate.upstream.credentials import AuthMethod, Credential


@dataclass
class StoredTokens:
    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None


class FakeStore:
    """Rows of pool state and tokens shared by every "process" handed the same instance.

    ``fail_next`` makes the next N calls of the named methods raise ``ConnectionError``;
    ``delay`` makes every call wait (to widen race windows).
    """

    def __init__(self, dialect: str = "postgresql") -> None:
        self.dialect = dialect
        self.rows: dict[int, CredentialState] = {}
        self.tokens: dict[int, StoredTokens] = {}
        self.credentials: dict[int, Credential] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail_next: dict[str, int] = {}
        self.delay = 0.0
        self._locks: dict[str, asyncio.Lock] = {}

    # ---------------------------------------------------------------- helpers

    def add_row(self, state: CredentialState) -> None:
        self.rows[state.id] = state

    def add_credential(self, cred: Credential) -> None:
        assert cred.id is not None
        self.credentials[cred.id] = cred
        self.rows.setdefault(cred.id, CredentialState(id=cred.id, priority=cred.priority))
        self.tokens[cred.id] = StoredTokens(cred.access_token, cred.refresh_token, cred.expires_at)

    def calls_of(self, name: str) -> list[Any]:
        return [args for called, args in self.calls if called == name]

    async def _enter(self, name: str, args: Any = None) -> None:
        self.calls.append((name, args))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_next.get(name, 0) > 0:
            self.fail_next[name] -= 1
            raise ConnectionError(f"fake database down ({name})")

    # ---------------------------------------------------------------- Store methods

    async def load_states(self) -> list[CredentialState]:
        await self._enter("load_states")
        return list(self.rows.values())

    async def apply_state(
        self, credential_id: int, sets: Mapping[str, Any], increments: Mapping[str, int]
    ) -> None:
        await self._enter("apply_state", (credential_id, dict(sets), dict(increments)))
        row = self.rows.get(credential_id)
        if row is None:
            return
        values = dict(sets)
        for name, delta in increments.items():
            values[name] = getattr(row, name) + delta
        self.rows[credential_id] = replace(row, **values)

    def exclusive(self, name: str, *, timeout: float = 30.0) -> Any:
        return self._exclusive(name, wait=timeout)

    @asynccontextmanager
    async def _exclusive(self, name: str, wait: float) -> AsyncIterator[None]:
        await self._enter("exclusive", name)
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with asyncio.timeout(wait):
            await lock.acquire()
        try:
            yield
        finally:
            lock.release()

    async def reload_tokens(self, cred: Credential) -> bool:
        await self._enter("reload_tokens", cred.id)
        assert cred.id is not None
        stored = self.tokens.get(cred.id)
        if stored is None:
            raise NotFound(f"credential #{cred.id} is not stored")
        before = (cred.access_token, cred.refresh_token, cred.expires_at)
        cred.access_token = stored.access_token
        cred.refresh_token = stored.refresh_token
        cred.expires_at = stored.expires_at
        return before != (cred.access_token, cred.refresh_token, cred.expires_at)

    async def save_tokens(self, cred: Credential) -> None:
        await self._enter("save_tokens", cred.id)
        assert cred.id is not None
        self.tokens[cred.id] = StoredTokens(cred.access_token, cred.refresh_token, cred.expires_at)

    async def list_credentials(self) -> list[Credential]:
        await self._enter("list_credentials")
        return [replace(cred) for cred in self.credentials.values()]


def credential(cid: int, **fields: Any) -> Credential:
    values: dict[str, Any] = {
        "refresh_token": f"refresh-{cid}",
        "access_token": f"access-{cid}",
        "id": cid,
        "email": f"user{cid}@example.com",
    }
    values.update(fields)
    return Credential(AuthMethod.SOCIAL, **values)

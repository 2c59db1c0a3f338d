"""Where operator logins are kept while they run: the store's ``logins`` table
(``store/logins.py``) when the gateway has a store, else :class:`MemoryLoginBook`.

Both keep the same rules: a login ends once (:meth:`LoginBook.finish_login` from
``pending`` only, unless told which ended statuses it may replace), and its secret is handed
out once (:meth:`LoginBook.claim_login_secret`), then wiped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

PENDING = "pending"


@dataclass(slots=True)
class LoginRecord:
    """One login, as the book keeps it (the ``logins`` table's columns). ``secret`` is the
    decrypted JSON object (a social login's PKCE verifier), ``None`` once used or ended."""

    id: str
    kind: str  # device | social
    status: str  # pending | complete | expired | denied | failed
    region: str
    created_at: datetime
    expires_at: datetime
    provider: str | None = None
    redirect_uri: str | None = None
    state_hash: str | None = None
    secret: dict[str, Any] | None = field(default=None, repr=False)
    finished_at: datetime | None = None
    credential_id: int | None = None
    error: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any] | None) -> LoginRecord | None:
        return cls(**row) if row is not None else None


class LoginBook(Protocol):
    """Where logins are kept: the store's ``logins`` table (``store/logins.py``), or
    :class:`MemoryLoginBook`. Rows are dicts of :class:`LoginRecord`'s fields."""

    async def add_login(self, row: dict[str, Any]) -> None: ...
    async def get_login(self, login_id: str) -> dict[str, Any] | None: ...
    async def login_by_state(self, state_hash: str) -> dict[str, Any] | None: ...
    async def claim_login_secret(self, login_id: str) -> dict[str, Any] | None: ...
    async def finish_login(
        self,
        login_id: str,
        status: str,
        *,
        at: datetime,
        credential_id: int | None = None,
        error: str | None = None,
        overriding: tuple[str, ...] = (),
    ) -> bool: ...
    async def expired_logins(self, now: datetime) -> list[str]: ...
    async def purge_logins(self, before: datetime) -> int: ...
    async def count_logins(self) -> int: ...


class MemoryLoginBook:
    """The logins of a gateway without a store (one process): the table's rules, in a dict."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    async def add_login(self, row: dict[str, Any]) -> None:
        self._rows[row["id"]] = dict(row)

    async def get_login(self, login_id: str) -> dict[str, Any] | None:
        row = self._rows.get(login_id)
        return dict(row) if row is not None else None

    async def login_by_state(self, state_hash: str) -> dict[str, Any] | None:
        for row in self._rows.values():
            if row.get("state_hash") == state_hash:
                return dict(row)
        return None

    async def claim_login_secret(self, login_id: str) -> dict[str, Any] | None:
        row = self._rows.get(login_id)
        if row is None or row["status"] != PENDING:
            return None
        secret: dict[str, Any] | None = row.get("secret")
        row["secret"] = None
        return secret

    async def finish_login(
        self,
        login_id: str,
        status: str,
        *,
        at: datetime,
        credential_id: int | None = None,
        error: str | None = None,
        overriding: tuple[str, ...] = (),
    ) -> bool:
        row = self._rows.get(login_id)
        if row is None or row["status"] not in (PENDING, *overriding):
            return False
        row.update(status=status, finished_at=at, secret=None)
        row.update(credential_id=credential_id, error=error)
        return True

    async def expired_logins(self, now: datetime) -> list[str]:
        return [
            row["id"]
            for row in self._rows.values()
            if row["status"] == PENDING and row["expires_at"] <= now
        ]

    async def purge_logins(self, before: datetime) -> int:
        gone = [
            row["id"]
            for row in self._rows.values()
            if (row.get("finished_at") is not None and row["finished_at"] < before)
            or (row["status"] == PENDING and row["expires_at"] < before)
        ]
        for login_id in gone:
            del self._rows[login_id]
        return len(gone)

    async def count_logins(self) -> int:
        return len(self._rows)

"""One token refresh per credential across every process that shares the database.

Kiro rotates refresh tokens: when two processes refresh the same credential at once, the
slower one presents a token that has just died and gets ``invalid_grant``, which disables
the credential. :class:`RefreshCoordinator` runs each refresh under a lock named for the
credential and first reloads the stored tokens: if another process refreshed meanwhile,
its token is used and no refresh is made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from kirogate.cluster.locks import DistributedLock
from kirogate.errors import KirogateError, LockTimeout, LockUnavailable, RefreshFailed
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

# A refresh may take up to REFRESH_TIMEOUT (60 s); waiters give up a little later.
LOCK_TTL = 30.0
LOCK_TIMEOUT = 75.0
SAVE_ATTEMPTS = 3
SAVE_RETRY_DELAY = 0.25


class TokenStore(Protocol):
    """The part of :class:`kirogate.store.Store` the coordinator uses."""

    async def reload_tokens(self, cred: Credential) -> bool: ...

    async def save_tokens(self, cred: Credential) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RefreshCoordinator:
    """Runs a credential's refresh under a cross-process lock, unless another did it already.

    Implements ``kirogate.upstream.auth.refresh.RefreshCoordinatorLike``; the
    :class:`~kirogate.upstream.auth.refresh.TokenManager` calls :meth:`run` from its per-process
    single-flight task.
    """

    def __init__(
        self,
        lock: DistributedLock,
        store: TokenStore,
        *,
        clock: Callable[[], datetime] = _utcnow,
        lock_ttl: float = LOCK_TTL,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self._lock = lock
        self._store = store
        self._clock = clock
        self._lock_ttl = lock_ttl
        self._lock_timeout = lock_timeout
        self.refreshes = 0  # refreshes this process made
        self.adopted = 0  # times another process's token was used instead
        # Whether the database answers now (the gateway's DatabaseWatch); while it does not,
        # a refresh fails at once instead of waiting on locks and reads that cannot succeed.
        self.database_up: Callable[[], bool] = lambda: True

    async def run(
        self,
        credential: Credential,
        *,
        force: bool,
        rejected: str | None,
        skew: float,
        refresh: Callable[[], Awaitable[str]],
    ) -> str:
        """A usable token: the stored one when it is fresh (and not ``rejected`` when forced),
        else the result of ``refresh()``, which is saved before the lock is released."""
        if credential.id is None:
            # Not stored, so no other process knows it.
            return await refresh()
        if not self.database_up():
            raise RefreshFailed(
                f"refresh of {credential.label}: waits for the gateway's database, which is"
                " unavailable"
            )
        name = f"refresh:{credential.id}"
        try:
            async with self._lock.hold(name, self._lock_ttl, wait=self._lock_timeout):
                return await self._run_locked(credential, force, rejected, skew, refresh)
        except LockTimeout as exc:
            raise RefreshFailed(
                f"refresh of {credential.label}: another process is still refreshing it ({exc})"
            ) from exc
        except LockUnavailable as exc:
            # The cause names hosts and ports: the log's, not the client's.
            log.warning("refresh of %s: cannot take the refresh lock: %s", credential.label, exc)
            raise RefreshFailed(
                f"refresh of {credential.label}: cannot take the refresh lock (the lock"
                " service is unreachable)"
            ) from exc

    async def _run_locked(
        self,
        credential: Credential,
        force: bool,
        rejected: str | None,
        skew: float,
        refresh: Callable[[], Awaitable[str]],
    ) -> str:
        try:
            changed = await self._store.reload_tokens(credential)
        except KirogateError as exc:
            if exc.status == 404:  # deleted meanwhile: refresh what we hold
                return await self._refresh(credential, refresh)
            raise self._unreadable(credential, exc) from exc
        except Exception as exc:  # any database failure
            raise self._unreadable(credential, exc) from exc
        token = credential.access_token
        fresh = token is not None and not credential.expires_within(skew, now=self._clock())
        if fresh and not (force and token == rejected):
            if changed:
                self.adopted += 1
                log.info("%s: using the token another process refreshed", credential.label)
            assert token is not None
            return token
        return await self._refresh(credential, refresh)

    async def _refresh(self, credential: Credential, refresh: Callable[[], Awaitable[str]]) -> str:
        token = await refresh()
        self.refreshes += 1
        await self._save(credential)
        return token

    async def _save(self, credential: Credential) -> None:
        # Saved under the lock: the next holder must find the new (possibly rotated) tokens,
        # or it would refresh again with a refresh token that has just died.
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                await self._store.save_tokens(credential)
                return
            except Exception as exc:  # any database failure
                if attempt == SAVE_ATTEMPTS:
                    log.error(
                        "could not store the refreshed tokens of %s (%s: %s); other processes"
                        " will refresh it again and may find its refresh token rotated",
                        credential.label,
                        type(exc).__name__,
                        exc,
                    )
                    return
                await asyncio.sleep(SAVE_RETRY_DELAY * attempt)

    @staticmethod
    def _unreadable(credential: Credential, exc: BaseException) -> RefreshFailed:
        # Refreshing without knowing the stored token could spend a refresh token another
        # process already rotated, which kills the credential; fail this attempt instead.
        # The message can reach a client: the database's name and error go to the log only.
        log.warning(
            "refresh of %s: cannot read its stored tokens: %s: %s",
            credential.label,
            type(exc).__name__,
            exc,
        )
        return RefreshFailed(
            f"refresh of {credential.label}: cannot read its stored tokens"
            " (the gateway's database is unavailable)"
        )

"""Operator actions on credentials, kept in step across the pool, the store and usage data.

The pool decides per request; this module changes what the pool holds. Every action goes to
the pool at once and, when a store is configured, to the database too (so it survives a
restart and other processes see it). Pool *state* changes (disable, priority, counters) reach
the database through the pool's shared state store; credential *records* (add, remove,
tokens) are written here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kirogate.errors import InvalidGrant, InvalidRequest, NotFound
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.state import DisableReason
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import AuthMethod, Credential, check_credential_fields
from kirogate.upstream.refresh import TokenManager
from kirogate.upstream.usage import Balance, BalanceCache, parse_usage_limits
from kirogate.upstream.writeback import write_back_async

if TYPE_CHECKING:
    from kirogate.store import Store

log = logging.getLogger(__name__)

FILE_ORIGINS = frozenset({"kiro-rs", "kiro-ide", "kiro2api"})


def check_addable(credential: Credential) -> None:
    """What a credential needs before it can join the pool; :class:`InvalidRequest` otherwise."""
    check_credential_fields(credential)
    if credential.is_api_key:
        if not credential.kiro_api_key:
            raise InvalidRequest("an API-key credential needs kiroApiKey", param="kiroApiKey")
        return
    if not credential.refresh_token:
        raise InvalidRequest("refreshToken is required", param="refreshToken")
    if credential.auth_method is AuthMethod.IDC and not (
        credential.client_id and credential.client_secret
    ):
        raise InvalidRequest(
            "an IdC / Builder ID credential needs clientId and clientSecret", param="clientId"
        )


class CredentialManager:
    """Adds, removes, enables and weighs credentials; fetches and caches their balances."""

    def __init__(
        self,
        pool: Callable[[], CredentialPool],
        tokens: TokenManager,
        client: KiroClient,
        machine_ready: Callable[[Credential], Awaitable[str]],
        *,
        store: Callable[[], Store | None],
        changed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._tokens = tokens
        self._client = client
        self._machine_ready = machine_ready
        self._store = store
        # Called after every change so other processes resync at once (the cluster's notice).
        self.changed = changed
        # Cross-process lock for credential files (the cluster's), when several processes run.
        self.file_lock: Callable[[str], AbstractAsyncContextManager[None]] | None = None
        # Balances are shown by the admin API whatever their age; the jobs refresh them.
        self.balances = BalanceCache(max_age=None)

    async def _notify(self) -> None:
        if self.changed is not None:
            await self.changed()

    def reset_hint(self, credential: Credential) -> datetime | None:
        """The quota reset date from the last balance, for the pool's quota cooldown."""
        return self.balances.reset_at(credential)

    # ------------------------------------------------------------ records

    async def add(self, credential: Credential) -> tuple[Credential, bool]:
        check_addable(credential)
        pool = self._pool()
        fingerprint = credential.fingerprint()
        for existing in pool.credentials():
            if existing.fingerprint() == fingerprint:
                return existing, False
        taken = {c.id for c in pool.credentials()}
        store = self._store()
        if store is not None:
            credential.id = None  # the store numbers its rows
            credential, created = await store.add_credential(credential)
            if not created:
                return credential, False
            if credential.id is not None and credential.id in {c.id for c in pool.credentials()}:
                # Membership sync (during the await) saw the new row first (another process's notice); same row.
                return pool.get(credential.id), True
        elif credential.id in taken:
            credential.id = None  # the pool gives it the next free one
        pool.add(credential)
        log.info("credential %s added (#%s)", credential.label, credential.id)
        await self._notify()
        return credential, True

    async def remove(self, credential_id: int) -> None:
        pool = self._pool()
        credential = pool.get(credential_id)
        store = self._store()
        if store is not None:
            with contextlib.suppress(NotFound):  # another process removed the row already
                await store.delete_credential(credential_id)
        with contextlib.suppress(NotFound):  # membership sync may have dropped it already
            pool.remove(credential_id)
        self.balances.forget(credential_id)
        self._tokens.reset(credential)
        log.info("credential %s removed (#%s)", credential.label, credential_id)
        await self._notify()

    async def set_disabled(self, credential_id: int, disabled: bool) -> None:
        pool = self._pool()
        credential = pool.get(credential_id)
        if disabled:
            pool.disable(credential_id, "disabled by an operator")
        else:
            pool.enable(credential_id)
            credential.disabled = False
            credential.disabled_reason = None
            self._tokens.reset(credential)
        await self._notify()

    async def set_priority(self, credential_id: int, priority: int) -> None:
        pool = self._pool()
        pool.set_priority(credential_id, priority)
        credential = pool.get(credential_id)
        store = self._store()
        if store is not None:
            await store.update_credential(credential_id, priority=priority)
        if credential.origin is not None and credential.origin.kind == "kiro-rs":
            await write_back_async(credential)  # kiro.rs keeps priority in credentials.json
        await self._notify()

    async def reset(self, credential_id: int) -> None:
        pool = self._pool()
        pool.reset(credential_id)
        credential = pool.get(credential_id)
        credential.disabled = False
        credential.disabled_reason = None
        self._tokens.reset(credential)
        await self._notify()

    # ------------------------------------------------------------ tokens

    async def write_back(self, credential: Credential) -> None:
        """Persist refreshed tokens: to the store, and to the source file it came from."""
        store = self._store()
        if store is not None and credential.id is not None:
            await store.save_tokens(credential)
        origin = credential.origin
        if origin is not None and origin.kind in FILE_ORIGINS:
            if self.file_lock is None or origin.path is None:
                await write_back_async(credential)
                return
            # Several processes write entries of one file: one at a time, each re-reading it.
            async with self.file_lock(f"credentials-file:{origin.path}"):
                await write_back_async(credential)

    # ------------------------------------------------------------ usage

    def cached_balance(self, credential_id: int) -> Balance | None:
        entry = self.balances.get(credential_id)
        return entry[0] if entry is not None else None

    async def fetch_balance(self, credential: Credential) -> Balance:
        try:
            machine_id = await self._machine_ready(credential)
        except InvalidGrant as exc:
            if credential.id is not None:
                self._pool().disable(
                    credential.id, str(exc), reason=DisableReason.INVALID_REFRESH_TOKEN
                )
            raise
        data = await self._client.usage_limits(credential, machine_id=machine_id)
        balance = parse_usage_limits(data, now=datetime.now(UTC), credential_id=credential.id)
        await self._keep_learned(credential, balance)
        return balance

    async def _keep_learned(self, credential: Credential, balance: Balance) -> None:
        """Store the account's email and plan as the usage data names them (once changed)."""
        learned = {"email": balance.email, "subscription_title": balance.subscription_title}
        learned = {k: v for k, v in learned.items() if v and getattr(credential, k) != v}
        store = self._store()
        if not learned or store is None or credential.id is None:
            return
        with contextlib.suppress(NotFound):  # removed while the usage call ran
            await store.update_credential(credential.id, **learned)

    def note_balance(self, credential: Credential, balance: Balance) -> None:
        """Remember the balance and let the pool skip the credential when nothing is left."""
        if credential.id is None:
            return
        self.balances.put(credential.id, balance)
        # The plan decides which models the pool offers (an upgrade must lift the FREE rule),
        # and the email names the account in `accounts list`; both are saved with the tokens.
        if (
            balance.subscription_title
            and credential.subscription_title != balance.subscription_title
        ):
            credential.subscription_title = balance.subscription_title
        if balance.email and not credential.email:
            credential.email = balance.email
        with contextlib.suppress(NotFound):  # removed while the usage call ran
            self._pool().note_usage(
                credential.id,
                remaining=balance.remaining,
                limit=balance.limit,
                reset_at=balance.next_reset_at,
            )

    async def balance(self, credential_id: int, *, refresh: bool = True) -> Balance:
        credential = self._pool().get(credential_id)
        if not refresh:
            cached = self.cached_balance(credential_id)
            if cached is not None:
                return cached
        balance = await self.fetch_balance(credential)
        self.note_balance(credential, balance)
        return balance

"""The one door for operator actions: every change to credentials, keys, proxies, blocked
addresses, settings or the pool mode goes through :class:`Operations`.

Each action applies the rules (e.g. an enabled credential is not deleted without a
confirmation), records the change in the store when one is configured (so it survives a
restart and other processes see it), then changes the pool (or proxy pool) at once when
there is one, and sends the cluster notice. The store comes first: when its write fails
(:class:`~kirogate.errors.StoreUnavailable`, a 503 for the admin API) nothing in memory has
changed, so an operator's change is either made and persisted or not made at all. An
operator's pool *state* change (disable, enable, reset) is written here before the pool takes
it; the pool's own changes (failures, cooldowns, counters) reach the database behind it,
through its shared state store.

The gateway builds one over its pool; the command line, which runs without a gateway, opens
one over the store alone with :meth:`Operations.open`, so both follow the same rules.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kirogate.cluster.changes import PendingChange
from kirogate.errors import (
    ConfigError,
    CredentialSourceError,
    InvalidGrant,
    InvalidRequest,
    NotFound,
)
from kirogate.events import EventBus
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.proxies import ProxyPool
from kirogate.pool.state import (
    CredentialState,
    DisableReason,
    Transition,
    with_disabled,
    with_enabled,
    with_reset,
)
from kirogate.pool.status import Availability, CredentialStatus
from kirogate.service.addresses import AddressOperations, VisitorLog
from kirogate.service.audit import AuditOperations
from kirogate.service.backup import BackupOperations
from kirogate.service.changes import ChangeFeed
from kirogate.service.credential_batch import CredentialBatchOperations
from kirogate.service.groups import GroupOperations
from kirogate.service.keys import KeyOperations
from kirogate.service.logs import LogOperations
from kirogate.service.operator_jobs import OperatorJobs
from kirogate.service.proxies import ProxyOperations
from kirogate.service.webhooks import AlertOperations
from kirogate.settings import PoolMode, Settings, UpstreamSettings
from kirogate.upstream.auth.refresh import TokenManager
from kirogate.upstream.auth.writeback import write_back_async
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import (
    AuthMethod,
    Credential,
    check_credential_fields,
    check_priority,
)
from kirogate.upstream.usage import Balance, BalanceCache, parse_usage_limits

if TYPE_CHECKING:
    from kirogate.service.logins import Logins
    from kirogate.service.runtime_settings import RuntimeSettings
    from kirogate.store import Store

# The pool's vocabulary, as the admin API and the command line see it through this door.
__all__ = [
    "Availability",
    "CredentialState",
    "CredentialStatus",
    "ImportReport",
    "Operations",
    "PoolMode",
    "check_addable",
]

log = logging.getLogger(__name__)

FILE_ORIGINS = frozenset({"kiro-rs", "kiro-ide", "kiro2api"})
NOTICE_CHANNEL = "kirogate:notices"  # a Cluster's, with its default key prefix


def check_addable(credential: Credential) -> None:
    """What a credential needs before it can join the pool; :class:`InvalidRequest` otherwise."""
    check_credential_fields(credential)
    check_priority(credential.priority)
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


@dataclass(slots=True)
class ImportReport:
    """What an import did, by outcome: the stored rows, and the dead copies merged away."""

    added: list[Credential] = field(default_factory=list)
    updated: list[Credential] = field(default_factory=list)
    already: list[Credential] = field(default_factory=list)
    merged: list[tuple[int, int | None]] = field(default_factory=list)  # (removed id, into id)


class Operations(
    # operator API mixins (one line each)
    GroupOperations,
    CredentialBatchOperations,
    AuditOperations,
    AlertOperations,
    BackupOperations,
    AddressOperations,
    ProxyOperations,
    KeyOperations,
    LogOperations,
):
    """Adds, removes, enables and weighs credentials; keys, proxies, addresses, settings, mode.

    ``pool`` gives the live pool, or ``None`` for the command line's store-only door, where
    state changes are written to the store directly.
    """

    def __init__(
        self,
        pool: Callable[[], CredentialPool | None],
        tokens: TokenManager,
        client: KiroClient,
        machine_ready: Callable[[Credential], Awaitable[str]],
        *,
        store: Callable[[], Store | None],
        changed: Callable[[], Awaitable[None]] | None = None,
        proxies: ProxyPool | None = None,
    ) -> None:
        self._pool = pool
        self._tokens = tokens
        self._client = client
        self._machine_ready = machine_ready
        self._store = store
        self._proxies = proxies
        # Called after every change so other processes resync at once (the cluster's notice).
        self.changed = changed
        # Cross-process lock for credential files (the cluster's), when several processes run.
        self.file_lock: Callable[[str], AbstractAsyncContextManager[None]] | None = None
        # Balances are shown by the admin API whatever their age; the jobs refresh them.
        self.balances = BalanceCache(max_age=None)
        # Operators' changes by topic (every process reloads what changed), and the events.
        self.changes: ChangeFeed = ChangeFeed(store)
        self.events: EventBus = EventBus()
        # Long admin actions (verify) running in the background, in this process.
        self.operator_jobs = OperatorJobs()
        # Operator-started logins (service/logins.py): a gateway's, none on the command line.
        self.logins: Logins | None = None
        # Settings changed at runtime (the gateway's; None for the command line's door).
        self.runtime: RuntimeSettings | None = None
        # Client addresses seen, counted here and written behind to the store.
        self.visitors = VisitorLog(store)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Operations]:
        """The door over the store alone, for the command line (no gateway needs to run).

        Token refreshes (``accounts verify``, ``balance``) are saved to the store and to the
        file a credential came from, as the gateway saves them. With Redis configured, running
        gateways get the change notice and resync at once (else at their next periodic sync).
        """
        from kirogate.store import Store
        from kirogate.upstream.auth.profiles import ensure_profile_arn
        from kirogate.upstream.http import HttpPool
        from kirogate.upstream.identity import machine_id_for

        store = await Store.open(
            database_url=settings.database_url,
            data_dir=settings.data_path,
            secret_key=settings.secret_key,
        )
        try:
            notices = _notices(settings.redis_url)
            async with HttpPool(settings.upstream) as http:
                operations: Operations | None = None

                async def write_back(credential: Credential) -> None:
                    assert operations is not None
                    await operations.write_back(credential)

                tokens = TokenManager(settings.upstream, http.session_for, write_back=write_back)
                client = KiroClient(settings.upstream, http)

                async def machine_ready(credential: Credential) -> str:
                    await tokens.ensure_fresh(credential)
                    machine_id = machine_id_for(credential, settings.upstream)
                    await ensure_profile_arn(client, credential, machine_id=machine_id)
                    return machine_id

                operations = cls(lambda: None, tokens, client, machine_ready, store=lambda: store)
                if notices is not None:
                    operations.changed = notices.credentials_changed
                try:
                    yield operations
                finally:
                    await tokens.aclose()
                    if notices is not None:
                        await notices.close()
        finally:
            await store.close()

    async def _notify(self) -> None:
        if self.changed is not None:
            await self.changed()

    def _live(self) -> CredentialPool:
        pool = self._pool()
        if pool is None:
            raise ConfigError("this action needs a running gateway (use the admin API)")
        return pool

    def _pool_or_none(self) -> CredentialPool | None:
        return self._pool()

    def _upstream_settings(self) -> UpstreamSettings:
        return self._client.settings

    def _stored(self) -> Store:
        store = self._store()
        if store is None:
            raise ConfigError("this action needs the store (kirogate serve keeps one)")
        return store

    async def _persist_state(
        self, pool: CredentialPool, credential_id: int, transition: Transition
    ) -> None:
        """Write the fields ``transition`` changes in the credential's state to the store, before
        the pool takes it (the pool's own write behind would come too late to refuse it)."""
        store = self._store()
        if store is None:
            return
        old = pool.state_of(credential_id)
        change = PendingChange()
        change.record(old, transition(old))
        # An operator's transition sets fields (a counter only back to 0): no increments.
        if change.sets:
            await store.apply_state(credential_id, sets=change.sets, increments={})

    def reset_hint(self, credential: Credential) -> datetime | None:
        """The quota reset date from the last balance, for the pool's quota cooldown."""
        return self.balances.reset_at(credential)

    # ------------------------------------------------------------ reading

    def statuses(self) -> list[CredentialStatus]:
        """Every credential's state, ordered by priority then pool order (the live pool)."""
        return self._live().snapshot()

    def credentials(self) -> list[Credential]:
        return self._live().credentials()

    @property
    def current_id(self) -> int | None:
        return self._live().current_id

    @property
    def mode(self) -> PoolMode:
        return self._live().mode

    @property
    def store_url(self) -> str:
        """Where the store is, its password masked (for messages)."""
        return self._stored().display_url

    async def stored_credentials(self) -> list[Credential]:
        return await self._stored().list_credentials()

    async def stored_states(self) -> dict[int, CredentialState]:
        return {state.id: state for state in await self._stored().load_states()}

    async def stored_credential(self, credential_id: int) -> Credential:
        """The stored row; :class:`NotFound` when there is none."""
        return await self._stored().get_credential(credential_id)

    # ------------------------------------------------------------ records

    async def add(self, credential: Credential) -> tuple[Credential, bool]:
        check_addable(credential)
        pool = self._pool()
        if pool is None:
            stored, created = await self._stored().add_credential(credential)
            if created:
                await self._notify()
            return stored, created
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

    async def import_credentials(
        self, credentials: Iterable[Credential], *, each: Callable[[], None] | None = None
    ) -> ImportReport:
        """Fold credentials from files into the store (an account stored already takes newer
        tokens); ``each`` is called after every one (a progress bar)."""
        from kirogate.store.imports import Outcome

        store = self._stored()
        report = ImportReport()
        try:
            for credential in credentials:
                result = await store.import_credential(credential)
                match result.outcome:
                    case Outcome.ADDED:
                        report.added.append(result.credential)
                    case Outcome.UPDATED:
                        report.updated.append(result.credential)
                    case Outcome.ALREADY:
                        report.already.append(result.credential)
                report.merged += [(cid, result.credential.id) for cid in result.merged]
                if each is not None:
                    each()
        finally:
            # Each credential is stored whole or not at all; the ones stored before a failure
            # are stored, so the running gateways are told about them all the same.
            if report.added or report.updated or report.merged:
                await self._notify()
        return report

    async def remove(self, credential_id: int, *, confirmed: bool = False) -> Credential:
        """Delete a credential. An enabled one only when ``confirmed`` (the command line asks
        first); otherwise it must be disabled first, so a slip cannot drop a serving one."""
        pool = self._pool()
        if pool is None:
            store = self._stored()
            credential = await store.get_credential(credential_id)
            if not confirmed:
                state = (await self.stored_states()).get(credential_id)
                if state is None or state.disabled_reason is None:
                    raise _enabled(credential_id)
            await store.delete_credential(credential_id)
            log.info("credential %s removed (#%s)", credential.label, credential_id)
            await self._notify()
            return credential
        credential = pool.get(credential_id)
        if not confirmed and not pool.state_of(credential_id).disabled:
            raise _enabled(credential_id)
        if (shared := self._store()) is not None:
            with contextlib.suppress(NotFound):  # another process removed the row already
                await shared.delete_credential(credential_id)
        with contextlib.suppress(NotFound):  # membership sync may have dropped it already
            pool.remove(credential_id)
        self.balances.forget(credential_id)
        self._tokens.reset(credential)
        log.info("credential %s removed (#%s)", credential.label, credential_id)
        await self._notify()
        return credential

    async def set_disabled(
        self, credential_id: int, disabled: bool, *, reason: str | None = None
    ) -> Credential:
        """Out of rotation (``reason`` is shown to operators) or back in, counters cleared."""
        pool = self._pool()
        if pool is None:
            store = self._stored()
            credential = await store.get_credential(credential_id)
            if disabled:
                sets: dict[str, Any] = {"disabled_reason": DisableReason.MANUAL,
                                        "disabled_detail": reason}  # fmt: skip
            else:
                sets = {"disabled_reason": None, "disabled_detail": None, "failure_count": 0,
                        "cooldown_until": None, "cooldown_reason": None}  # fmt: skip
            await store.apply_state(credential_id, sets=sets, increments={})
            await self._notify()
            return credential
        credential = pool.get(credential_id)
        if disabled:
            detail = reason or "disabled by an operator"
            manual = DisableReason.MANUAL
            await self._persist_state(
                pool, credential_id, lambda state: with_disabled(state, manual, detail)
            )
            pool.disable(credential_id, detail)
        else:
            await self._persist_state(pool, credential_id, with_enabled)
            pool.enable(credential_id)
            credential.disabled = False
            credential.disabled_reason = None
            self._tokens.reset(credential)
        await self._notify()
        return credential

    async def _disable_rejected(self, credential: Credential, exc: InvalidGrant) -> None:
        """A refresh token the upstream rejects takes the credential out, wherever it lives."""
        if credential.id is None:
            return
        pool = self._pool()
        if pool is not None:
            pool.disable(credential.id, str(exc), reason=DisableReason.INVALID_REFRESH_TOKEN)
            return
        sets = {"disabled_reason": DisableReason.INVALID_REFRESH_TOKEN,
                "disabled_detail": exc.message}  # fmt: skip
        await self._stored().apply_state(credential.id, sets=sets, increments={})

    async def set_priority(self, credential_id: int, priority: int) -> None:
        check_priority(priority)
        pool = self._live()
        credential = pool.get(credential_id)
        store = self._store()
        if store is not None:
            # The store first: when it is away the change is refused whole, not half made.
            await store.update_credential(credential_id, priority=priority)
        if credential.origin is not None and credential.origin.kind == "kiro-rs":
            # kiro.rs keeps priority in credentials.json: a copy with the new one is written
            # before the pool takes it.
            try:
                await write_back_async(replace(credential, priority=priority))
            except CredentialSourceError as exc:
                if store is None:
                    raise  # the file is the only place it is kept: nothing has changed
                log.warning("credential %s: priority stored, but not in its file: %s",
                            credential.label, exc.message)  # fmt: skip
        pool.set_priority(credential_id, priority)
        await self._notify()

    async def reset(self, credential_id: int) -> None:
        pool = self._live()
        pool.check_resettable(credential_id)
        await self._persist_state(pool, credential_id, with_reset)
        pool.reset(credential_id)
        credential = pool.get(credential_id)
        credential.disabled = False
        credential.disabled_reason = None
        self._tokens.reset(credential)
        await self._notify()

    async def set_mode(self, mode: str) -> PoolMode:
        """Switch the pool's selection mode for the next request. With a store, the mode is
        also the runtime setting ``pool.mode``: kept after a restart, and every process
        takes it; without one, it changes this process only."""
        pool = self._live()
        if self.runtime is not None and self._store() is not None:
            try:
                parsed = PoolMode.parse(mode)
            except ValueError as exc:
                raise InvalidRequest(str(exc), param="mode") from None
            await self.runtime.change({"pool.mode": parsed.value})  # stored first
        pool.set_mode(mode)
        log.info("pool mode is now %s", pool.mode.value)
        return pool.mode

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

    async def verify(self, credential: Credential) -> None:
        """Refresh the token now and save it; a rejected refresh token disables the credential
        (as the pool would) and raises :class:`InvalidGrant`."""
        try:
            await self._tokens.ensure_fresh(credential, force=True)
        except InvalidGrant as exc:
            await self._disable_rejected(credential, exc)
            raise
        store = self._store()
        if store is not None and credential.id is not None:
            await store.save_tokens(credential)

    # ------------------------------------------------------------ usage

    def cached_balance(self, credential_id: int) -> Balance | None:
        entry = self.balances.get(credential_id)
        return entry[0] if entry is not None else None

    async def fetch_balance(self, credential: Credential) -> Balance:
        before = (credential.access_token, credential.refresh_token, credential.profile_arn)
        try:
            machine_id = await self._machine_ready(credential)
            data = await self._client.usage_limits(credential, machine_id=machine_id)
        except InvalidGrant as exc:
            await self._disable_rejected(credential, exc)
            raise
        finally:
            if self._pool() is None and credential.id is not None:
                # The store-only door: a profileArn learned on the way is kept too.
                now = (credential.access_token, credential.refresh_token, credential.profile_arn)
                if now != before:
                    await self._stored().save_tokens(credential)
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
        pool = self._pool()
        if pool is None:
            return
        with contextlib.suppress(NotFound):  # removed while the usage call ran
            pool.note_usage(
                credential.id,
                remaining=balance.remaining,
                limit=balance.limit,
                reset_at=balance.next_reset_at,
            )

    async def balance(self, credential_id: int, *, refresh: bool = True) -> Balance:
        credential = self._live().get(credential_id)
        if not refresh:
            cached = self.cached_balance(credential_id)
            if cached is not None:
                return cached
        balance = await self.fetch_balance(credential)
        self.note_balance(credential, balance)
        return balance

    # ------------------------------------------------------------ keys, addresses, proxies, settings
    # Stored first, then the topic's change is recorded: every process (this one at once,
    # the others within a second) reloads what it caches of it. Client keys: service/keys.py;
    # blocked addresses and visitors: service/addresses.py; proxies: service/proxies.py.

    async def set_setting(self, key: str, value: Any) -> None:
        await self._stored().set_setting(key, value)
        log.info("setting %s changed", key)
        await self.changes.changed("settings")

    async def delete_setting(self, key: str) -> bool:
        deleted = await self._stored().delete_setting(key)
        if deleted:
            log.info("setting %s deleted", key)
            await self.changes.changed("settings")
        return deleted


class _Notices:
    """The cluster's change notice, sent from a process that does not listen (the CLI)."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        from kirogate.cluster import RedisNotifier, display_redis_url

        try:
            self._redis = Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=3.0, socket_timeout=10.0
            )
        except ValueError as exc:
            raise ConfigError(f"--redis-url {display_redis_url(url)}: {exc}") from exc
        self._notifier = RedisNotifier(self._redis, channel=NOTICE_CHANNEL)

    async def credentials_changed(self) -> None:
        await self._notifier.credentials_changed()  # a Redis failure is logged, not raised

    async def close(self) -> None:
        from kirogate.cluster.redis_errors import redis_errors

        with contextlib.suppress(*redis_errors()):
            await self._redis.aclose()


def _notices(url: str | None) -> _Notices | None:
    return _Notices(url) if url else None


def _enabled(credential_id: int) -> InvalidRequest:
    return InvalidRequest(
        f"credential #{credential_id} is enabled; disable it first "
        f'(POST /api/admin/credentials/{credential_id}/disabled {{"disabled": true}}), '
        "then delete it"
    )

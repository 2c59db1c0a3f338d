"""Pool state shared by several processes through the database.

The pool reads and updates :class:`~kirogate.pool.state.CredentialState` synchronously on
the hot path, so :class:`SharedPoolState` serves it from a local dict and writes behind:
each ``update`` is diffed into a per-credential :class:`~kirogate.cluster.changes.PendingChange`
(counters as increments, everything else as sets) that a background loop flushes every
``flush_interval``; changes that only move counters and timestamps may wait up to
``counter_interval`` (fewer writes on a busy gateway), while a cooldown, disable or priority
change goes out at the next flush. Every ``sync_interval`` the loop also reloads every record
from the database and re-applies the changes still pending on top, so a cooldown or disable
made by another process is seen within a second. Database errors are logged (rate-limited) and
retried with backoff; they never reach the request path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from kirogate.cluster.changes import PendingChange, initial_change
from kirogate.cluster.outage import OutageLog
from kirogate.errors import ConfigError, KirogateError
from kirogate.pool.state import CredentialState, PoolState, Transition
from kirogate.tasks import spawn, stop_task

log = logging.getLogger(__name__)

SyncHook = Callable[[], Awaitable[None]]
ChangeHook = Callable[[list[int]], Awaitable[None]]

MAX_BACKOFF = 5.0  # seconds between attempts while the database keeps failing
CLOSE_TIMEOUT = 10.0  # how long close() tries to write what is still pending


class StateStore(Protocol):
    """The part of :class:`kirogate.store.Store` the shared state uses."""

    async def load_states(self) -> list[CredentialState]: ...

    async def apply_state(
        self, credential_id: int, sets: Mapping[str, Any], increments: Mapping[str, int]
    ) -> None: ...


class SharedPoolState(PoolState):
    """A :class:`PoolState` whose records live in the database, cached and written behind.

    Reads never wait. ``start`` loads the records and starts the background loop; ``close``
    stops it and writes what is pending. ``on_change`` is awaited with the ids of credentials
    whose availability (disable, cooldown, priority, weight) was just written, so other
    processes can be told to resync at once.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        sync_interval: float = 0.5,
        flush_interval: float = 0.15,
        counter_interval: float | None = None,
        on_change: ChangeHook | None = None,
    ) -> None:
        counter_interval = flush_interval if counter_interval is None else counter_interval
        if not (sync_interval > 0 and flush_interval > 0 and counter_interval >= flush_interval):
            raise ConfigError(
                f"sync interval {sync_interval} and flush interval {flush_interval} must be"
                f" positive numbers of seconds, and counter interval {counter_interval} at"
                " least the flush interval"
            )
        self._store = store
        self.sync_interval = sync_interval
        self.flush_interval = flush_interval
        self.counter_interval = counter_interval
        self._written_at = 0.0  # loop time of the last write of pending changes
        self._on_change = on_change
        self._states: dict[int, CredentialState] = {}
        self._members: set[int] = set()  # ids the pool has ensured and not removed
        self._pending: dict[int, PendingChange] = {}
        self._significant: set[int] = set()
        self._loaded = False
        self._hooks: list[SyncHook] = []
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outage = OutageLog(log, "pool state database")
        self._retry_at = 0.0
        self._backoff = 0.0
        self._stopping = False
        self.syncs = 0  # completed loads, for tests and diagnostics

    # ------------------------------------------------------------ PoolState (synchronous)

    def ensure(self, initial: CredentialState) -> CredentialState:
        cid = initial.id
        self._members.add(cid)
        state = self._states.get(cid)
        if state is not None:
            return state
        self._states[cid] = initial
        if self._loaded:
            # Added after the last load (e.g. by another process just now): write what we
            # know and fetch the stored record soon.
            change = initial_change(initial)
            if change:
                self._pending.setdefault(cid, PendingChange()).merge_older(change)
            self._wake.set()
        return initial

    def get(self, credential_id: int) -> CredentialState:
        return self._states[credential_id]

    def all(self) -> list[CredentialState]:
        return [self._states[cid] for cid in self._members if cid in self._states]

    def update(self, credential_id: int, transition: Transition) -> CredentialState:
        old = self._states[credential_id]
        new = transition(old)
        if new == old:
            return old
        self._states[credential_id] = new
        change = self._pending.setdefault(credential_id, PendingChange())
        change.record(old, new)
        if change.significant:
            self._significant.add(credential_id)
        return new

    def remove(self, credential_id: int) -> None:
        self._members.discard(credential_id)
        self._states.pop(credential_id, None)
        self._pending.pop(credential_id, None)
        self._significant.discard(credential_id)

    # ------------------------------------------------------------ inspection

    @property
    def loaded(self) -> bool:
        """True once the records have been loaded from the database."""
        return self._loaded

    def pending_count(self) -> int:
        """Credentials with changes not yet written."""
        return len(self._pending)

    def add_sync_hook(self, hook: SyncHook) -> None:
        """Run ``hook`` after every periodic sync (e.g. membership), in the same loop."""
        self._hooks.append(hook)

    def request_sync(self) -> None:
        """Sync now instead of at the next interval (another process announced a change)."""
        self._wake.set()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the records and start the background loop; a failed load is retried there."""
        if self._task is not None:
            return
        try:
            await self.sync()
        except Exception as exc:  # any database failure; the loop retries
            self._outage.failed("loading the pool state", exc)
        self._task = spawn(self._run(), name="shared pool state sync")

    async def close(self) -> None:
        """Stop the loop and write every pending change (logged if that fails)."""
        task, self._task = self._task, None
        if task is not None:
            # Let a write in progress finish: cancelling it after the database committed
            # would put the batch back and count its increments twice.
            self._stopping = True
            self._wake.set()
            await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
            await stop_task(task)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.flush()
        except Exception as exc:  # reported below, nothing else to do at exit
            log.error(
                "pool state: %d credential(s) with changes not written at shutdown: %s: %s",
                len(self._pending),
                type(exc).__name__,
                exc,
            )

    # ------------------------------------------------------------ writing and loading

    async def flush(self) -> None:
        """Write every pending change; raises the store's error (the rest stays pending)."""
        async with self._write_lock:
            written = await self._write_pending()
        await self._announce(written)

    async def sync(self) -> None:
        """Flush, reload every record, and put still-pending local changes back on top."""
        async with self._write_lock:
            written = await self._write_pending()
            states = await self._store.load_states()
            self._adopt(states)
        self.syncs += 1
        await self._announce(written)

    async def _write_pending(self) -> list[int]:
        written: list[int] = []
        if self._pending:
            self._written_at = asyncio.get_running_loop().time()
        while self._pending:
            cid = next(iter(self._pending))
            change = self._pending.pop(cid)
            significant = cid in self._significant
            self._significant.discard(cid)
            try:
                await self._store.apply_state(cid, change.sets, change.increments)
            except KirogateError as exc:
                if not 400 <= exc.status < 500:
                    self._requeue(cid, change, significant)
                    raise
                # The database refuses the values themselves: retrying cannot help, and
                # must not hold up the other credentials' writes.
                log.error("pool state of credential #%d refused, not stored: %s", cid, exc)
                continue
            except BaseException:
                self._requeue(cid, change, significant)
                raise
            if significant:
                written.append(cid)
        return written

    def _requeue(self, cid: int, change: PendingChange, significant: bool) -> None:
        if cid not in self._members:
            return  # removed from the pool meanwhile
        newer = self._pending.get(cid)
        if newer is None:
            self._pending[cid] = change
        else:
            newer.merge_older(change)
        if significant:
            self._significant.add(cid)

    def _adopt(self, states: list[CredentialState]) -> None:
        loaded = {state.id: state for state in states}
        for cid, state in loaded.items():
            change = self._pending.get(cid)
            self._states[cid] = change.apply(state) if change else state
        for cid in list(self._states):
            if cid not in loaded and cid not in self._members:
                del self._states[cid]  # deleted by another process and not in our pool
        if not self._loaded:
            # Records the pool ensured before the first load that the database lacks.
            for cid in self._members - loaded.keys():
                change = initial_change(self._states[cid])
                if change:
                    self._pending.setdefault(cid, PendingChange()).merge_older(change)
        self._loaded = True

    async def _announce(self, ids: list[int]) -> None:
        if ids and self._on_change is not None:
            try:
                await self._on_change(sorted(ids))
            except Exception as exc:  # a notice is best effort; syncs catch up
                log.debug("pool state: change notice failed: %s", exc)

    # ------------------------------------------------------------ background loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sync = loop.time() + self.sync_interval
        self._written_at = max(self._written_at, loop.time())
        while not self._stopping:
            wait = min(self.flush_interval, max(next_sync - loop.time(), 0.0))
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass
            woken = self._wake.is_set()
            self._wake.clear()
            if self._stopping:
                return
            now = loop.time()
            if now < self._retry_at:
                continue
            want_sync = woken or now >= next_sync or not self._loaded
            counters_due = now >= self._written_at + self.counter_interval
            try:
                if want_sync:
                    await self.sync()
                elif self._pending and (self._significant or counters_due):
                    await self.flush()
                else:
                    continue
            except Exception as exc:  # any database failure: back off, retry
                self._outage.failed("syncing" if want_sync else "writing", exc)
                self._backoff = min(max(self._backoff * 2, self.flush_interval), MAX_BACKOFF)
                self._retry_at = loop.time() + self._backoff
                continue
            self._outage.succeeded()
            self._backoff = 0.0
            if want_sync:
                next_sync = loop.time() + self.sync_interval
                await self._run_hooks()

    async def _run_hooks(self) -> None:
        for hook in self._hooks:
            try:
                await hook()
            except Exception as exc:  # a hook must not stop state syncing
                log.warning("pool state: sync hook failed: %s: %s", type(exc).__name__, exc)

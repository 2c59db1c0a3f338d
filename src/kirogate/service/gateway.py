"""The gateway's running state: the long-lived resources, built once and closed once.

:class:`Gateway` is built once per process by ``serve`` (or by tests) and handed to the
HTTP layer. It owns the long-lived resources (HTTP connection pools, the token manager,
the credential pool) and releases them in :meth:`Gateway.close`. Answering requests is
inherited from :class:`~kirogate.service.answer.Answering`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kirogate.convert.cache_estimate import PrefixCache
from kirogate.convert.kiro import KiroBuildOptions
from kirogate.convert.models import ModelInfo, ModelTable
from kirogate.events import EventBus
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.proxies import ProxyPool
from kirogate.service.alerts import Alerter
from kirogate.service.answer import Answering
from kirogate.service.changes import ChangeFeed
from kirogate.service.compression import Compressor
from kirogate.service.console_sessions import ConsoleSessions
from kirogate.service.jobs import BackgroundJobs, JobsSettings
from kirogate.service.logins import Logins
from kirogate.service.memory import ResponseMemory, SharedMemory, TruncationMemory
from kirogate.service.operations import Operations
from kirogate.service.runtime_settings import RuntimeSettings
from kirogate.service.shutdown import Shutdown
from kirogate.settings import PoolSettings, Settings
from kirogate.upstream.auth.refresh import TokenManager
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import Credential
from kirogate.upstream.http import HttpPool

if TYPE_CHECKING:
    from kirogate.cluster import Cluster
    from kirogate.cluster.outage import DatabaseWatch
    from kirogate.store import Store

log = logging.getLogger(__name__)


class Gateway(Answering):
    """Everything a request handler needs, created at startup and closed at shutdown."""

    def __init__(
        self,
        settings: Settings,
        credentials: Sequence[Credential],
        *,
        pool_settings: PoolSettings | None = None,
        build_options: KiroBuildOptions | None = None,
        persistent: bool = False,
        sources_imported: bool = False,
    ) -> None:
        """``persistent``: keep credentials and pool state in the store (``kirogate serve``).

        Without it (tests, embedding) the given credentials live in memory only and refreshed
        tokens are written back to the files they came from.

        ``sources_imported``: the start-up checks already imported ``credentials`` into the
        store (a ``--workers`` process). They are then not imported again: by the time a
        later worker starts, an earlier one may have refreshed a credential, and importing
        the sources' older copy would put back the refresh token that refresh rotated away.
        """
        self.settings = settings
        self.persistent = persistent
        self.store: Store | None = None
        self.cluster: Cluster | None = None
        # Whether the store's database answers, kept current in the background (persistent mode).
        self.database: DatabaseWatch | None = None
        self._sources = list(credentials)
        self._sources_imported = sources_imported
        self._source_files = settings.source_files
        self._pool_settings = pool_settings or settings.pool
        # The pool's strategy is the setting proxy.strategy, read at every pick.
        self.proxies = ProxyPool(strategy_of=lambda: self.settings.proxy.strategy)
        self.http = HttpPool(
            settings.upstream,
            proxy_for=self.proxies.proxy_for,
            on_proxy_failure=self.proxies.report_failure,
        )
        self.jobs: BackgroundJobs | None = None
        self.alerts: Alerter | None = None  # persistent mode: the webhooks live in the store
        self.tokens = TokenManager(
            settings.upstream, self.http.session_for, write_back=self._write_back
        )
        self.client = KiroClient(settings.upstream, self.http)
        self.compressor = (
            Compressor(settings.compression, self.summarise)
            if settings.compression.enabled
            else None
        )
        self.prompt_cache = PrefixCache() if settings.cache.estimate else None
        # What happened (requests ended, credential states, limits reached), for watchers.
        self.events = EventBus()
        self.pool = CredentialPool(credentials, pool_settings or settings.pool, events=self.events)
        # Operators' changes by topic, polled from the store so every process sees them.
        self.changes = ChangeFeed(lambda: self.store)
        # The one door for operator actions (the admin API's and the console's).
        self.operations = Operations(
            lambda: self.pool,
            self.tokens,
            self.client,
            self.machine_ready,
            store=lambda: self.store,
            proxies=self.proxies,
        )
        self.operations.changes = self.changes
        self.operations.events = self.events
        self.changes.on("groups", self.operations.reload_groups)
        self.operations.logins = Logins(
            self.operations, lambda: self.settings, self.http.session_for, store=lambda: self.store
        )
        self.visitors = self.operations.visitors
        # The web console's signed-in browsers (sign-out shared through the cluster's counters).
        self.console_sessions = ConsoleSessions(
            lambda: self.cluster.counters if self.cluster is not None else None
        )
        # Every process reloads its proxy pool (and the credentials' proxies) on a change.
        self.changes.on("proxies", self.operations.reload_proxies)
        self.build_options = build_options or KiroBuildOptions()
        # The model names clients may use: the built-in table under the operator's rules
        # (aliases, overrides, hidden, fallback, forced), one object re-configured in place.
        self.models = ModelTable(rules=settings.models)
        # Settings changed at runtime (/api/admin/settings), laid over the configured ones.
        self.runtime = RuntimeSettings(
            settings, store=lambda: self.store, changes=self.changes, apply=self.apply_settings
        )
        self.operations.runtime = self.runtime
        self.changes.on("settings", self.runtime.load)
        self.truncations = TruncationMemory()
        # SIGTERM: the grace period for the answers in flight, then their clean end.
        self.shutdown = Shutdown(settings.server.shutdown_grace)
        self.responses = ResponseMemory()  # for previous_response_id and item_reference
        self.shared_memory: SharedMemory | None = None  # the two above, kept in the store
        # Guessed ids of names newer than the table (claude-opus-5-5) that the upstream refused.
        self._unserved_models: set[str] = set()

    def apply_settings(self, settings: Settings) -> None:
        """Use ``settings`` from the next request on (a runtime change): swapped in as
        ``self.settings`` (read at use time), and handed to the parts that keep a copy."""
        old, self.settings = self.settings, settings
        if settings.pool != old.pool:
            self._pool_settings = settings.pool
            self.pool.apply_settings(settings.pool)
        if settings.upstream != old.upstream:
            self.http.apply_settings(settings.upstream)
            self.client.apply_settings(settings.upstream)
        if settings.compression != old.compression:
            enabled = settings.compression.enabled
            self.compressor = Compressor(settings.compression, self.summarise) if enabled else None
        if settings.models != self.models.rules:
            self.models.configure(settings.models)

    async def start(self) -> None:
        if self.persistent:
            await self._open_store()
        log.info("gateway starting with %d credential(s)", len(self.pool))

    async def close(self) -> None:
        self.shutdown.close()
        if self.operations.logins is not None:
            await self.operations.logins.close()
        await self.changes.close()
        await self.operations.operator_jobs.close()
        await self.visitors.close()
        if self.jobs is not None:
            await self.jobs.close()
        if self.alerts is not None:
            await self.alerts.close()
        if self.database is not None:
            await self.database.close()
        await self.tokens.aclose()
        if self.shared_memory is not None:
            await self.shared_memory.close()
        if self.cluster is not None:
            await self.cluster.close()
        if self.store is not None:
            await self.store.close()
        await self.http.close()
        log.info("gateway stopped")

    async def _open_store(self) -> None:
        """Persistent mode: credentials and pool state from the store, shared with others."""
        from kirogate.cluster import Cluster
        from kirogate.cluster.outage import DatabaseWatch
        from kirogate.store import Store

        settings = self.settings
        self.store = store = await Store.open(
            database_url=settings.database_url,
            data_dir=settings.data_path,
            secret_key=settings.secret_key,
            serve=True,
        )
        store.log_retention_days = lambda: self.settings.log.retention_days  # read at each prune
        self.shared_memory = shared = SharedMemory(store)
        self.responses.shared = shared  # looked up only for a previous_response_id it lacks
        if store.dialect != "sqlite":
            # Every request with tool results would ask the store about the ids this process
            # has not seen cut off. Worth it only when other processes answer too: a SQLite
            # gateway is the only one, and knows every cut it saw.
            self.truncations.shared = shared
        # The operator's runtime values first: the pool is built with them.
        await self.runtime.load()
        self.database = watch = DatabaseWatch(store.ping)
        if store.dialect != "sqlite":
            # A server that can go away. SQLite is a file of this process: a failing write
            # is reported where it happens, and pinging it would only cost CPU.
            watch.start()
        if not self._sources_imported:
            report = await store.sync_sources(self._sources, files=self._source_files)
            log.info("credential sources: %s", report.describe())
        credentials = await store.list_credentials()
        self.cluster = cluster = Cluster(store, settings.redis_url)
        self.pool = CredentialPool(
            credentials,
            self._pool_settings,
            state=cluster.state,
            quota_reset=self.operations.reset_hint,
            events=self.events,
        )
        cluster.coordinator.database_up = lambda: not watch.away
        self.tokens.coordinator = cluster.coordinator
        self.operations.changed = cluster.credentials_changed
        self.operations.file_lock = cluster.lock.hold
        await cluster.start(self.pool)
        if settings.proxy.pool:
            # Processes starting together with the same PROXY_POOL store each proxy once.
            async with cluster.lock.hold("proxy-pool-seed"):
                await self.operations.seed_proxies(settings.proxy.pool)
        await self.operations.reload_proxies()
        await self.operations.reload_groups()
        self.alerts = alerts = Alerter(
            self.operations.webhooks,
            redis=cluster.redis,
            store=store if store.dialect != "sqlite" else None,
        )
        self.operations.alerter = alerts
        self.changes.on("alerts", alerts.reload)
        await alerts.start(self.events)
        self.visitors.start()
        usage_interval = settings.upstream.usage_interval
        self.jobs = BackgroundJobs(
            JobsSettings(usage_enabled=usage_interval > 0, usage_interval=usage_interval or 600.0),
            credentials=self._rotating_credentials,
            refresh=lambda credential: self.tokens.ensure_fresh(credential, force=True),
            fetch_balance=self.operations.fetch_balance,
            on_balance=self.operations.note_balance,
            cache=self.operations.balances,
        )
        self.jobs.start()
        self.changes.start()

    def database_numbers(self) -> dict[str, int] | None:
        """The store's health and write buffers for the metrics; ``None`` without a store."""
        store = self.store
        if store is None:
            return None
        state = self.cluster.state if self.cluster is not None else None
        return {
            "up": 0 if self.database is not None and self.database.away else 1,
            "request_logs_queued": store.request_logs_queued,
            "request_logs_dropped": store.request_logs_dropped,
            "pool_state_pending": state.pending_count() if state is not None else 0,
        }

    def _rotating_credentials(self) -> list[Credential]:
        """Credentials in rotation (not disabled), for the background jobs."""
        pool = self.pool
        return [
            c for c in pool.credentials() if c.id is not None and not pool.state_of(c.id).disabled
        ]

    async def _write_back(self, credential: Credential) -> None:
        await self.operations.write_back(credential)

    @property
    def credentials(self) -> list[Credential]:
        return self.pool.credentials()

    def serves_model(self, model: ModelInfo) -> bool:
        """Whether some usable credential's plan allows ``model`` (see the pool's rule)."""
        return self.pool.serves_model(model.upstream_id)

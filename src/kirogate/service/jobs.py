"""Background jobs: proactive token refresh and usage polling.

:class:`BackgroundJobs` runs two loops while started. Every ``refresh_interval`` seconds it
refreshes the tokens of enabled, refreshable credentials that expire within ``refresh_ahead``
seconds, so requests rarely wait for a refresh. Every ``usage_interval`` seconds it fetches
each enabled credential's balance, stores it in a :class:`BalanceCache` and hands it to
``on_balance`` (which the gateway wires to ``CredentialPool.note_usage``: an exhausted
credential is skipped until its reset date, and one that has credits again comes back).

The work is given as callables, so this module knows nothing of the gateway. A pass never
raises for one credential's failure: it logs the credential's label and the error, and goes
on. :meth:`refresh_due` and :meth:`poll_usage` run one pass on demand (tests, admin API).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kirogate.errors import ConfigError, KirogateError
from kirogate.tasks import spawn
from kirogate.upstream.credentials import Credential
from kirogate.upstream.usage import DEFAULT_MAX_AGE, Balance, BalanceCache

log = logging.getLogger(__name__)

__all__ = ["BackgroundJobs", "BalanceCache", "JobsSettings", "PassReport"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class JobsSettings:
    """Intervals in seconds; a job with ``enabled`` False never runs in the background."""

    refresh_enabled: bool = True
    refresh_interval: float = 60.0
    # Refresh tokens that expire within this many seconds (above the per-request skew).
    refresh_ahead: float = 900.0
    refresh_concurrency: int = 4
    usage_enabled: bool = True
    usage_interval: float = 600.0
    usage_concurrency: int = 4
    # A single refresh or usage call taking longer than this is abandoned (and logged).
    call_timeout: float = 60.0
    # Cached balances older than this read as unknown (kiro.rs: 300 s).
    balance_max_age: float = DEFAULT_MAX_AGE

    def __post_init__(self) -> None:
        for name in (
            "refresh_interval",
            "refresh_ahead",
            "usage_interval",
            "call_timeout",
            "balance_max_age",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"jobs {name} {value!r}: must be a positive number of seconds")
        for name in ("refresh_concurrency", "usage_concurrency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"jobs {name} {value!r}: must be a whole number of at least 1")


@dataclass(slots=True)
class PassReport:
    """What one pass did: labels of the credentials that succeeded, failed or were skipped."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # label -> error summary
    skipped: list[str] = field(default_factory=list)

    def to_public(self) -> dict[str, object]:
        return {"done": self.done, "failed": self.failed, "skipped": self.skipped}


def _summary(exc: BaseException) -> str:
    # Our error tree keeps tokens out of its messages; foreign errors get only their type.
    if isinstance(exc, KirogateError):
        return f"{type(exc).__name__}: {exc.message}"[:300]
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__


class BackgroundJobs:
    """Owns the refresh and usage loops; :meth:`start` them, :meth:`close` to stop."""

    def __init__(
        self,
        settings: JobsSettings,
        *,
        credentials: Callable[[], list[Credential]],
        refresh: Callable[[Credential], Awaitable[object]],
        fetch_balance: Callable[[Credential], Awaitable[Balance]],
        on_balance: Callable[[Credential, Balance], None],
        clock: Callable[[], datetime] = _utcnow,
        cache: BalanceCache | None = None,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._refresh = refresh
        self._fetch_balance = fetch_balance
        self._on_balance = on_balance
        self._clock = clock
        self.cache = cache or BalanceCache(max_age=settings.balance_max_age, clock=clock)
        self._refresh_lock = asyncio.Lock()
        self._usage_lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the enabled loops on the running event loop (a no-op if already running)."""
        if self.running:
            return
        self._runner = spawn(self._run(), name="kirogate jobs")

    async def close(self) -> None:
        """Cancel the loops and wait until they have stopped; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        runner.cancel()
        with suppress(asyncio.CancelledError):
            await runner

    async def __aenter__(self) -> BackgroundJobs:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(self) -> None:
        settings = self.settings
        async with asyncio.TaskGroup() as group:
            if settings.refresh_enabled:
                # The first request refreshes what it needs; the loop keeps tokens warm after.
                group.create_task(
                    self._every(
                        settings.refresh_interval,
                        self.refresh_due,
                        "token refresh",
                        first_after=settings.refresh_interval,
                    ),
                    name="kirogate jobs: refresh",
                )
            if settings.usage_enabled:
                group.create_task(
                    self._every(settings.usage_interval, self.poll_usage, "usage polling"),
                    name="kirogate jobs: usage",
                )

    async def _every(
        self,
        interval: float,
        job: Callable[[], Awaitable[PassReport]],
        what: str,
        *,
        first_after: float = 0.0,
    ) -> None:
        if first_after > 0:
            await asyncio.sleep(first_after)
        while True:
            try:
                await job()
            except Exception:  # a bug in a callable must not end the loop for good
                log.exception("%s pass failed; next one in %.0fs", what, interval)
            await asyncio.sleep(interval)

    # ------------------------------------------------------------ passes

    async def refresh_due(self) -> PassReport:
        """Refresh every enabled, refreshable credential whose token expires within
        ``refresh_ahead`` seconds (at most ``refresh_concurrency`` at once)."""
        async with self._refresh_lock:
            report = PassReport()
            now = self._clock()
            due: list[Credential] = []
            for credential in self._credentials():
                if credential.disabled or credential.is_api_key or not credential.refresh_token:
                    report.skipped.append(credential.label)
                elif credential.expires_within(self.settings.refresh_ahead, now=now):
                    due.append(credential)
            await self._each(due, self._refresh_one, self.settings.refresh_concurrency, report)
            if report.done or report.failed:
                log.info(
                    "proactive refresh: %d refreshed, %d failed",
                    len(report.done),
                    len(report.failed),
                )
            return report

    async def poll_usage(self) -> PassReport:
        """Fetch the balance of every enabled credential, cache it and pass it to
        ``on_balance`` (at most ``usage_concurrency`` at once)."""
        async with self._usage_lock:
            report = PassReport()
            wanted: list[Credential] = []
            for credential in self._credentials():
                if credential.disabled:
                    report.skipped.append(credential.label)
                else:
                    wanted.append(credential)
            await self._each(wanted, self._poll_one, self.settings.usage_concurrency, report)
            log.debug("usage poll: %d fetched, %d failed", len(report.done), len(report.failed))
            return report

    async def _refresh_one(self, credential: Credential) -> None:
        await self._refresh(credential)

    async def _poll_one(self, credential: Credential) -> None:
        balance = await self._fetch_balance(credential)
        if credential.id is not None:
            self.cache.put(credential.id, balance, fetched_at=self._clock())
        self._on_balance(credential, balance)
        if balance.exhausted:
            log.info("credential %s has no credits left", credential.label)

    async def _each(
        self,
        credentials: Iterable[Credential],
        work: Callable[[Credential], Awaitable[None]],
        concurrency: int,
        report: PassReport,
    ) -> None:
        gate = asyncio.Semaphore(concurrency)
        timeout = self.settings.call_timeout

        async def one(credential: Credential) -> None:
            async with gate:
                try:
                    async with asyncio.timeout(timeout):
                        await work(credential)
                except Exception as exc:  # logged and reported; the pass goes on
                    summary = _summary(exc)
                    report.failed[credential.label] = summary
                    log.warning("background job for credential %s: %s", credential.label, summary)
                else:
                    report.done.append(credential.label)

        async with asyncio.TaskGroup() as group:
            for credential in credentials:
                group.create_task(one(credential))

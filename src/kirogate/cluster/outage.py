"""Rate-limited reporting of a dependency (database, Redis) that keeps failing.

Background loops retry forever; logging every failed attempt would flood the log during
an outage. :class:`OutageLog` logs the first failure, then at most one summary per
``interval`` seconds, and one line when the dependency answers again.
:class:`DatabaseWatch` pings the database in the background so that nothing on a request's
path has to ask it whether it is there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from kirogate.tasks import spawn, stop_task

log = logging.getLogger(__name__)


class OutageLog:
    """Tracks one dependency's failures and reports them without flooding the log."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what
        self._interval = interval
        self._clock = clock
        self._failures = 0
        self._suppressed = 0
        self._last_logged: float | None = None

    @property
    def failing(self) -> bool:
        return self._failures > 0

    @property
    def failures(self) -> int:
        """Failures since the dependency last answered."""
        return self._failures

    def failed(self, action: str, error: BaseException) -> None:
        """Record a failure; logs it unless one was logged less than ``interval`` ago."""
        self._failures += 1
        now = self._clock()
        if self._last_logged is not None and now - self._last_logged < self._interval:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more failures not shown)" if self._suppressed else ""
        self._log.warning(
            "%s: %s failed, will retry: %s: %s%s",
            self._what,
            action,
            type(error).__name__,
            error,
            more,
        )
        self._last_logged = now
        self._suppressed = 0

    def succeeded(self) -> None:
        """The dependency answered; logs the recovery after an outage."""
        if self._failures:
            self._log.warning("%s: working again after %d failures", self._what, self._failures)
        self._failures = 0
        self._suppressed = 0
        self._last_logged = None


PING_INTERVAL = 2.0  # seconds between pings of the database watch
PING_TIMEOUT = 3.0  # a ping with no answer by then counts as "away" (a frozen server)


class DatabaseWatch:
    """Whether the database answers, as a background ping sees it; read without waiting.

    ``/ready`` and the access checks read :attr:`away` instead of querying the database on
    a request's path. The first failure, a summary every ``interval`` and the recovery are
    logged (through :class:`OutageLog`).
    """

    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        *,
        interval: float = PING_INTERVAL,
        timeout: float = PING_TIMEOUT,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ping = ping
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._log = logger or log
        self._outage = OutageLog(self._log, "database", clock=clock)
        self._away_since: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.checks = 0  # completed pings, for tests and diagnostics

    @property
    def away(self) -> bool:
        return self._away_since is not None

    def away_for(self) -> float:
        """Seconds since the database stopped answering (0 while it answers)."""
        return 0.0 if self._away_since is None else self._clock() - self._away_since

    def reason(self) -> str | None:
        """Why the database counts as away, for ``/ready``: no host, user or driver text."""
        if self._away_since is None:
            return None
        return (
            f"the database has not answered for {self.away_for():.0f} s; serving from memory,"
            " store writes queued"
        )

    def failed(self, action: str, error: BaseException) -> None:
        """Record a failure seen by anyone (a ping, a reload, a write)."""
        if self._away_since is None:
            self._away_since = self._clock()
            self._log.warning(
                "database away: client requests are served from memory, store writes queued"
            )
        self._outage.failed(action, error)

    def answered(self) -> None:
        if self._away_since is not None:
            self._log.warning(
                "database back after %.0f s: writing what was queued", self.away_for()
            )
            self._away_since = None
        self._outage.succeeded()

    async def check(self) -> bool:
        """One ping, bounded by ``timeout``; whether the database answered."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._ping()
        except TimeoutError as exc:
            self.failed(f"a ping (no answer within {self.timeout:g} s)", exc)
            return False
        except Exception as exc:  # any failure of the ping means "away"
            self.failed("a ping", exc)
            return False
        finally:
            self.checks += 1
        self.answered()
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name="kirogate database watch")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()

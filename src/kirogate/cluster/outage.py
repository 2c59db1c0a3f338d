"""Rate-limited reporting of a dependency (database, Redis) that keeps failing.

Background loops retry forever; logging every failed attempt would flood the log during
an outage. :class:`OutageLog` logs the first failure, then at most one summary per
``interval`` seconds, and one line when the dependency answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


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

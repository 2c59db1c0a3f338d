"""The per-request attempt loop: pick a credential, try, react to the failure, try again.

Everything here happens before the first byte reaches the client; once ``attempt`` has
returned (the upstream answered 200 and sent its first event) the request is committed to
that credential and a later failure is the caller's to report, not to retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

from kirogate.errors import NoCredentialAvailable, QuotaExhausted, UpstreamThrottled
from kirogate.metrics import METRICS
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.lease import Lease
from kirogate.pool.reactions import Reaction, backoff_delay
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AttemptContext:
    """What an attempt may want to know about where it stands in the request."""

    attempt: int  # 1-based, across credentials
    credential_attempt: int  # 1-based, with this credential
    refreshed: bool  # the token was force-refreshed right before this attempt
    model: str | None
    session_id: str | None


@dataclass(slots=True)
class Leased(Generic[T]):
    """The attempt's result and the lease that must be released when the response ends.

    Use as ``async with`` or release in ``finally`` (stream finished, client gone, error).
    """

    value: T
    lease: Lease
    attempts: int

    @property
    def credential(self) -> Credential:
        return self.lease.credential

    async def release(self) -> None:
        await self.lease.release()

    async def __aenter__(self) -> Leased[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.lease.release()


async def run_with_failover(
    pool: CredentialPool,
    attempt: Callable[[Credential, AttemptContext], Awaitable[T]],
    *,
    model: str | None = None,
    session_id: str | None = None,
    force_refresh: Callable[[Credential], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Leased[T]:
    """Run ``attempt`` until it succeeds, within the pool's budgets, and return it leased.

    ``attempt`` refreshes the token if it is due, opens the upstream stream and waits for
    its first event. Each failure goes through :meth:`CredentialPool.report_failure`, whose
    :class:`Reaction` decides: back off and retry, force-refresh and retry, fail over to
    another credential, or raise. When the budget runs out or no credential is left, the
    last upstream error is raised (so the client sees a meaningful status), or
    :class:`NoCredentialAvailable` if no attempt was made.
    """
    settings = pool.settings
    excluded: set[int] = set()
    last_error: Exception | None = None
    attempts = 0
    refreshed = False
    lease: Lease | None = None
    try:
        while True:
            if lease is None:
                try:
                    lease = await pool.acquire(model=model, session_id=session_id, exclude=excluded)
                except NoCredentialAvailable as exc:
                    if last_error is None:
                        raise
                    log.warning("giving up after %d attempt(s): %s", attempts, exc.message)
                    raise _with_retry_hint(last_error, pool, model) from exc
            attempts += 1
            context = AttemptContext(
                attempt=attempts,
                credential_attempt=lease.failures + 1,
                refreshed=refreshed,
                model=model,
                session_id=session_id,
            )
            refreshed = False
            try:
                value = await attempt(lease.credential, context)
            except Exception as exc:
                last_error = exc
                METRICS.upstream_error(type(exc).__name__)
                reaction = pool.report_failure(lease, exc)
            else:
                pool.report_success(lease)
                held, lease = Leased(value, lease, attempts), None
                return held

            if reaction is Reaction.FAIL:
                raise _with_retry_hint(last_error, pool, model)
            if attempts >= settings.max_attempts:
                log.warning("giving up after %d attempts: %s", attempts, type(last_error).__name__)
                raise _with_retry_hint(last_error, pool, model)
            label = lease.credential.label
            match reaction:
                case Reaction.RETRY_SAME:
                    delay = backoff_delay(
                        lease.failures - 1,
                        base=settings.backoff_base,
                        cap=settings.backoff_cap,
                        jitter=settings.backoff_jitter,
                        rng=pool.rng,
                    )
                    log.info(
                        "credential %s: %s; retrying in %.2fs",
                        label,
                        type(last_error).__name__,
                        delay,
                    )
                    await sleep(delay)
                    continue
                case Reaction.FORCE_REFRESH_THEN_RETRY:
                    log.info("credential %s: token refused; refreshing it", label)
                    try:
                        await force_refresh(lease.credential)
                    except Exception as exc:
                        last_error = exc
                        METRICS.upstream_error(type(exc).__name__)
                        if pool.report_failure(lease, exc) is Reaction.FAIL:
                            raise
                    else:
                        refreshed = True
                        continue
            log.info("credential %s: %s; failing over", label, type(last_error).__name__)
            excluded.add(lease.id)
            lease.release_nowait()
            lease = None
    finally:
        if lease is not None:
            lease.release_nowait()


def _with_retry_hint(error: Exception, pool: CredentialPool, model: str | None) -> Exception:
    """A 429 given up on tells the client when a credential is usable again: the upstream's
    hint for one credential says nothing about the pool's cooldowns (10 s after a hintless 429);
    a spent quota rests until its reset date, not for the 1 s a hintless 429 would say."""
    if isinstance(error, UpstreamThrottled | QuotaExhausted):
        wait = pool.seconds_until_usable(model)
        if wait is not None and wait > 0:
            error.retry_after = wait
    return error

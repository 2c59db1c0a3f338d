"""The credential pool: selection, runtime state, reactions to failures and admin operations.

:meth:`CredentialPool.acquire` hands out a :class:`~kirogate.pool.lease.Lease` on a usable
credential (enabled, not cooling down, allowed for the model, not busy), preferring the
credentials already bound to the request's session. A request whose client key is bound to a
credential group (:data:`kirogate.caller.CALLER`) is served by that group's members only, in
every mode; the membership is held in memory (:meth:`CredentialPool.set_groups`). :meth:`report_success` and
:meth:`report_failure` update the credential's state; the latter also answers what the
request should do next (see :mod:`kirogate.pool.reactions`). Every state change goes
through the :class:`~kirogate.pool.state.PoolState` store.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from kirogate.caller import CALLER
from kirogate.errors import (
    GroupUnavailable,
    InvalidRequest,
    NoCredentialAvailable,
    NotFound,
)
from kirogate.events import EventBus
from kirogate.log import redact
from kirogate.pool import state as transitions
from kirogate.pool.affinity import SessionAffinity
from kirogate.pool.lease import Lease
from kirogate.pool.limiter import ConcurrencyLimiter
from kirogate.pool.policy import Candidate, Selector, allows_model, make_candidate
from kirogate.pool.reactions import (
    QuotaResetHook,
    Reaction,
    classify_failure,
    decide,
    next_month_start,
    refresh_cooldown,
    throttle_cooldown,
)
from kirogate.pool.state import (
    HEALABLE,
    CooldownReason,
    CredentialState,
    DisableReason,
    InMemoryPoolState,
    PoolState,
)
from kirogate.pool.status import (
    CredentialStatus,
    describe_status,
    disabled_for_good,
    unavailable,
)
from kirogate.settings import PoolMode, PoolSettings
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

_DETAIL_LIMIT = 300


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CredentialPool:
    """Kiro credentials, their runtime state, and the rules for picking and penalising them."""

    def __init__(
        self,
        credentials: Iterable[Credential],
        settings: PoolSettings | None = None,
        *,
        state: PoolState | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        quota_reset: QuotaResetHook | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings or PoolSettings()
        # ``credential.state`` on every transition, ``pool.unusable`` when none is left
        # (built only while someone watches: the request path pays one attribute test).
        self.events = events
        self._state = state if state is not None else InMemoryPoolState()
        self._wall = wall
        self._rng = rng or random.Random()
        self._quota_reset = quota_reset
        self._credentials: dict[int, Credential] = {}
        self._positions: dict[int, int] = {}
        self._next_position = 0
        self._selector = Selector(self.settings.mode, self._rng)
        self._limiter = ConcurrencyLimiter(self.settings.max_concurrency_per_credential)
        self._affinity = SessionAffinity(self.settings.affinity, clock)
        self._groups: dict[str, frozenset[int]] = {}
        for credential in credentials:
            self.add(credential)

    # ------------------------------------------------------------ reading

    @property
    def mode(self) -> PoolMode:
        return self._selector.mode

    @property
    def current_id(self) -> int | None:
        """The sticky credential of ``priority`` mode, if one was picked."""
        return self._selector.current_id

    @property
    def rng(self) -> random.Random:
        return self._rng

    @property
    def affinity(self) -> SessionAffinity:
        return self._affinity

    def __len__(self) -> int:
        return len(self._credentials)

    def credentials(self) -> list[Credential]:
        """Every credential in pool order."""
        return [self._credentials[cid] for cid in self._ordered_ids()]

    def get(self, credential_id: int) -> Credential:
        try:
            return self._credentials[credential_id]
        except KeyError:
            raise NotFound(f"credential #{credential_id} is not in the pool") from None

    def state_of(self, credential_id: int) -> CredentialState:
        self.get(credential_id)
        return self._state.get(credential_id)

    def serves_model(self, model: str) -> bool:
        """Whether the plan of some credential not disabled for good allows ``model`` (the
        list of ``/v1/models``, the rule of :class:`~kirogate.errors.ModelNotAllowed`).

        When every credential is disabled for good their plans still count (one may be put
        back); an empty pool serves nothing, but lists everything: its requests say what to do.
        """
        ids = self._ordered_ids()
        if not ids:
            return True
        enabled = [cid for cid in ids if not disabled_for_good(self._state.get(cid))] or ids
        return any(allows_model(self._credentials[cid], model) for cid in enabled)

    def snapshot(self) -> list[CredentialStatus]:
        """Every credential's state for the admin API, ordered by priority then pool order."""
        now = self._wall()
        rows = [
            describe_status(
                self._credentials[cid],
                self._state.get(cid),
                now=now,
                in_flight=self._limiter.in_flight(cid),
                limit=self._limiter.limit,
                current=cid == self._selector.current_id,
            )
            for cid in self._ordered_ids()
        ]
        return sorted(rows, key=lambda row: (row.priority, self._positions[row.id]))

    def unavailable_reason(self) -> str | None:
        """Why no credential can serve a request now, in the words a request would get;
        ``None`` when one can (for ``/ready``: nothing is healed or logged)."""
        now = self._wall()
        if self._usable(now, None):
            return None
        entries = [
            (self._credentials[cid], self._state.get(cid), self._limiter.has_room(cid))
            for cid in self._ordered_ids()
        ]
        error = unavailable(entries, now=now, model=None, exclude=(), limit=self._limiter.limit)
        return error.message

    def seconds_until_usable(self, model: str | None = None) -> float | None:
        """Seconds until a credential can serve ``model``: 0 when one can now, the end of the
        soonest cooldown otherwise, ``None`` when none comes back by itself (all disabled).
        For a request of a group-bound key, the group's credentials only."""
        now = self._wall()
        members = self._members(_group_asked())
        if self._usable(now, model, members):
            return 0.0
        ends = [
            state.cooldown_until
            for cid in self._ids_in(members)
            if not (state := self._state.get(cid)).disabled
            and state.cooling(now)
            and state.cooldown_until is not None
            and allows_model(self._credentials[cid], model)
        ]
        return max((min(ends) - now).total_seconds(), 0.0) if ends else None

    # ------------------------------------------------------------ acquiring

    async def acquire(
        self,
        *,
        model: str | None = None,
        session_id: str | None = None,
        exclude: Collection[int] = (),
    ) -> Lease:
        """A lease on a usable credential not in ``exclude``.

        When every usable credential is at its concurrency limit, waits up to
        ``queue_timeout`` for a slot. Raises :class:`NoCredentialAvailable` naming why
        nothing was usable.
        """
        group = _group_asked()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.queue_timeout
        while True:
            lease = self._try_acquire(model, session_id, exclude, group)
            if lease is not None:
                return lease
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._unavailable(model, exclude, group)
            try:
                async with asyncio.timeout(remaining):
                    await self._limiter.wait_for_change()
            except TimeoutError:
                raise self._unavailable(model, exclude, group) from None

    def _try_acquire(
        self,
        model: str | None,
        session_id: str | None,
        exclude: Collection[int],
        group: str | None = None,
    ) -> Lease | None:
        now = self._wall()
        members = self._members(group)
        usable = self._usable(now, model, members)
        if not usable and self._heal(members):
            usable = self._usable(now, model, members)
        open_ = [candidate for candidate in usable if candidate.id not in exclude]
        if not open_:
            raise self._unavailable(model, exclude, group)
        free = [candidate for candidate in open_ if self._limiter.has_room(candidate.id)]
        if not free:
            return None
        chosen = self._choose(free, session_id, group)
        self._limiter.take(chosen.id)
        self._state.update(chosen.id, lambda state: transitions.with_selected(state, now))
        log.debug("credential %s acquired (mode=%s)", chosen.credential.label, self.mode)
        return Lease(chosen.credential, self._release, model=model, session_id=session_id)

    def _members(self, group: str | None) -> frozenset[int] | None:
        """The ids a request may use: ``None`` (all) without a group, else the group's
        members (empty for a group this process does not know)."""
        if group is None:
            return None
        return self._groups.get(group, frozenset())

    def _ids_in(self, members: frozenset[int] | None) -> list[int]:
        ids = self._ordered_ids()
        return ids if members is None else [cid for cid in ids if cid in members]

    def _usable(
        self, now: datetime, model: str | None, members: frozenset[int] | None = None
    ) -> list[Candidate]:
        candidates = []
        for cid in self._ids_in(members):
            state = self._state.get(cid)
            credential = self._credentials[cid]
            if state.disabled or state.cooling(now) or not allows_model(credential, model):
                continue
            candidates.append(
                make_candidate(
                    credential, state, self._positions[cid], self._limiter.in_flight(cid)
                )
            )
        return candidates

    def _choose(
        self, free: list[Candidate], session_id: str | None, group: str | None = None
    ) -> Candidate:
        if session_id is None or not self.settings.affinity.enabled:
            return self._selector.choose(free, healthy=self._healthy, group=group)
        by_id = {candidate.id: candidate for candidate in free}
        for cid in self._affinity.preferred(session_id):
            if cid in by_id:
                return by_id[cid]
        chosen = self._selector.choose(free, healthy=self._healthy, group=group)
        self._affinity.bind(session_id, chosen.id, evictable=self._evictable)
        return chosen

    def _healthy(self, credential_id: int) -> bool:
        if credential_id not in self._credentials:
            return False
        state = self._state.get(credential_id)
        return not state.disabled and not state.cooling(self._wall())

    def _evictable(self, credential_id: int) -> bool:
        return credential_id not in self._credentials or self._state.get(credential_id).disabled

    def _heal(self, members: frozenset[int] | None = None) -> bool:
        # kiro.rs self-healing: when nothing is selectable, credentials disabled for repeated
        # failures come back with their counters cleared ("equivalent to a restart"). A
        # group's request heals the group's members only: the others are not its to touch.
        if members is None:
            healed = self._state.heal(HEALABLE)
        else:
            healed = [
                cid
                for cid in self._ids_in(members)
                if self._state.get(cid).disabled_reason in HEALABLE
            ]
            for cid in healed:
                self._state.update(cid, transitions.with_enabled)
        if healed:
            log.warning(
                "no usable credential; re-enabling %d disabled for failures: %s",
                len(healed),
                ", ".join(self._credentials[cid].label for cid in healed),
            )
        return bool(healed)

    def _unavailable(
        self, model: str | None, exclude: Collection[int], group: str | None = None
    ) -> NoCredentialAvailable:
        members = self._members(group)
        entries = [
            (self._credentials[cid], self._state.get(cid), self._limiter.has_room(cid))
            for cid in self._ids_in(members)
        ]
        if group is not None and not entries:
            error: NoCredentialAvailable = GroupUnavailable(
                f"the key's credential group {group!r} has no usable credential: "
                + ("it has no member in the pool" if group in self._groups else "no such group"),
                group=group,
            )
        else:
            error = unavailable(
                entries, now=self._wall(), model=model, exclude=exclude, limit=self._limiter.limit
            )
            if group is not None:
                detail = error.message.removeprefix("no usable credential ")
                error = GroupUnavailable(
                    f"the key's credential group {group!r} has no usable credential"
                    + (f" {detail}" if detail.startswith("(") else f": {detail}"),
                    group=group,
                    retry_after=error.retry_after,
                )
        log.warning("%s", error.message)
        return error

    def _release(self, lease: Lease) -> None:
        self._limiter.give_back(lease.id)

    # ------------------------------------------------------------ outcomes

    def report_success(self, lease: Lease) -> None:
        """The upstream accepted the request: consecutive failures cleared, success counted."""
        if lease.id in self._credentials:
            now = self._wall()
            self._state.update(lease.id, lambda state: transitions.with_success(state, now))

    def report_failure(self, lease: Lease, error: BaseException) -> Reaction:
        """Record ``error`` against the lease's credential and say what the request does next."""
        lease.failures += 1
        decision = decide(
            classify_failure(error),
            failures=lease.failures,
            refreshed=lease.refreshed,
            attempts_per_credential=self.settings.attempts_per_credential,
        )
        cid = lease.id
        if decision.reaction is Reaction.FORCE_REFRESH_THEN_RETRY:
            lease.refreshed = True
        if cid not in self._credentials:  # removed while the request was running
            return Reaction.FAIL if decision.reaction is Reaction.FAIL else Reaction.FAILOVER
        if not decision.record:
            return decision.reaction
        now = self._wall()
        detail = str(error)[:_DETAIL_LIMIT]
        state = self._record(cid, now, detail, consecutive=decision.counts)
        if decision.cooldown is not None:
            self._cool_after(lease.credential, decision.cooldown, error, now)
        if decision.disable is not None:
            self._disable(cid, decision.disable, detail)
        threshold = self.settings.failure_threshold
        if decision.counts and threshold and state.failure_count >= threshold:
            summary = f"{state.failure_count} failures in a row: {detail}"
            self._disable(cid, decision.threshold_reason, summary)
        return decision.reaction

    def _cool_after(
        self, credential: Credential, reason: CooldownReason, error: BaseException, now: datetime
    ) -> None:
        assert credential.id is not None
        cid = credential.id
        match reason:
            case CooldownReason.QUOTA_EXCEEDED:
                until = self._quota_reset_at(credential, now)
            case CooldownReason.THROTTLED:
                throttles = self._state.update(cid, transitions.with_throttle).throttle_count
                seconds = throttle_cooldown(
                    error,
                    throttles,
                    base=self.settings.cooldown_429,
                    cap=self.settings.cooldown_429_max,
                )
                until = now + timedelta(seconds=seconds)
            case CooldownReason.SUSPENDED:
                until = now + timedelta(seconds=self.settings.suspended_cooldown)
            case CooldownReason.REFRESH_FAILED:
                # Shared through the pool state, so other processes skip it too.
                until = now + timedelta(seconds=refresh_cooldown(error))
        if until <= now:
            return
        self._cool(cid, until, reason)
        log.warning(
            "credential %s %s; resting until %s", credential.label, reason, until.isoformat()
        )

    def _record(
        self, cid: int, now: datetime, detail: str, *, consecutive: bool
    ) -> CredentialState:
        return self._state.update(
            cid, lambda state: transitions.with_failure(state, now, detail, consecutive=consecutive)
        )

    def _cool(self, cid: int, until: datetime, reason: CooldownReason) -> None:
        self._state.update(cid, lambda state: transitions.with_cooldown(state, until, reason))
        self._publish(cid, "cooling", reason.value, until=until)

    def _disable(self, cid: int, reason: DisableReason, detail: str | None) -> None:
        self._state.update(cid, lambda state: transitions.with_disabled(state, reason, detail))
        self._selector.forget(cid)
        log.warning("credential %s disabled (%s): %s", self._credentials[cid].label, reason, detail)
        self._publish(cid, "disabled", reason.value, detail=detail)

    def _publish(
        self,
        cid: int,
        state: str,
        reason: str | None,
        *,
        detail: str | None = None,
        until: datetime | None = None,
    ) -> None:
        """Tell watchers about a transition (no secret: ids, reasons, the redacted detail)."""
        events = self.events
        if events is None or not events.watched:
            return
        credential = self._credentials.get(cid)
        events.publish(
            "credential.state",
            id=cid,
            email=credential.email if credential is not None else None,
            state=state,
            reason=reason,
            detail=redact(detail)[:_DETAIL_LIMIT] if detail else None,
            until=until.isoformat() if until is not None else None,
        )
        if state != "enabled" and self._credentials and not self._anything_usable():
            events.publish("pool.unusable", total=len(self._credentials),
                           reason=self.unavailable_reason())  # fmt: skip

    def _anything_usable(self) -> bool:
        now = self._wall()
        return any(
            not (state := self._state.get(cid)).disabled and not state.cooling(now)
            for cid in self._credentials
        )

    def _quota_reset_at(self, credential: Credential, now: datetime) -> datetime:
        hinted = self._quota_reset(credential) if self._quota_reset is not None else None
        return hinted if hinted is not None and hinted > now else next_month_start(now)

    # ------------------------------------------------------------ usage data

    def mark_exhausted(self, credential_id: int, *, until: datetime | None = None) -> None:
        """Skip the credential until ``until`` (default: its quota reset date)."""
        credential = self.get(credential_id)
        now = self._wall()
        when = until if until is not None and until > now else self._quota_reset_at(credential, now)
        self._cool(credential_id, when, CooldownReason.QUOTA_EXCEEDED)
        self._limiter.notify()
        log.info("credential %s exhausted until %s", credential.label, when.isoformat())

    def note_usage(
        self,
        credential_id: int,
        *,
        remaining: float,
        limit: float | None = None,
        reset_at: datetime | None = None,
    ) -> None:
        """Feed fresh usage data: nothing left marks it exhausted until ``reset_at``.

        Some left lifts a quota cooldown (the account was topped up or has reset) and, with
        ``limit``, sets the remaining share that ``weighted`` mode uses.
        """
        self.get(credential_id)
        if remaining <= 0:
            self.mark_exhausted(credential_id, until=reset_at)
            return
        share = min(remaining / limit, 1.0) if limit else None
        self._state.update(
            credential_id, lambda state: transitions.with_remaining_share(state, share)
        )
        if self._state.get(credential_id).cooldown_reason is CooldownReason.QUOTA_EXCEEDED:
            self._state.update(credential_id, transitions.without_cooldown)
            self._limiter.notify()

    # ------------------------------------------------------------ admin operations

    def apply_settings(self, settings: PoolSettings) -> None:
        """Take new settings for the next pick (a runtime change): mode, budgets, cooldowns,
        concurrency. Sessions already bound keep their credentials."""
        self.settings = settings
        self.set_mode(settings.mode)
        self._affinity.settings = settings.affinity
        if self._limiter.limit != settings.max_concurrency_per_credential:
            self._limiter.limit = settings.max_concurrency_per_credential
            self._limiter.notify()  # a raised limit frees queued requests at once

    def set_mode(self, mode: PoolMode | str) -> None:
        """Switch the selection mode for the next request; :class:`InvalidRequest` if unknown."""
        try:
            parsed = PoolMode.parse(mode)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="mode") from None
        if parsed is not self._selector.mode:
            log.info("pool mode %s -> %s", self._selector.mode, parsed)
            self._selector.mode = parsed

    def add(self, credential: Credential) -> Credential:
        """Add ``credential`` (an id is assigned when it has none) and return it."""
        if credential.id is None:
            credential.id = max(self._credentials, default=0) + 1
        cid = credential.id
        if cid in self._credentials:
            raise InvalidRequest(f"credential #{cid} is already in the pool")
        self._credentials[cid] = credential
        self._positions[cid] = self._next_position
        self._next_position += 1
        self._state.ensure(
            CredentialState(
                id=cid,
                priority=credential.priority,
                disabled_reason=DisableReason.MANUAL if credential.disabled else None,
                disabled_detail=credential.disabled_reason if credential.disabled else None,
            )
        )
        self._limiter.notify()
        return credential

    def remove(self, credential_id: int) -> Credential:
        """Take the credential out; leases still held on it release harmlessly."""
        credential = self.get(credential_id)
        del self._credentials[credential_id]
        del self._positions[credential_id]
        self._state.remove(credential_id)
        self._affinity.forget_credential(credential_id)
        self._selector.forget(credential_id)
        if any(credential_id in ids for ids in self._groups.values()):
            # The store drops its memberships with it; a new credential given its number
            # (SQLite reuses the highest) must not inherit them before the groups reload.
            self._groups = {name: ids - {credential_id} for name, ids in self._groups.items()}
        self._limiter.notify()
        return credential

    def enable(self, credential_id: int) -> None:
        """Back in rotation with failure counters cleared (a cooldown still applies)."""
        self.get(credential_id)
        self._state.update(credential_id, transitions.with_enabled)
        self._limiter.notify()
        self._publish(credential_id, "enabled", None)

    def disable(
        self,
        credential_id: int,
        detail: str | None = None,
        *,
        reason: DisableReason = DisableReason.MANUAL,
    ) -> None:
        """Out of rotation until enabled; ``detail`` is shown to operators."""
        self.get(credential_id)
        self._disable(credential_id, reason, detail)

    def check_resettable(self, credential_id: int) -> None:
        """:class:`InvalidRequest` when :meth:`reset` would refuse (kiro.rs refuses InvalidConfig)."""
        self.get(credential_id)
        if self._state.get(credential_id).disabled_reason is DisableReason.INVALID_CONFIG:
            raise InvalidRequest(
                f"credential #{credential_id} has an invalid configuration; fix it, then enable it"
            )

    def reset(self, credential_id: int) -> None:
        """Enabled, cooldown lifted, consecutive counters cleared (kiro.rs refuses InvalidConfig)."""
        self.check_resettable(credential_id)
        self._state.update(credential_id, transitions.with_reset)
        self._limiter.notify()
        self._publish(credential_id, "enabled", "reset")

    def set_priority(self, credential_id: int, priority: int) -> None:
        """Lower number first. ``priority`` mode re-picks its current credential."""
        credential = self.get(credential_id)
        credential.priority = priority  # so a write-back to credentials.json keeps it
        self._state.update(credential_id, lambda state: transitions.with_priority(state, priority))
        self._selector.clear_current()

    def set_weight(self, credential_id: int, weight: float) -> None:
        """Relative share in ``weighted`` mode (default 1; 0 = only when nothing else is left)."""
        self.get(credential_id)
        if weight < 0:
            raise InvalidRequest(f"weight {weight}: must not be negative", param="weight")
        self._state.update(credential_id, lambda state: transitions.with_weight(state, weight))

    # ------------------------------------------------------------ credential groups

    def set_groups(self, groups: Mapping[str, Iterable[int]]) -> None:
        """Replace the credential groups (name -> member ids) the group-bound keys use.

        Ids not in the pool are kept (a credential may join later) and never selected.
        """
        new = {name: frozenset(ids) for name, ids in groups.items()}
        if new != self._groups:
            self._groups = new
            self._selector.forget_groups()
            self._limiter.notify()
            log.info("credential groups: %d loaded", len(new))

    def groups(self) -> dict[str, frozenset[int]]:
        """The credential groups as the pool holds them (name -> member ids)."""
        return dict(self._groups)

    def _ordered_ids(self) -> list[int]:
        return list(self._credentials)  # insertion order is pool order


def _group_asked() -> str | None:
    """The credential group of the request's client key, if it is bound to one."""
    caller = CALLER.get()
    return None if caller is None else caller.group

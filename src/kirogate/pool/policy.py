"""Selection modes: which usable credential a request gets.

:class:`Selector` holds the little memory the modes need (the sticky current credential of
``priority`` mode, the round-robin cursor, the random generator) and picks among candidates
the pool has already filtered (enabled, not cooling, allowed for the model, not excluded,
not busy).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kirogate.pool.state import CredentialState
from kirogate.settings import PoolMode
from kirogate.upstream.credentials import Credential

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_WEIGHT_SHARE = 0.05  # an account with little quota left still gets an occasional request


@dataclass(frozen=True, slots=True)
class Candidate:
    credential: Credential
    state: CredentialState
    position: int  # order in the pool (file order), the last tie-breaker everywhere
    in_flight: int = 0

    @property
    def id(self) -> int:
        return self.state.id


def allows_model(credential: Credential, model: str | None) -> bool:
    """kiro.rs: Opus models are not offered to FREE subscriptions (unknown tier: allowed)."""
    if not model or "opus" not in model.lower():
        return True
    title = credential.subscription_title
    return title is None or "FREE" not in title.upper()


def _by_priority(candidate: Candidate) -> tuple[int, int]:
    return candidate.state.priority, candidate.position


class Selector:
    """Picks one candidate according to the current :class:`PoolMode`."""

    def __init__(self, mode: PoolMode, rng: random.Random) -> None:
        self.mode = mode
        self.current_id: int | None = None  # priority mode's sticky choice
        self._last_position: int | None = None  # round-robin cursor
        self._rng = rng

    def choose(
        self, candidates: Sequence[Candidate], *, healthy: Callable[[int], bool]
    ) -> Candidate:
        """One of ``candidates`` (non-empty). ``healthy`` says if an id is usable at all."""
        match self.mode:
            case PoolMode.PRIORITY:
                chosen = self._sticky(candidates, healthy)
            case PoolMode.BALANCED:
                chosen = min(candidates, key=_balanced_key)
            case PoolMode.ROUND_ROBIN:
                chosen = self._next_in_turn(candidates)
            case PoolMode.RANDOM:
                chosen = self._rng.choice(list(candidates))
            case PoolMode.WEIGHTED:
                chosen = self._weighted(candidates)
        self._last_position = chosen.position
        return chosen

    def forget(self, credential_id: int) -> None:
        """Drop the sticky choice if it is ``credential_id`` (disabled, removed, re-ranked)."""
        if self.current_id == credential_id:
            self.current_id = None

    def _sticky(self, candidates: Sequence[Candidate], healthy: Callable[[int], bool]) -> Candidate:
        # Stay on the current credential while it is healthy. When it is only unavailable
        # for this request (busy, wrong tier for the model, already failed here), serve the
        # request elsewhere but keep it current.
        for candidate in candidates:
            if candidate.id == self.current_id:
                return candidate
        chosen = min(candidates, key=_by_priority)
        if self.current_id is None or not healthy(self.current_id):
            self.current_id = chosen.id
        return chosen

    def _next_in_turn(self, candidates: Sequence[Candidate]) -> Candidate:
        ordered = sorted(candidates, key=lambda candidate: candidate.position)
        if self._last_position is None:
            return ordered[0]
        for candidate in ordered:
            if candidate.position > self._last_position:
                return candidate
        return ordered[0]

    def _weighted(self, candidates: Sequence[Candidate]) -> Candidate:
        weights = [_weight(candidate.state) for candidate in candidates]
        if sum(weights) <= 0:
            return self._rng.choice(list(candidates))
        return self._rng.choices(list(candidates), weights=weights, k=1)[0]


def _balanced_key(candidate: Candidate) -> tuple[int, datetime, int, int]:
    # kiro.rs balanced = fewest successes, then priority. Requests in flight count as
    # successes-to-be so a burst spreads out; least recently used breaks ties.
    state = candidate.state
    return (
        state.success_count + candidate.in_flight,
        state.last_used or _EPOCH,
        state.priority,
        candidate.position,
    )


def _weight(state: CredentialState) -> float:
    if state.weight <= 0:
        return 0.0
    share = 1.0 if state.remaining_share is None else max(state.remaining_share, _MIN_WEIGHT_SHARE)
    return state.weight * min(share, 1.0)

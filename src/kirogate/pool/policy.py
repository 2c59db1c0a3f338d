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
_new = object.__new__
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


_SET_CREDENTIAL, _SET_STATE, _SET_POSITION, _SET_IN_FLIGHT = (
    getattr(Candidate, name).__set__ for name in ("credential", "state", "position", "in_flight")
)


def make_candidate(
    credential: Credential, state: CredentialState, position: int, in_flight: int = 0
) -> Candidate:
    """``Candidate(credential, state, position, in_flight)``, filled through its slots'
    writers: a frozen dataclass's ``__init__`` pays ``object.__setattr__`` per field, which
    costs more, and the pool makes one per usable credential per request."""
    made: Candidate = _new(Candidate)
    _SET_CREDENTIAL(made, credential)
    _SET_STATE(made, state)
    _SET_POSITION(made, position)
    _SET_IN_FLIGHT(made, in_flight)
    return made


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
        # The same two for each credential group's requests (a group is a pool of its own).
        self._group_current: dict[str, int] = {}
        self._group_last: dict[str, int] = {}
        self._rng = rng

    def choose(
        self,
        candidates: Sequence[Candidate],
        *,
        healthy: Callable[[int], bool],
        group: str | None = None,
    ) -> Candidate:
        """One of ``candidates`` (non-empty). ``healthy`` says if an id is usable at all;
        ``group`` keeps the sticky choice and the turn of that group's requests apart."""
        match self.mode:
            case PoolMode.PRIORITY:
                chosen = self._sticky(candidates, healthy, group)
            case PoolMode.BALANCED:
                chosen = min(candidates, key=_balanced_key)
            case PoolMode.ROUND_ROBIN:
                last = self._last_position if group is None else self._group_last.get(group)
                chosen = _next_in_turn(candidates, last)
            case PoolMode.RANDOM:
                chosen = self._rng.choice(list(candidates))
            case PoolMode.WEIGHTED:
                chosen = self._weighted(candidates)
        if group is None:
            self._last_position = chosen.position
        else:
            self._group_last[group] = chosen.position
        return chosen

    def current_of(self, group: str | None) -> int | None:
        """The sticky choice of ``priority`` mode for ``group``'s requests (``None``: the pool's)."""
        return self.current_id if group is None else self._group_current.get(group)

    def forget(self, credential_id: int) -> None:
        """Drop the sticky choice if it is ``credential_id`` (disabled, removed, re-ranked)."""
        if self.current_id == credential_id:
            self.current_id = None
        for group in [g for g, cid in self._group_current.items() if cid == credential_id]:
            del self._group_current[group]

    def clear_current(self) -> None:
        """Re-pick every sticky choice at the next request (priorities changed)."""
        self.current_id = None
        self._group_current.clear()

    def forget_groups(self) -> None:
        """Drop the groups' choices (their membership changed)."""
        self._group_current.clear()
        self._group_last.clear()

    def _sticky(
        self, candidates: Sequence[Candidate], healthy: Callable[[int], bool], group: str | None
    ) -> Candidate:
        # Stay on the current credential while it is healthy. When it is only unavailable
        # for this request (busy, wrong tier for the model, already failed here), serve the
        # request elsewhere but keep it current.
        current = self.current_of(group)
        for candidate in candidates:
            if candidate.id == current:
                return candidate
        chosen = min(candidates, key=_by_priority)
        if current is None or not healthy(current):
            if group is None:
                self.current_id = chosen.id
            else:
                self._group_current[group] = chosen.id
        return chosen

    def _weighted(self, candidates: Sequence[Candidate]) -> Candidate:
        weights = [_weight(candidate.state) for candidate in candidates]
        if sum(weights) <= 0:
            return self._rng.choice(list(candidates))
        return self._rng.choices(list(candidates), weights=weights, k=1)[0]


def _next_in_turn(candidates: Sequence[Candidate], last_position: int | None) -> Candidate:
    ordered = sorted(candidates, key=lambda candidate: candidate.position)
    if last_position is None:
        return ordered[0]
    for candidate in ordered:
        if candidate.position > last_position:
            return candidate
    return ordered[0]


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

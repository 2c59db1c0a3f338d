"""Session affinity (kiro2api's session pool): a conversation keeps its credential.

Each session id is bound to up to ``max_size`` credentials: the first one picked is the
primary, later ones are backups taken when the primary was unusable. A request prefers
them in that order, so the session returns to its primary once it has cooled down.
Bindings idle for ``ttl`` seconds are forgotten, and at most ``max_sessions`` are kept
(least recently seen dropped first). Process-local and best effort: losing a binding only
costs the prompt cache a miss.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from kirogate.settings import AffinitySettings


@dataclass(slots=True)
class _Binding:
    credential_ids: list[int] = field(default_factory=list)
    last_seen: float = 0.0


class SessionAffinity:
    """Session id → ordered credential ids (primary first), bounded and expiring."""

    def __init__(self, settings: AffinitySettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self._clock = clock
        self._sessions: OrderedDict[str, _Binding] = OrderedDict()

    def __len__(self) -> int:
        self._expire(self._clock())
        return len(self._sessions)

    def preferred(self, session_id: str) -> list[int]:
        """The credential ids bound to ``session_id``, primary first; refreshes its TTL."""
        now = self._clock()
        self._expire(now)
        binding = self._sessions.get(session_id)
        if binding is None:
            return []
        binding.last_seen = now
        self._sessions.move_to_end(session_id)
        return list(binding.credential_ids)

    def bind(
        self, session_id: str, credential_id: int, *, evictable: Callable[[int], bool]
    ) -> None:
        """Add ``credential_id`` as a backup of ``session_id`` (or its primary, if new).

        A full binding drops one backup to make room: the first one ``evictable`` accepts
        (disabled or removed), else the newest backup; with ``max_size`` 1, the primary.
        """
        now = self._clock()
        self._expire(now)
        binding = self._sessions.get(session_id)
        if binding is None:
            binding = _Binding()
            self._sessions[session_id] = binding
            while len(self._sessions) > self.settings.max_sessions:
                self._sessions.popitem(last=False)
        binding.last_seen = now
        self._sessions.move_to_end(session_id)
        ids = binding.credential_ids
        if credential_id in ids:
            return
        if len(ids) >= self.settings.max_size:
            victims = [cid for cid in ids if evictable(cid)]
            ids.remove(victims[0] if victims else ids[-1])
        ids.append(credential_id)

    def forget_credential(self, credential_id: int) -> None:
        """Unbind a removed credential from every session."""
        for session_id, binding in list(self._sessions.items()):
            if credential_id in binding.credential_ids:
                binding.credential_ids.remove(credential_id)
                if not binding.credential_ids:
                    del self._sessions[session_id]

    def clear(self) -> None:
        self._sessions.clear()

    def _expire(self, now: float) -> None:
        # Ordered by last_seen (every touch moves to the end), so expired ones are in front.
        ttl = self.settings.ttl
        while self._sessions:
            session_id, binding = next(iter(self._sessions.items()))
            if now - binding.last_seen < ttl:
                break
            del self._sessions[session_id]

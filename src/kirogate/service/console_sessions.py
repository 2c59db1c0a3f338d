"""The web console's sessions: signed cookies, their CSRF tokens, and sign-out.

Signing in with the admin key gives a session token ``v1.<payload>.<signature>``: the payload is
a random session id and the expiry, the signature an HMAC-SHA256 under a secret derived from the
admin key. Any instance holding the same admin key accepts it, with nothing to look up; changing
the admin key ends every session at once. The CSRF token is a second HMAC of the session id,
handed to the page (never in a cookie) and sent back as ``x-csrf-token`` on every call that
changes something, so another site can neither read nor forge it.

Sign-out records the session id as ended until its expiry: in the cluster's counters when there
is a cluster (Redis makes it seen by every instance), and always in this process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from kirogate.cluster.ratelimit import Counters, MemoryCounters
from kirogate.errors import AuthenticationFailed, PermissionDenied

COOKIE = "kirogate_console"
CSRF_HEADER = "x-csrf-token"
DEFAULT_LIFETIME = 12 * 3600.0  # seconds
_VERSION = "v1"
_SECRET_LABEL = b"kirogate console session v1"
_ENDED = "console-ended:"
_PAYLOAD = struct.Struct(">16sQ")  # session id, expiry (epoch seconds)
SESSION_ENDED = "the console session has expired or was signed out: sign in again"
CSRF_MISSING = "missing or wrong CSRF token: the console sends it as x-csrf-token on every change"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser: its id (the audit trail shows its first 8 characters) and expiry."""

    id: str
    expires: int  # epoch seconds
    csrf: str

    @property
    def actor(self) -> str:
        return f"console:{self.id[:8]}"


class ConsoleSessions:
    """Issues and checks session tokens for one admin key."""

    def __init__(
        self,
        counters: Callable[[], Counters | None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self._clock = clock
        self._ended = MemoryCounters()

    @staticmethod
    def _secret(admin_key: str) -> bytes:
        return hmac.new(admin_key.encode("utf-8"), _SECRET_LABEL, hashlib.sha256).digest()

    @classmethod
    def _csrf(cls, admin_key: str, session_id: bytes) -> str:
        secret = cls._secret(admin_key)
        return _b64(hmac.new(secret, b"csrf:" + session_id, hashlib.sha256).digest())

    def issue(
        self, admin_key: str, lifetime: float = DEFAULT_LIFETIME
    ) -> tuple[str, ConsoleSession]:
        """A new session's cookie value, and the session."""
        session_id = secrets.token_bytes(16)
        expires = int(self._clock() + lifetime)
        payload = _b64(_PAYLOAD.pack(session_id, expires))
        signature = hmac.new(
            self._secret(admin_key), f"{_VERSION}.{payload}".encode(), hashlib.sha256
        ).digest()
        token = f"{_VERSION}.{payload}.{_b64(signature)}"
        session = ConsoleSession(_b64(session_id), expires, self._csrf(admin_key, session_id))
        return token, session

    async def check(self, admin_key: str, token: str | None) -> ConsoleSession | None:
        """The session ``token`` stands for, or ``None`` (malformed, forged, expired, ended)."""
        if not token or token.count(".") != 2:
            return None
        version, payload, signature = token.split(".")
        if version != _VERSION:
            return None
        expected = hmac.new(
            self._secret(admin_key), f"{version}.{payload}".encode(), hashlib.sha256
        ).digest()
        try:
            if not hmac.compare_digest(_unb64(signature), expected):
                return None
            session_id, expires = _PAYLOAD.unpack(_unb64(payload))
        except (ValueError, struct.error):
            return None
        if expires <= self._clock():
            return None
        session = ConsoleSession(_b64(session_id), expires, self._csrf(admin_key, session_id))
        if await self._is_ended(session.id):
            return None
        return session

    async def accept(
        self, admin_key: str | None, token: str | None, csrf: str | None, *, changes: bool
    ) -> ConsoleSession:
        """The session a request's cookie stands for, with its CSRF token when the request
        may change something: 401 (:class:`AuthenticationFailed`) or 403 otherwise."""
        session = await self.check(admin_key, token) if admin_key else None
        if session is None:
            raise AuthenticationFailed(SESSION_ENDED)
        if changes and not self.csrf_matches(session, csrf):
            raise PermissionDenied(CSRF_MISSING)
        return session

    @staticmethod
    def csrf_matches(session: ConsoleSession, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode("utf-8", "replace"), session.csrf.encode("ascii")
        )

    async def end(self, session: ConsoleSession) -> None:
        """Sign ``session`` out, here and (through the cluster) everywhere."""
        ttl = max(1, int(session.expires - self._clock()) + 1)
        self._ended.add_now(_ENDED + session.id, 1, ttl)
        counters = self._counters()
        if counters is not None:
            await counters.add(_ENDED + session.id, 1, ttl)

    async def _is_ended(self, session_id: str) -> bool:
        if self._ended.get_now([_ENDED + session_id])[0]:
            return True
        counters = self._counters()
        if counters is None:
            return False
        (ended,) = await counters.get([_ENDED + session_id])
        return ended > 0

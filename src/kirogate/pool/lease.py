"""A lease: one credential held by one request until the response ends."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from kirogate.upstream.credentials import Credential


class Lease:
    """The right to use ``credential`` for one request; release it exactly when the request ends.

    Holds a concurrency slot. It also carries the request's history with this credential
    (failed attempts, whether its token was force-refreshed), which the pool reads when
    deciding how to react to the next failure. Release is idempotent.
    """

    __slots__ = (
        "_on_release",
        "_released",
        "credential",
        "failures",
        "model",
        "refreshed",
        "session_id",
    )

    def __init__(
        self,
        credential: Credential,
        on_release: Callable[[Lease], None],
        *,
        model: str | None = None,
        session_id: str | None = None,
    ) -> None:
        self.credential = credential
        self.model = model
        self.session_id = session_id
        self.failures = 0  # failed attempts with this credential in this request
        self.refreshed = False  # its token was force-refreshed once in this request
        self._on_release = on_release
        self._released = False

    @property
    def id(self) -> int:
        assert self.credential.id is not None  # the pool assigns ids on add
        return self.credential.id

    @property
    def released(self) -> bool:
        return self._released

    def release_nowait(self) -> None:
        """Give the slot back now (safe in ``finally`` even while being cancelled)."""
        if not self._released:
            self._released = True
            self._on_release(self)

    async def release(self) -> None:
        self.release_nowait()

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release_nowait()

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<Lease {self.credential.label} {state}>"

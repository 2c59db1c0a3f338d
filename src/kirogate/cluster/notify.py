"""Change notices between processes, so they resync at once instead of at the next interval.

Notices are hints: a process that misses one (Redis down, reconnecting) still catches up
at its next periodic sync, and after a reconnect the listener asks for a full resync.
Messages on the channel are plain text:

    credentials changed <sender>
    state changed <sender> <id>[,<id>...]

A process ignores its own notices (``sender`` is a random id per notifier).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from kirogate.cluster.outage import OutageLog
from kirogate.cluster.redis_errors import redis_errors
from kirogate.tasks import spawn, stop_task

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

RECONNECT_MIN = 0.5
RECONNECT_MAX = 10.0


class NoticeKind(StrEnum):
    CREDENTIALS = "credentials changed"  # a credential was added or deleted
    STATE = "state changed"  # a credential's pool state changed (disable, cooldown, ...)


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    sender: str
    credential_ids: tuple[int, ...] = ()

    def encode(self) -> str:
        text = f"{self.kind.value} {self.sender}"
        if self.credential_ids:
            text += " " + ",".join(str(cid) for cid in self.credential_ids)
        return text


def parse_notice(text: str) -> Notice | None:
    """The notice in ``text``, or ``None`` when it is not one of ours."""
    for kind in NoticeKind:
        prefix = kind.value + " "
        if not text.startswith(prefix):
            continue
        sender, _, rest = text[len(prefix) :].partition(" ")
        if not sender:
            return None
        try:
            ids = tuple(int(part) for part in rest.split(",") if part) if rest else ()
        except ValueError:
            return None
        return Notice(kind, sender, ids)
    return None


NoticeHandler = Callable[[Notice], Awaitable[None]]


class Notifier(Protocol):
    async def start(self, handler: NoticeHandler) -> None:
        """Deliver other processes' notices to ``handler`` until :meth:`close`."""
        ...

    async def credentials_changed(self) -> None: ...

    async def state_changed(self, credential_ids: Sequence[int]) -> None: ...

    async def close(self) -> None: ...


class NullNotifier:
    """No other process to tell (SQLite, or PostgreSQL without Redis: syncs are periodic)."""

    async def start(self, handler: NoticeHandler) -> None:
        return None

    async def credentials_changed(self) -> None:
        return None

    async def state_changed(self, credential_ids: Sequence[int]) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisNotifier:
    """Redis publish/subscribe on one channel; reconnects quietly after failures."""

    def __init__(self, redis: Redis, *, channel: str = "kirogate:notices") -> None:
        self._errors = redis_errors()
        self._redis = redis
        self.channel = channel
        self.sender = secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._subscribed = asyncio.Event()
        self._outage = OutageLog(log, "Redis notices")

    async def start(self, handler: NoticeHandler) -> None:
        if self._task is None:
            self._task = spawn(self._listen(handler), name="redis notices")

    async def wait_subscribed(self) -> None:
        """Until the listener is subscribed (so a test does not miss the first notices)."""
        await self._subscribed.wait()

    async def credentials_changed(self) -> None:
        await self._publish(Notice(NoticeKind.CREDENTIALS, self.sender))

    async def state_changed(self, credential_ids: Sequence[int]) -> None:
        await self._publish(Notice(NoticeKind.STATE, self.sender, tuple(credential_ids)))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            await stop_task(task)

    async def _publish(self, notice: Notice) -> None:
        try:
            await self._redis.publish(self.channel, notice.encode())
        except self._errors as exc:
            # Others catch up at their next periodic sync.
            self._outage.failed("publishing a notice", exc)

    async def _listen(self, handler: NoticeHandler) -> None:
        delay = RECONNECT_MIN
        connected_before = False
        while not self._closing:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self._outage.succeeded()
                delay = RECONNECT_MIN
                if connected_before:
                    # Notices may have been missed while disconnected: resync everything.
                    await self._deliver(handler, Notice(NoticeKind.CREDENTIALS, ""))
                    await self._deliver(handler, Notice(NoticeKind.STATE, ""))
                connected_before = True
                while not self._closing:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    await self._receive(handler, message.get("data"))
            except self._errors as exc:
                self._subscribed.clear()
                self._outage.failed("listening for notices", exc)
            finally:
                with contextlib.suppress(*self._errors):  # the connection may be gone
                    await pubsub.aclose()
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)

    async def _receive(self, handler: NoticeHandler, data: object) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        notice = parse_notice(text)
        if notice is None:
            log.debug("ignoring a message on %s that is not a notice: %.80r", self.channel, text)
            return
        if notice.sender != self.sender:
            await self._deliver(handler, notice)

    @staticmethod
    async def _deliver(handler: NoticeHandler, notice: Notice) -> None:
        try:
            await handler(notice)
        except Exception as exc:  # a bad handler must not stop listening
            log.warning(
                "notice handler failed on %r: %s: %s", notice.kind.value, type(exc).__name__, exc
            )

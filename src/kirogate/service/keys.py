"""Client keys for people and teams: the operator's actions on them and the meter that
counts what each key uses against its limits.

:class:`KeyOperations` is a mixin of :class:`~kirogate.service.operations.Operations`: every
change is stored first, then the ``keys`` topic is bumped so every process forgets its cached
key records within a second. :class:`KeyMeter` holds the live counters (requests and tokens per
UTC day and month, answers in flight), in Redis when a cluster shares them, else in memory;
the database's ``key_usage`` rows (written behind) seed them when a key is first seen and feed
the listing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kirogate.caller import CALLER
from kirogate.cluster.ratelimit import Counters, MemoryCounters
from kirogate.errors import InvalidRequest, NotFound
from kirogate.events import EventBus
from kirogate.service.changes import ChangeFeed
from kirogate.store.access import display_prefix
from kirogate.store.keys import (
    CONFIGURED_KEY_ID,
    NO_LIMITS,
    KeyLimits,
    KeyRecord,
    KeyUsage,
    check_expiry,
    check_group,
    parse_limits,
)
from kirogate.tasks import spawn

if TYPE_CHECKING:
    from kirogate.store import Store

__all__ = [
    "CONFIGURED_KEY_ID",
    "METER",
    "NO_LIMITS",
    "KeyLimits",
    "KeyMeter",
    "KeyOperations",
    "KeyRecord",
    "KeyUsage",
    "ListedKey",
    "count_answer_usage",
    "display_prefix",
    "parse_limits",
    "seconds_to_next_day",
    "seconds_to_next_month",
]

log = logging.getLogger(__name__)

DAY_TTL = 2 * 86_400
MONTH_TTL = 32 * 86_400
INFLIGHT_TTL = 600  # an answer in flight is forgotten this long after a process died with it


def seconds_to_next_day(now: datetime) -> float:
    now = now.astimezone(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((tomorrow - now).total_seconds(), 1.0)


def seconds_to_next_month(now: datetime) -> float:
    now = now.astimezone(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return max((following - now).total_seconds(), 1.0)


_days: dict[tuple[int, int, int], tuple[str, str]] = {}


def _day_and_month(now: datetime) -> tuple[str, str]:
    """``now``'s day (``20261207``) and month (``202612``), as the counters' names use them:
    formatted once per day rather than twice per name (three names per request)."""
    when = (now.year, now.month, now.day)
    found = _days.get(when)
    if found is None:
        if len(_days) > 64:
            _days.clear()
        found = _days[when] = (now.strftime("%Y%m%d"), now.strftime("%Y%m"))
    return found


class KeyMeter:
    """Live per-key counters for the limits, shared by every process through ``counters``."""

    def __init__(
        self, counters: Callable[[], Counters | None], store: Callable[[], Store | None]
    ) -> None:
        self._counters = counters
        self._store = store
        self._memory = MemoryCounters()

    def counters(self) -> Counters:
        return self._counters() or self._memory

    def local(self) -> MemoryCounters | None:
        """The counters when they are this process's own (the ``*_now`` forms below count
        in them without an await), else None (Redis: the ``async`` forms)."""
        counters = self.counters()
        return counters if isinstance(counters, MemoryCounters) else None

    @staticmethod
    def _names(key_id: int, now: datetime) -> tuple[str, str, str]:
        day, month = _day_and_month(now)
        return f"key:{key_id}:req:{day}", f"key:{key_id}:tok:{day}", f"key:{key_id}:tokm:{month}"

    @staticmethod
    def _token_names(key_id: int, now: datetime) -> tuple[str, str]:
        day, month = _day_and_month(now)
        return f"key:{key_id}:tok:{day}", f"key:{key_id}:tokm:{month}"

    @staticmethod
    def _request_name(key_id: int, now: datetime) -> str:
        return f"key:{key_id}:req:{_day_and_month(now)[0]}"

    async def seed(self, key_id: int, usage: KeyUsage, now: datetime) -> None:
        """Raise the live counters to what the database counted (a restart, a Redis flush)."""
        requests, tokens, month = self._names(key_id, now)
        counters = self.counters()
        await counters.seed(requests, usage.requests_today, DAY_TTL)
        await counters.seed(tokens, usage.tokens_today, DAY_TTL)
        await counters.seed(month, usage.tokens_month, MONTH_TTL)

    async def take_request(self, key_id: int, limit: int, now: datetime) -> bool:
        """Count one request of the day unless ``limit`` is reached."""
        return await self.counters().take(self._request_name(key_id, now), limit, DAY_TTL)

    def take_request_now(
        self, local: MemoryCounters, key_id: int, limit: int, now: datetime
    ) -> bool:
        """:meth:`take_request` in the counters :meth:`local` answered."""
        return local.take_now(self._request_name(key_id, now), limit, DAY_TTL)

    async def tokens(self, key_id: int, now: datetime) -> tuple[int, int]:
        """(tokens today, tokens this month) counted so far."""
        today, this_month = await self.counters().get(list(self._token_names(key_id, now)))
        return today, this_month

    def tokens_now(self, local: MemoryCounters, key_id: int, now: datetime) -> tuple[int, int]:
        """:meth:`tokens` from the counters :meth:`local` answered."""
        today, this_month = local.get_now(list(self._token_names(key_id, now)))
        return today, this_month

    async def add_tokens(self, key_id: int, tokens: int, now: datetime) -> None:
        day, month = self._token_names(key_id, now)
        counters = self.counters()
        await counters.add(day, tokens, DAY_TTL)
        await counters.add(month, tokens, MONTH_TTL)

    async def acquire(self, key_id: int, limit: int) -> bool:
        return await self.counters().take(f"key:{key_id}:inflight", limit, INFLIGHT_TTL)

    def acquire_now(self, local: MemoryCounters, key_id: int, limit: int) -> bool:
        """:meth:`acquire` in the counters :meth:`local` answered."""
        return local.take_now(f"key:{key_id}:inflight", limit, INFLIGHT_TTL)

    async def release(self, key_id: int) -> None:
        await self.counters().add(f"key:{key_id}:inflight", -1, INFLIGHT_TTL)

    def release_soon(self, key_id: int) -> None:
        """End one of the key's answers in flight: at once in memory, in a task with Redis."""
        counters = self.counters()
        if isinstance(counters, MemoryCounters):
            counters.add_now(f"key:{key_id}:inflight", -1, INFLIGHT_TTL)
            return
        spawn(self.release(key_id), name="kirogate key release")

    def count_answer(self, key_id: int, input_tokens: int, output_tokens: int) -> None:
        """Count an ended answer's tokens: live at once (in memory) or in a task (Redis), and
        in the database behind."""
        tokens = max(0, input_tokens) + max(0, output_tokens)
        store = self._store()
        if store is not None:
            store.count_key_usage(key_id, input_tokens=input_tokens, output_tokens=output_tokens)
        if tokens <= 0:
            return
        now = datetime.now(UTC)
        counters = self.counters()
        if isinstance(counters, MemoryCounters):
            day, month = self._token_names(key_id, now)
            counters.add_now(day, tokens, DAY_TTL)
            counters.add_now(month, tokens, MONTH_TTL)
            return
        spawn(self.add_tokens(key_id, tokens, now), name="kirogate key token count")


# The meter of the gateway serving the current request (set with CALLER by the access check).
METER: ContextVar[KeyMeter | None] = ContextVar("kirogate_key_meter", default=None)


def count_answer_usage(input_tokens: int | None, output_tokens: int | None) -> None:
    """Count an ended answer's tokens for the key that asked, if a key did."""
    caller, meter = CALLER.get(), METER.get()
    if caller is None or meter is None:
        return
    key_id = caller.key_id if caller.key_id is not None else CONFIGURED_KEY_ID
    meter.count_answer(key_id, input_tokens or 0, output_tokens or 0)


@dataclass(frozen=True, slots=True)
class ListedKey:
    """A key as the listing shows it: its record (or the configured key) and its usage."""

    record: KeyRecord
    usage: KeyUsage
    configured: bool = False


class KeyOperations:
    """The operator's actions on client keys (a mixin of ``Operations``)."""

    changes: ChangeFeed
    events: EventBus

    _store: Callable[[], Store | None]  # set by Operations

    if TYPE_CHECKING:  # the credential groups' (service/groups.py), a sibling mixin

        async def group_exists(self, name: str) -> bool: ...

    def _keys(self) -> Store:
        """The store; without one (an embedded gateway) the key routes answer a 404 naming it."""
        store = self._store()
        if store is None:
            raise NotFound(
                "client keys are kept in the store and this gateway runs without one; "
                "only the configured --api-key key is in use"
            )
        return store

    async def create_key(
        self,
        name: Any,
        *,
        limits: Any = None,
        expires_at: Any = None,
        group: Any = None,
    ) -> tuple[KeyRecord, str]:
        """A new client key: its record and the plaintext, shown only this once."""
        parsed = parse_limits(limits)
        group = await self._known_group(check_group(group))
        record, plaintext = await self._keys().create_client_key(
            name, limits=parsed, expires_at=check_expiry(expires_at), group=group
        )
        log.info("API key %s (#%s) created", record.name, record.id)
        await self.changes.changed("keys")
        return record, plaintext

    async def _known_group(self, group: str | None) -> str | None:
        """``group`` when it names a credential group (a key bound to an unknown one would be
        served by nobody), else a 400 naming the field."""
        if group is not None and not await self.group_exists(group):
            raise InvalidRequest(
                f"group: no credential group {group!r} (create it at /api/admin/groups first)",
                param="group",
            )
        return group

    async def list_keys(self) -> list[ListedKey]:
        """Every stored key (revoked ones too) with its usage today and this month."""
        store = self._store()
        if store is None:
            return []
        records = await store.client_keys()
        usage = await store.key_usage()
        return [ListedKey(record, usage.get(record.id, KeyUsage())) for record in records]

    async def configured_key_usage(self) -> KeyUsage:
        store = self._store()
        if store is None:
            return KeyUsage()
        return (await store.key_usage(key_id=CONFIGURED_KEY_ID)).get(CONFIGURED_KEY_ID, KeyUsage())

    async def get_key(self, key_id: int) -> ListedKey:
        store = self._keys()
        record = await store.client_key(key_id)
        usage = await store.key_usage(key_id=key_id)
        return ListedKey(record, usage.get(key_id, KeyUsage()))

    async def update_key(self, key_id: int, changes: dict[str, Any]) -> KeyRecord:
        """Rename, change limits, enable/disable, set the expiry or the group of a key."""
        fields: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "limits":
                fields["limits"] = parse_limits(value)
            elif name == "enabled":
                if not isinstance(value, bool):
                    raise InvalidRequest("enabled: must be true or false", param="enabled")
                fields["disabled"] = not value
            elif name == "group":
                fields["group"] = await self._known_group(check_group(value))
            elif name in ("name", "disabled", "expires_at"):
                fields[name] = value
            else:
                raise InvalidRequest(f"{name}: not a field of a key", param=name)
        record = await self._keys().update_client_key(key_id, **fields)
        log.info("API key %s (#%s) changed: %s", record.name, key_id, ", ".join(sorted(fields)))
        await self.changes.changed("keys")
        return record

    async def revoke_key(self, key_id: int) -> None:
        store = self._keys()
        await store.client_key(key_id)  # a 404 for an unknown id
        await store.revoke_api_key(key_id)
        log.info("API key #%s revoked", key_id)
        await self.changes.changed("keys")

    async def regenerate_key(self, key_id: int) -> tuple[KeyRecord, str]:
        """A new secret for the key; the old one stops working on every process."""
        record, plaintext = await self._keys().regenerate_client_key(key_id)
        log.info("API key %s (#%s) regenerated", record.name, key_id)
        await self.changes.changed("keys")
        return record, plaintext

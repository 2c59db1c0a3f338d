"""Alerts: webhooks told about credential trouble and keys reaching a limit.

The :class:`Alerter` watches the gateway's event bus (``credential.state`` and
``pool.unusable`` published by the pool, ``key.limit`` by the key checks), turns each event
into at most one :class:`Alert`, drops it when the same alert for the same target was sent
within :data:`DEDUPE_WINDOW` (in this process, and across processes through Redis or, on
PostgreSQL without Redis, the store), and delivers it in the background to every enabled
webhook that subscribed to its type, retrying with backoff. Nothing here runs on a request's
path: the bus hands events over through a bounded queue (the oldest go when it is full), and
a receiver that hangs only delays its own deliveries.

No secret travels: an alert carries ids, emails, reasons and dates, and the details the pool
gives are redacted already. The webhook URL (which holds the receiver's token) is stored
encrypted and shown masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from kirogate.events import Event, EventBus, Subscription
from kirogate.log import redact
from kirogate.store.alerts import WebhookRecord
from kirogate.tasks import spawn, stop_task

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from kirogate.store import Store

log = logging.getLogger(__name__)

FORMATS = ("generic", "slack", "feishu", "dingtalk")
ALERT_TYPES = (
    "credential_disabled",  # invalid grant, suspended, too many failures
    "quota_exhausted",  # with the reset date
    "refresh_failing",  # token refreshes failing (cooling down or disabled for it)
    "all_unusable",  # no credential can serve a request
    "key_limit",  # a client key reached one of its limits
)
WATCHED_KINDS = ("credential.state", "pool.unusable", "key.limit")
DEDUPE_WINDOW = timedelta(minutes=10)
TRIES = 3
RETRY_DELAY = 1.0  # seconds before the 2nd try; doubled before each next one
SEND_TIMEOUT = 10.0
MAX_DELIVERIES = 50  # deliveries in flight; more are dropped with a warning
QUEUE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing to tell operators: its type, what it is about, and a sentence."""

    type: str
    target: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    @property
    def dedupe_key(self) -> str:
        return f"{self.type}:{self.target}"


def _who(data: dict[str, Any]) -> str:
    email = data.get("email")
    return f"credential #{data.get('id')}" + (f" ({email})" if email else "")


def alert_for(event: Event) -> Alert | None:
    """The alert an event calls for, if any (an operator's own disable raises none)."""
    data = event.data
    match event.kind:
        case "credential.state":
            return _credential_alert(data)
        case "pool.unusable":
            reason = data.get("reason") or "every credential is disabled or cooling down"
            text = f"kirogate: no credential can serve requests: {reason}"
            return Alert("all_unusable", "pool", redact(str(text)), {"total": data.get("total")})
        case "key.limit":
            key = data.get("key_id", data.get("id"))
            name = data.get("key_name") or data.get("name")
            limit = data.get("limit")
            who = f"key #{key}" + (f" ({name})" if name else "")
            text = f"kirogate: {who} reached its limit {limit}"
            safe = {k: v for k, v in data.items() if k in ("key_id", "key_name", "limit",
                                                            "value", "retry_after", "model")}  # fmt: skip
            return Alert("key_limit", f"{key}:{limit}", text, safe)
    return None


def _credential_alert(data: dict[str, Any]) -> Alert | None:
    state, reason = data.get("state"), data.get("reason")
    detail = data.get("detail")
    target = str(data.get("id"))
    base = {k: data.get(k) for k in ("id", "email", "state", "reason")}
    if state == "disabled" and reason != "manual":
        kind = "refresh_failing" if reason == "too_many_refresh_failures" else "credential_disabled"
        text = f"kirogate: {_who(data)} disabled ({reason})" + (f": {detail}" if detail else "")
        return Alert(kind, target, text, {**base, "detail": detail})
    if state != "cooling":
        return None
    until = data.get("until")
    match reason:
        case "quota_exceeded":
            text = f"kirogate: {_who(data)} has used its quota; it resets at {until}"
            return Alert("quota_exhausted", target, text, {**base, "reset_at": until})
        case "suspended":
            text = f"kirogate: {_who(data)} is suspended by the upstream; resting until {until}"
            return Alert("credential_disabled", target, text, {**base, "until": until})
        case "refresh_failed":
            text = f"kirogate: {_who(data)} cannot refresh its token; retrying after {until}"
            return Alert("refresh_failing", target, text, {**base, "until": until})
    return None


def webhook_payload(format: str, alert: Alert) -> dict[str, Any]:
    """The body for ``format``: a generic JSON object, or the Slack / Feishu / DingTalk text."""
    match format:
        case "slack":
            return {"text": alert.text}
        case "feishu":
            return {"msg_type": "text", "content": {"text": alert.text}}
        case "dingtalk":
            return {"msgtype": "text", "text": {"content": alert.text}}
    at = datetime.fromtimestamp(alert.at, UTC).isoformat()
    return {
        "source": "kirogate",
        "event": alert.type,
        "target": alert.target,
        "text": alert.text,
        "at": at,
        "data": alert.data,
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one send went: ``ok`` after ``tries`` tries, the last HTTP status or error."""

    ok: bool
    tries: int
    status: int | None = None
    error: str | None = None

    def to_public(self) -> dict[str, Any]:
        return {"delivered": self.ok, "tries": self.tries, "status": self.status,
                "error": self.error}  # fmt: skip


def _refused(body: bytes) -> str | None:
    """Feishu and DingTalk answer 200 with an error code in the body."""
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            for name in ("code", "errcode", "StatusCode"):
                code = parsed.get(name)
                if isinstance(code, int) and code != 0:
                    message = (
                        parsed.get("msg") or parsed.get("errmsg") or parsed.get("StatusMessage")
                    )
                    return f"{name} {code}: {str(message)[:200]}"
    return None


# ---------------------------------------------------------------- the alerter


class Alerter:
    """Watches the bus and delivers alerts to the webhooks (see the module docstring)."""

    def __init__(
        self,
        webhooks: Callable[[], Any],
        *,
        redis: Redis | None = None,
        redis_prefix: str = "kirogate:",
        store: Store | None = None,
        window: timedelta = DEDUPE_WINDOW,
        tries: int = TRIES,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        self._load = webhooks
        self._redis = redis
        self._prefix = redis_prefix + "alert:"
        self._store = store  # shares the dedupe window when several processes use it
        self.window = window
        self.tries = tries
        self.retry_delay = retry_delay
        self._hooks: list[WebhookRecord] = []
        self._sent: dict[str, float] = {}
        self._bus: EventBus | None = None
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[Delivery]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.dropped = 0

    async def start(self, bus: EventBus) -> None:
        """Watch ``bus`` while some webhook is enabled (nobody watching costs the pool nothing)."""
        self._bus = bus
        await self.reload()

    async def reload(self) -> None:
        """Take the stored webhooks (a change through any process)."""
        try:
            self._hooks = list(await self._load())
        except Exception as exc:  # keep the last ones; the next change retries
            log.warning("alerts: cannot load the webhooks: %s", exc)
        self._watch(any(hook.enabled and hook.events for hook in self._hooks))

    def _watch(self, wanted: bool) -> None:
        if wanted and self._subscription is None and self._bus is not None:
            self._subscription = self._bus.subscribe(WATCHED_KINDS, limit=QUEUE_LIMIT)
            self._task = spawn(self._run(self._subscription), name="kirogate alerts")
        elif not wanted and self._subscription is not None:
            self._subscription.close()
            self._subscription = None
            task, self._task = self._task, None
            if task is not None:
                task.cancel()

    async def close(self) -> None:
        self._bus = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if self._task is not None:
            await stop_task(self._task)
        for task in list(self._deliveries):
            await stop_task(task)
        if self._session is not None:
            await self._session.close()

    async def _run(self, subscription: Subscription) -> None:
        async for event in subscription:
            alert = alert_for(event)
            if alert is None:
                continue
            try:
                await self.dispatch(alert)
            except Exception:
                log.exception("alerts: dispatching %s failed", alert.type)

    async def dispatch(self, alert: Alert) -> int:
        """Send ``alert`` to its subscribers unless sent within the window; how many."""
        hooks = [h for h in self._hooks if h.enabled and alert.type in h.events]
        if not hooks or not await self._claim(alert.dedupe_key):
            return 0
        for hook in hooks:
            if len(self._deliveries) >= MAX_DELIVERIES:
                self.dropped += 1
                log.warning("alerts: too many deliveries in flight; %s to #%s dropped",
                            alert.type, hook.id)  # fmt: skip
                continue
            task = spawn(self.deliver(hook, alert), name=f"kirogate alert to #{hook.id}")
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return len(hooks)

    async def settle(self) -> None:
        """Wait for the deliveries in flight (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _claim(self, key: str) -> bool:
        now = time.monotonic()
        seconds = self.window.total_seconds()
        if self._sent.get(key, 0.0) > now:
            return False
        self._sent = {k: until for k, until in self._sent.items() if until > now}
        self._sent[key] = now + seconds
        if self._redis is not None:
            try:
                claimed = await self._redis.set(
                    self._prefix + key, "1", nx=True, px=max(1, int(seconds * 1000))
                )
                return bool(claimed)
            except Exception as exc:  # Redis away: this process's window still holds
                log.warning("alerts: dedupe through Redis failed: %s", exc)
                return True
        if self._store is not None:
            try:
                return await self._store.claim_alert(key, self.window)
            except Exception as exc:
                log.warning("alerts: dedupe through the store failed: %s", exc)
        return True

    async def deliver(
        self, hook: WebhookRecord, alert: Alert, *, tries: int | None = None
    ) -> Delivery:
        """POST the alert to ``hook``, retrying a failure with backoff; never raises."""
        body = webhook_payload(hook.format, alert)
        total = tries or self.tries
        delay = self.retry_delay
        result = Delivery(False, 0)
        for attempt in range(1, total + 1):
            result = await self._send_once(hook, body, attempt)
            if result.ok:
                return result
            if attempt < total:
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("alerts: %s to webhook #%s (%s) failed after %d tries: %s",
                    alert.type, hook.id, hook.name, result.tries,
                    result.error or result.status)  # fmt: skip
        return result

    async def _send_once(self, hook: WebhookRecord, body: dict[str, Any], attempt: int) -> Delivery:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT))
        try:
            async with self._session.post(hook.url, json=body) as response:
                raw = await response.read()
                if response.status >= 300:
                    return Delivery(False, attempt, response.status, f"HTTP {response.status}")
                refused = _refused(raw)
                if refused is not None:
                    return Delivery(False, attempt, response.status, redact(refused))
                return Delivery(True, attempt, response.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # The message may name the URL (and its token): only the class goes out.
            return Delivery(False, attempt, None, type(exc).__name__)

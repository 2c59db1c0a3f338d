"""The proxy pool: which outbound proxy a credential's upstream calls go through.

A :class:`ProxyPool` holds proxy entries and a strategy:

* ``assigned`` - a credential assigned to a proxy (by :meth:`ProxyPool.assign` or its own
  ``proxy_id``) uses it; every other credential takes the default route;
* ``round_robin`` - each call takes the next proxy in list order;
* ``random`` - each call takes a uniformly random proxy;
* ``least_used`` - each call takes the proxy picked the fewest times so far (then lowest id);
* ``sticky`` - each credential keeps one proxy (first picked by a stable hash of its id)
  until that proxy fails, then moves to another one and keeps that.

Precedence for every strategy: the credential's own ``proxy_url`` (including the literal
``direct``) wins, then an explicit assignment, then the strategy. Rotation skips proxies that
are disabled or cooling down after :meth:`ProxyPool.report_failure`; when every proxy is
cooling, the one that comes back first is used rather than silently going direct.

:meth:`ProxyPool.proxy_for` answers a URL (with any user and password in it), the literal
``"direct"`` (never use a proxy), or ``None`` (no opinion: the default route, i.e. the global
proxy if one is configured, else direct). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from kirogate.errors import InvalidRequest, NotFound
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

DIRECT: Final = "direct"
SCHEMES: Final = frozenset({"http", "https", "socks5", "socks5h"})


class ProxyStrategy(StrEnum):
    ASSIGNED = "assigned"
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    LEAST_USED = "least_used"
    STICKY = "sticky"

    @classmethod
    def parse(cls, value: str | ProxyStrategy) -> ProxyStrategy:
        """The strategy named by ``value``; :class:`InvalidRequest` lists the choices."""
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            choices = ", ".join(strategy.value for strategy in cls)
            raise InvalidRequest(
                f"unknown proxy strategy {value!r}: choose one of {choices}", param="strategy"
            ) from None


def mask_proxy_url(url: str) -> str:
    """``scheme://***@host:port``: the URL without its user and password, for messages."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "<proxy url without scheme>"
    userinfo, at, hostport = rest.partition("@")
    if not at:
        hostport = userinfo
    hostport = hostport.split("/", 1)[0]
    return f"{scheme.lower()}://{'***@' if at else ''}{hostport}"


def _with_auth(url: str, username: str, password: str) -> str:
    """``url`` with its user and password replaced (percent-encoded)."""
    scheme, _, rest = url.strip().partition("://")
    hostport = rest.rpartition("@")[2]
    return f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{hostport}"


@dataclass(frozen=True, slots=True)
class ProxyEntry:
    """One proxy. ``url`` may carry ``user:pass@``; separate ``username`` and ``password``
    replace them when both are set. Construction checks the URL (:class:`InvalidRequest`)."""

    id: int
    url: str = field(repr=False)
    label: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    disabled: bool = False

    def __post_init__(self) -> None:
        shown = mask_proxy_url(self.url)
        try:
            parts = urlsplit(self.url.strip())
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise InvalidRequest(f"proxy {shown}: not a valid URL", param="url") from exc
        if parts.scheme.lower() not in SCHEMES:
            raise InvalidRequest(
                f"proxy {shown}: unsupported scheme {parts.scheme!r} "
                "(use http, https, socks5 or socks5h)",
                param="url",
            )
        if not parts.hostname:
            raise InvalidRequest(f"proxy {shown}: no host", param="url")

    @classmethod
    def from_line(cls, proxy_id: int, line: str) -> ProxyEntry:
        """Parse kiro.rs's batch format: ``url [username password [label...]]``."""
        parts = line.split()
        if not parts:
            raise InvalidRequest("empty proxy line", param="url")
        username = parts[1] if len(parts) > 1 else None
        password = parts[2] if len(parts) > 2 else None
        label = " ".join(parts[3:]) or None
        return cls(proxy_id, parts[0], label=label, username=username, password=password)

    def proxy_url(self) -> str:
        """The URL to connect through, credentials included (never log it)."""
        if self.username and self.password:
            return _with_auth(self.url, self.username, self.password)
        return self.url.strip()

    def describe(self) -> str:
        """A label safe for logs: ``#id label (scheme://***@host:port)``."""
        name = f"#{self.id} {self.label}" if self.label else f"#{self.id}"
        return f"{name} ({mask_proxy_url(self.proxy_url())})"

    def to_public(self) -> dict[str, Any]:
        split = urlsplit(self.proxy_url())
        return {
            "id": self.id,
            "url": mask_proxy_url(self.url),
            "label": self.label,
            "hasAuth": bool(split.username or split.password),
            "disabled": self.disabled,
        }

    def __repr__(self) -> str:
        return f"ProxyEntry({self.describe()}, disabled={self.disabled})"


def _normalise(url: str) -> str:
    """Compare proxy URLs by scheme, decoded credentials, host and port."""
    parts = urlsplit(url.strip())
    user = unquote(parts.username or "")
    secret = unquote(parts.password or "")
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme.lower()}://{user}:{secret}@{(parts.hostname or '').lower()}:{port}"


def _stable_hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


class ProxyPool:
    """Proxy entries, their cooldowns, explicit assignments and the rotation strategy."""

    def __init__(
        self,
        entries: Iterable[ProxyEntry] = (),
        *,
        strategy: ProxyStrategy | str = ProxyStrategy.ASSIGNED,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        strategy_of: Callable[[], str] | None = None,
    ) -> None:
        """``strategy_of``, when given, is asked at every pick (a runtime setting) and wins
        over ``strategy``; an unknown answer keeps the strategy in force (logged once)."""
        if cooldown <= 0 or max_cooldown < cooldown:
            raise InvalidRequest(
                f"proxy cooldown {cooldown}s / max {max_cooldown}s: need 0 < cooldown <= max"
            )
        self._strategy = ProxyStrategy.parse(strategy)
        self._cooldown = cooldown
        self._max_cooldown = max_cooldown
        self._clock = clock
        self._rng = rng or random.Random()
        self._entries: dict[int, ProxyEntry] = {}
        self._assigned: dict[int, int] = {}  # credential id -> proxy id
        self._sticky: dict[str, int] = {}  # credential key -> proxy id
        self._cooling: dict[int, float] = {}  # proxy id -> monotonic time it is usable again
        self._failures: dict[int, int] = {}  # proxy id -> consecutive failures
        self._cursor = -1  # round robin: the proxy id picked last
        self._uses: dict[int, int] = {}  # proxy id -> picks (least_used, the admin view)
        self._strategy_of = strategy_of
        self._strategy_text: str | None = None
        self.replace(entries)

    # ------------------------------------------------------------ configuration

    @property
    def strategy(self) -> ProxyStrategy:
        self._follow_setting()
        return self._strategy

    def _follow_setting(self) -> None:
        if self._strategy_of is None:
            return
        text = self._strategy_of()
        if text == self._strategy_text:
            return
        self._strategy_text = text
        try:
            self.set_strategy(text)
        except InvalidRequest:
            log.warning("proxy strategy %r unknown; keeping %s", text, self._strategy)

    def set_strategy(self, strategy: ProxyStrategy | str) -> None:
        """Switch strategy for the next call; :class:`InvalidRequest` if unknown."""
        parsed = ProxyStrategy.parse(strategy)
        if parsed is not self._strategy:
            log.info("proxy strategy %s -> %s", self._strategy, parsed)
            self._strategy = parsed

    def entries(self) -> list[ProxyEntry]:
        return list(self._entries.values())

    def get(self, proxy_id: int) -> ProxyEntry:
        try:
            return self._entries[proxy_id]
        except KeyError:
            raise NotFound(f"no proxy #{proxy_id}") from None

    def add(self, entry: ProxyEntry) -> ProxyEntry:
        """Add a proxy; :class:`InvalidRequest` if its id is taken."""
        if entry.id in self._entries:
            raise InvalidRequest(f"proxy #{entry.id} already exists", param="id")
        self._entries[entry.id] = entry
        return entry

    def next_id(self) -> int:
        return max(self._entries, default=0) + 1

    def remove(self, proxy_id: int) -> ProxyEntry:
        """Remove a proxy and every assignment to it; :class:`NotFound` if unknown."""
        entry = self.get(proxy_id)
        del self._entries[proxy_id]
        self._forget(proxy_id)
        self._assigned = {cid: pid for cid, pid in self._assigned.items() if pid != proxy_id}
        return entry

    def replace(self, entries: Iterable[ProxyEntry]) -> None:
        """Swap in a new list; state (cooldowns, assignments) survives for ids kept."""
        fresh: dict[int, ProxyEntry] = {}
        for entry in entries:
            if entry.id in fresh:
                raise InvalidRequest(f"proxy #{entry.id} listed twice", param="id")
            fresh[entry.id] = entry
        for gone in set(self._entries) - set(fresh):
            self._forget(gone)
        self._entries = fresh
        self._assigned = {cid: pid for cid, pid in self._assigned.items() if pid in fresh}

    def assign(self, credential_id: int, proxy_id: int | None) -> None:
        """Pin a credential to a proxy (``None`` unpins); :class:`NotFound` if unknown."""
        if proxy_id is None:
            self._assigned.pop(credential_id, None)
            return
        self.get(proxy_id)
        self._assigned[credential_id] = proxy_id

    def assignment(self, credential_id: int) -> int | None:
        return self._assigned.get(credential_id)

    def _forget(self, proxy_id: int) -> None:
        self._uses.pop(proxy_id, None)
        self._cooling.pop(proxy_id, None)
        self._failures.pop(proxy_id, None)
        self._sticky = {key: pid for key, pid in self._sticky.items() if pid != proxy_id}

    # ------------------------------------------------------------ selection

    def proxy_for(self, credential: Credential) -> str | None:
        """The proxy URL for ``credential``'s next call, ``"direct"``, or ``None`` (default)."""
        own = (credential.proxy_url or "").strip()
        if own:
            if own.lower() == DIRECT:
                return DIRECT
            if credential.proxy_username and credential.proxy_password:
                return _with_auth(own, credential.proxy_username, credential.proxy_password)
            return own
        pinned = self._pinned(credential)
        if pinned is not None:
            self._count(pinned)
            return pinned.proxy_url()
        self._follow_setting()
        match self._strategy:
            case ProxyStrategy.ASSIGNED:
                return None
            case ProxyStrategy.ROUND_ROBIN:
                chosen = self._round_robin()
            case ProxyStrategy.RANDOM:
                ready = self._ready()
                chosen = self._rng.choice(ready) if ready else None
            case ProxyStrategy.LEAST_USED:
                ready = self._ready()
                chosen = (
                    min(ready, key=lambda entry: (self._uses.get(entry.id, 0), entry.id))
                    if ready
                    else None
                )
            case ProxyStrategy.STICKY:
                chosen = self._stuck(credential)
        if chosen is None:
            return None
        self._count(chosen)
        return chosen.proxy_url()

    def _count(self, entry: ProxyEntry) -> None:
        self._uses[entry.id] = self._uses.get(entry.id, 0) + 1

    def uses(self, proxy_id: int) -> int:
        """How many calls were routed through the proxy by this process."""
        return self._uses.get(proxy_id, 0)

    def _pinned(self, credential: Credential) -> ProxyEntry | None:
        proxy_id: object = None
        if credential.id is not None:
            proxy_id = self._assigned.get(credential.id)
        if proxy_id is None:
            # The store keeps an assignment on the credential row; the field may not exist yet.
            proxy_id = getattr(credential, "proxy_id", None) or credential.extra.get("proxyId")
        if isinstance(proxy_id, bool) or not isinstance(proxy_id, int):
            return None
        entry = self._entries.get(proxy_id)
        return entry if entry is not None and not entry.disabled else None

    def _ready(self) -> list[ProxyEntry]:
        """Enabled proxies not cooling down; if all are cooling, the one back soonest."""
        now = self._clock()
        enabled = [entry for entry in self._entries.values() if not entry.disabled]
        ready = [entry for entry in enabled if self._cooling.get(entry.id, 0.0) <= now]
        if ready or not enabled:
            return ready
        return [min(enabled, key=lambda entry: self._cooling.get(entry.id, 0.0))]

    def _round_robin(self) -> ProxyEntry | None:
        ready = self._ready()
        if not ready:
            return None
        later = [entry for entry in ready if entry.id > self._cursor]
        chosen = min(later or ready, key=lambda entry: entry.id)
        self._cursor = chosen.id
        return chosen

    def _stuck(self, credential: Credential) -> ProxyEntry | None:
        key = str(credential.id) if credential.id is not None else credential.fingerprint()
        ready = self._ready()
        current = self._sticky.get(key)
        for entry in ready:
            if entry.id == current:
                return entry
        if not ready:
            return None
        chosen = sorted(ready, key=lambda entry: entry.id)[_stable_hash(key) % len(ready)]
        self._sticky[key] = chosen.id
        return chosen

    # ------------------------------------------------------------ health

    def _find(self, proxy_url: str) -> ProxyEntry | None:
        wanted = _normalise(proxy_url)
        for entry in self._entries.values():
            if _normalise(entry.proxy_url()) == wanted or _normalise(entry.url) == wanted:
                return entry
        return None

    def report_failure(self, proxy_url: str) -> bool:
        """Rest the proxy behind ``proxy_url``: ``cooldown`` doubled per failure in a row,
        up to ``max_cooldown``. Sticky credentials on it move on. False if it is not ours."""
        entry = self._find(proxy_url)
        if entry is None:
            return False
        failures = self._failures.get(entry.id, 0) + 1
        self._failures[entry.id] = failures
        rest = min(self._cooldown * 2 ** min(failures - 1, 30), self._max_cooldown)
        self._cooling[entry.id] = self._clock() + rest
        self._sticky = {key: pid for key, pid in self._sticky.items() if pid != entry.id}
        log.warning(
            "proxy %s failed (%d in a row); resting %.0fs", entry.describe(), failures, rest
        )
        return True

    def report_success(self, proxy_url: str) -> None:
        """Forget the proxy's failure streak (its cooldown, if any, still runs out)."""
        entry = self._find(proxy_url)
        if entry is not None:
            self._failures.pop(entry.id, None)

    def cooling(self) -> dict[int, float]:
        """Seconds left per proxy id that is cooling down."""
        now = self._clock()
        return {pid: until - now for pid, until in self._cooling.items() if until > now}

    def snapshot(self) -> list[dict[str, Any]]:
        """Every proxy as :meth:`ProxyEntry.to_public` plus its health, for the admin API."""
        cooling = self.cooling()
        out = []
        for entry in self._entries.values():
            public = entry.to_public()
            public["coolingFor"] = round(cooling[entry.id], 1) if entry.id in cooling else None
            public["failures"] = self._failures.get(entry.id, 0)
            public["uses"] = self._uses.get(entry.id, 0)
            public["assignedTo"] = sorted(
                cid for cid, pid in self._assigned.items() if pid == entry.id
            )
            out.append(public)
        return out

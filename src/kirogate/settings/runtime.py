"""The settings an operator may change while the gateway runs (``/api/admin/settings``).

:data:`RUNTIME` names them, one line each: the key, then a one-line description (empty: the
registry's ``help``). Keys absent from the registry are skipped, so a line may name a setting
another branch adds. A runtime value is parsed by the same :class:`~kirogate.settings.kinds.Kind`
as a file or env value, and is laid over the configured settings by :func:`with_runtime`
(origin ``runtime``), whatever the flags, env or file said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kirogate.errors import ConfigError
from kirogate.settings.kinds import (
    AliasTable,
    Boolean,
    ByteSize,
    Choice,
    Integer,
    Kind,
    NameList,
    Ratio,
    Seconds,
    Url,
)
from kirogate.settings.model import Origin, Settings
from kirogate.settings.registry import BY_KEY, Spec

RUNTIME_ORIGIN = Origin("runtime", "(admin API)")

# key -> one-line description ("" = the registry's help).
RUNTIME: dict[str, str] = {
    # pool: selection, retry budgets, cooldowns
    "pool.mode": "how the pool picks a credential for a request without a session binding",
    "pool.max_attempts": "upstream attempts per request, over every credential",
    "pool.attempts_per_credential": "attempts on one credential before failing over",
    "pool.failure_threshold": "failures in a row before a credential is disabled; 0 = never",
    "pool.cooldown_429": "seconds a credential rests after its first 429 (doubles per 429)",
    "pool.cooldown_429_max": "the longest rest after 429s (also caps a Retry-After hint)",
    "pool.suspended_cooldown": "seconds a temporarily suspended credential rests",
    "pool.max_concurrency_per_credential": "requests in flight per credential; 0 = unlimited",
    "pool.queue_timeout": "seconds a request waits for a free credential when all are busy",
    # upstream
    "upstream.proxy_url": "the global proxy for upstream calls ('direct' = none)",
    "upstream.first_token_timeout": "seconds to wait for the upstream's first event",
    "upstream.stream_idle_timeout": "seconds without an event before a stream is ended",
    # models
    "models.aliases": "",
    "models.overrides": "",
    "models.hidden": "",
    "models.fallback": "",
    "models.forced": "",
    # compression
    "compression.enabled": "summarise older turns once a conversation is large",
    "compression.max_tokens": "compress when the estimated input passes this many tokens",
    "compression.max_messages": "... or has more than this many messages; 0 = no limit",
    "compression.keep_last": "recent turns kept verbatim after the summary",
    "compression.summary_max_tokens": "the most tokens asked of the upstream for a summary",
    # console
    "console.announcement": "",
    # added by the other operator-API branches
    "log.retention_days": "",
    "log.bodies": "",
    "server.ip_rate_limit": "",
    "proxy.strategy": "",
}


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """A runtime setting: its registry spec, group and description."""

    spec: Spec
    description: str

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def group(self) -> str:
        return self.spec.key.split(".", 1)[0]


def runtime_specs() -> tuple[RuntimeSpec, ...]:
    """Every runtime setting this build knows, in :data:`RUNTIME`'s order."""
    return tuple(
        RuntimeSpec(BY_KEY[key], description or BY_KEY[key].help)
        for key, description in RUNTIME.items()
        if key in BY_KEY
    )


def is_runtime(key: str) -> bool:
    return key in RUNTIME and key in BY_KEY


def parse_runtime(key: str, value: object) -> Any:
    """``value`` (JSON) for runtime setting ``key``; :class:`ValueError` says why not."""
    return BY_KEY[key].kind.parse(value, text=False)


def value_of(settings: Settings, key: str) -> Any:
    node: Any = settings
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _replaced(node: Any, parts: list[str], value: Any) -> Any:
    head, *rest = parts
    if not rest:
        return replace(node, **{head: value})
    return replace(node, **{head: _replaced(getattr(node, head), rest, value)})


def with_runtime(configured: Settings, values: Mapping[str, Any]) -> Settings:
    """``configured`` with the runtime ``values`` (parsed) laid over it, origins included.

    Raises :class:`ConfigError` when the values break a rule spanning several settings.
    """
    settings = configured
    for key, value in values.items():
        settings = _replaced(settings, key.split("."), value)
    origins = dict(configured.origins)
    origins.update(dict.fromkeys(values, RUNTIME_ORIGIN))
    return replace(settings, origins=origins)


def origin_of(settings: Settings, key: str) -> Origin:
    return settings.origins.get(key) or Origin("default")


def json_value(value: Any) -> Any:
    """A parsed value as JSON: tables as objects, tuples as lists, enums by value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(name): json_value(target) for name, target in value}
        return [json_value(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in fields(value)}
    return value


def spec_json(spec: Spec, value: Any) -> Any:
    """``value`` of ``spec`` as JSON its kind parses back (an empty table is ``{}``)."""
    if isinstance(spec.kind, AliasTable) and isinstance(value, tuple):
        return {str(name): str(target) for name, target in value}
    return json_value(value)


def shown_value(spec: Spec, value: Any) -> Any:
    """:func:`spec_json` with a URL's password masked (``spec.secret``), never whole."""
    shown = spec_json(spec, value)
    if spec.secret == "key" and shown is not None:
        return "***"
    if spec.secret == "url" and isinstance(shown, str):
        return mask_url(shown)
    return shown


def mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    if not parts.password:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def describe_kind(kind: Kind) -> dict[str, Any]:
    """What the console needs to draw a field: ``type`` and, where they apply, ``choices``,
    ``minimum``, ``maximum``, plus ``allowed`` (the text the 400s use)."""
    out: dict[str, Any] = {"allowed": kind.allowed}
    match kind:
        case Boolean():
            out["type"] = "boolean"
        case Choice():
            out["type"] = "choice"
            out["choices"] = list(kind.choices)
        case Integer():
            out["type"] = "integer"
            if kind.minimum is not None:
                out["minimum"] = kind.minimum
            if kind.maximum is not None:
                out["maximum"] = kind.maximum
        case Seconds():
            out["type"] = "seconds"
            out["minimum"] = kind.minimum
            if kind.positive:
                out["exclusive_minimum"] = 0
        case Ratio():
            out["type"] = "number"
            out["minimum"], out["maximum"] = 0, 1
        case ByteSize():
            out["type"] = "bytes"
            out["minimum"] = kind.minimum
        case AliasTable():
            out["type"] = "table"
        case NameList():
            out["type"] = "list"
        case Url():
            out["type"] = "url"
            if kind.passthrough:
                out["also"] = list(kind.passthrough)
        case _:
            out["type"] = "text"
    return out


def check_runtime_key(key: str) -> RuntimeSpec:
    """The runtime spec of ``key``; :class:`ConfigError` naming the changeable keys otherwise."""
    for runtime in runtime_specs():
        if runtime.key == key:
            return runtime
    known = ", ".join(r.key for r in runtime_specs())
    if key in BY_KEY:
        raise ConfigError(f"setting {key!r} cannot be changed at runtime; these can: {known}")
    raise ConfigError(f"unknown setting {key!r}; these can be changed at runtime: {known}")

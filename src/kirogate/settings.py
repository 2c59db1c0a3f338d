"""Typed, frozen settings, built once from flags, environment and defaults, then passed down.

Names line up everywhere: the field ``upstream.url`` is the flag ``--upstream-url`` and the
env var ``KIROGATE_UPSTREAM_URL``. Precedence: flag > env > config file > default. Nothing
reads ``os.environ`` at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kirogate.errors import ConfigError

DEFAULT_PORT = 8990
DEFAULT_KIRO_VERSION = "0.11.107"
DEFAULT_NODE_VERSION = "22.22.0"
KIRO_IDE_TOKEN_FILE = Path("~/.aws/sso/cache/kiro-auth-token.json")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_keys: tuple[str, ...] = ()
    admin_key: str | None = None
    # Requests per minute per client key, shared across processes when Redis is set; 0 = off.
    rate_limit_rpm: int = 0


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    # One base URL for every upstream call (data plane, auth, OIDC, management); for the
    # emulator, tests, the demo and benchmarks. Unset: the real hosts of the spec.
    url: str | None = None
    # "runtime" (runtime.{region}.kiro.dev, needs a profileArn) or "q" (q.{region}.amazonaws.com).
    host_style: str = "runtime"
    region: str = "us-east-1"
    auth_region: str | None = None
    api_region: str | None = None
    kiro_version: str = DEFAULT_KIRO_VERSION
    node_version: str = DEFAULT_NODE_VERSION
    system_version: str | None = None
    machine_id: str | None = None
    proxy_url: str | None = None
    connect_timeout: float = 10.0
    # No first event within this many seconds: the attempt is retried (nothing was sent yet).
    first_token_timeout: float = 90.0
    # No event for this long mid-stream: the stream ends with an error event.
    stream_idle_timeout: float = 300.0
    # Refresh an access token this many seconds before it expires (kiro.rs: 10 minutes).
    refresh_skew: float = 600.0
    pool_connections: int = 100


@dataclass(frozen=True, slots=True)
class CompressionSettings:
    """claude-api's context compression: summarise older turns once a conversation is large."""

    enabled: bool = False
    # Compress when the estimated input passes this many tokens ...
    max_tokens: int = 120_000
    # ... or when the conversation has more than this many messages (0 = no message limit).
    max_messages: int = 0
    # The most recent turns kept verbatim after the summary.
    keep_last: int = 6
    # Upper bound asked of the upstream for the summary itself.
    summary_max_tokens: int = 2_000


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    data_dir: Path = Path("~/.kirogate")
    credentials_files: tuple[Path, ...] = ()
    kiro_files: tuple[Path, ...] = ()
    log_level: str = "info"
    log_format: str = "text"  # "text" or "json"
    log_file: Path | None = None
    # SQLAlchemy async URL; unset: SQLite file kirogate.db in the data directory.
    database_url: str | None = None
    # redis://...; shared locks, rate limits and change notices for several processes.
    redis_url: str | None = None
    # Key that encrypts credential secrets at rest; unset: data_dir/secret.key (0600).
    secret_key: str | None = field(default=None, repr=False)
    workers: int = 1
    compression: CompressionSettings = field(default_factory=CompressionSettings)

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser()


# env var -> (section, field, converter)
_ENV: dict[str, tuple[str | None, str, str]] = {
    "KIROGATE_HOST": ("server", "host", "str"),
    "KIROGATE_PORT": ("server", "port", "int"),
    "KIROGATE_API_KEY": ("server", "api_keys", "list"),
    "KIROGATE_ADMIN_KEY": ("server", "admin_key", "str"),
    "KIROGATE_UPSTREAM_URL": ("upstream", "url", "str"),
    "KIROGATE_UPSTREAM_HOST": ("upstream", "host_style", "str"),
    "KIROGATE_REGION": ("upstream", "region", "str"),
    "KIROGATE_PROXY_URL": ("upstream", "proxy_url", "str"),
    "KIROGATE_FIRST_TOKEN_TIMEOUT": ("upstream", "first_token_timeout", "float"),
    "KIROGATE_STREAM_IDLE_TIMEOUT": ("upstream", "stream_idle_timeout", "float"),
    "KIROGATE_DATA_DIR": (None, "data_dir", "path"),
    "KIROGATE_CREDENTIALS": (None, "credentials_files", "paths"),
    "KIROGATE_KIRO_FILE": (None, "kiro_files", "paths"),
    "KIROGATE_LOG_LEVEL": (None, "log_level", "str"),
    "KIROGATE_LOG_FORMAT": (None, "log_format", "str"),
    "KIROGATE_DATABASE_URL": (None, "database_url", "str"),
    "KIROGATE_REDIS_URL": (None, "redis_url", "str"),
    "KIROGATE_SECRET_KEY": (None, "secret_key", "str"),
    "KIROGATE_RATE_LIMIT_RPM": ("server", "rate_limit_rpm", "int"),
}


def _convert(name: str, raw: Any, kind: str) -> Any:
    try:
        match kind:
            case "int":
                return int(raw)
            case "float":
                return float(raw)
            case "path":
                return Path(raw)
            case "paths":
                items = raw.split(os.pathsep) if isinstance(raw, str) else raw
                return tuple(Path(item) for item in items if str(item))
            case "list":
                items = raw.split(",") if isinstance(raw, str) else raw
                return tuple(str(item).strip() for item in items if str(item).strip())
            case _:
                return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot use {raw!r} ({kind} expected)") from exc


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from ``environ`` then ``overrides`` (``"section.field"`` or ``"field"``)."""
    environ = environ if environ is not None else {}
    values: dict[str, dict[str, Any]] = {"server": {}, "upstream": {}, "": {}}
    for env_name, (section, name, kind) in _ENV.items():
        raw = environ.get(env_name)
        if raw not in (None, ""):
            values[section or ""][name] = _convert(env_name, raw, kind)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, name = key.rpartition(".")
        if section not in values:
            raise ConfigError(f"unknown setting {key!r}")
        values[section][name] = value
    try:
        server = replace(ServerSettings(), **values["server"])
        upstream = replace(UpstreamSettings(), **values["upstream"])
        top = {f.name for f in fields(Settings)}
        unknown = set(values[""]) - top
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings = Settings(server=server, upstream=upstream, **values[""])
    except TypeError as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc
    if settings.upstream.host_style not in ("runtime", "q"):
        raise ConfigError(
            f"upstream host {settings.upstream.host_style!r}: choose 'runtime' or 'q'"
        )
    return settings

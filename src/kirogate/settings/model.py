"""The settings dataclasses: frozen, validated where a bad value could only fail later.

:mod:`kirogate.settings.loader` fills them from flags, env vars and a config file; everything
else receives them ready-made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from kirogate.errors import ConfigError

DEFAULT_PORT = 8990
DEFAULT_KIRO_VERSION = "0.11.107"
DEFAULT_NODE_VERSION = "22.22.0"
KIRO_IDE_TOKEN_FILE = Path("~/.aws/sso/cache/kiro-auth-token.json")
DEFAULT_DATA_DIR = Path("~/.kirogate")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    admin_key: str | None = field(default=None, repr=False)
    # The admin API (and the console): on by default; ``kirogate serve`` generates a key
    # into the data dir when none is configured. False (--no-admin) turns both off.
    admin: bool = True
    # Requests per minute per client key, shared across processes when Redis is set; 0 = off.
    rate_limit_rpm: int = 0
    # Failed admin sign-ins per client address per minute before 429 (shared through Redis).
    admin_auth_failures: int = 10
    # Request bodies over this many bytes are answered 413 before they are read (Anthropic's
    # own Messages limit is 32 MB).
    max_body_size: int = 32 * 1024 * 1024
    # A client that has not taken one write after this many seconds is disconnected; 0 = never.
    send_timeout: float = 60.0
    # A connection must deliver a request's head within this many seconds; 0 = never.
    header_timeout: float = 30.0
    # On SIGTERM, answers in flight get this many seconds to finish; those still open then
    # end with the dialect's error event. The whole stop stays under 30 s (systemd, compose).
    shutdown_grace: float = 20.0
    # Requests per client address per ip_rate_window seconds (shared through Redis); 0 = off.
    ip_rate_limit: int = 0
    ip_rate_window: float = 60.0
    # Peers (addresses or CIDR networks) whose X-Forwarded-For / X-Real-IP name the client;
    # empty: forwarded headers are never read (docs/addresses.md).
    trusted_proxies: tuple[str, ...] = ()


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
    proxy_url: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    # No first event within this many seconds: the attempt is retried (nothing was sent yet).
    first_token_timeout: float = 90.0
    # A streaming request still without an upstream event after this many seconds gets its
    # headers and pings (errors then arrive as error events, not HTTP statuses); 0 = never.
    first_byte_grace: float = 10.0
    # Seconds between background balance polls per credential (getUsageLimits); 0 = off.
    usage_interval: float = 600.0
    # No event for this long mid-stream: the stream ends with an error event.
    stream_idle_timeout: float = 300.0
    # Refresh an access token this many seconds before it expires (kiro.rs: 10 minutes).
    refresh_skew: float = 600.0
    # After a failed refresh, the credential's next one waits refresh_backoff·2^(n-1) seconds
    # (n failures in a row) plus jitter, at most refresh_backoff_max; a success starts over.
    refresh_backoff: float = 2.0
    refresh_backoff_max: float = 300.0
    pool_connections: int = 256


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """The proxy pool (docs/proxies.md): how it rotates, and proxies given at start."""

    # assigned | round_robin | random | least_used | sticky; read at each pick.
    strategy: str = "round_robin"
    # Proxy URLs added to the stored pool at start (seed 004's PROXY_POOL).
    pool: tuple[str, ...] = field(default=(), repr=False)


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
class ModelsSettings:
    """Extra model names and the rules over them (docs/models.md)."""

    # alias -> target: a built-in name, an upstream model id, or any id sent upstream as it is.
    aliases: tuple[tuple[str, str], ...] = ()
    # client name or fnmatch pattern -> target, tried before the built-in table (not listed).
    overrides: tuple[tuple[str, str], ...] = ()
    # names or patterns left out of GET /v1/models (still served).
    hidden: tuple[str, ...] = ()
    # the model an unknown name gets instead of a 404; None: unknown names are a 404.
    fallback: str | None = None
    # every request uses this model, whatever it asks for; None: off.
    forced: str | None = None


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """What the web console shows."""

    # A notice shown at the top of every console page; None: none.
    announcement: str | None = None
    # Seconds a console sign-in lasts before the browser must sign in again (12 hours).
    session_lifetime: float = 12 * 3600.0


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Prompt-cache usage: 0 unless ``estimate`` (see docs/prompt-caching.md)."""

    # Estimate cache reads and writes from prefixes seen recently for the same key.
    estimate: bool = False


@dataclass(frozen=True, slots=True)
class RequestLogSettings:
    """The request log (see docs/logs.md): how long rows are kept, whether bodies are."""

    # Record request and response bodies (secrets and images redacted), for debugging only.
    bodies: bool = False
    # Each recorded body is cut to this many bytes.
    body_limit: int = 64 * 1024
    # Rows older than this many days are deleted in the background; 0 keeps them.
    retention_days: int = 30


class PoolMode(StrEnum):
    """How the pool picks a credential for a request that has no session binding."""

    PRIORITY = "priority"  # lowest priority number, sticky on the current one (kiro.rs default)
    BALANCED = "balanced"  # fewest successes, then least recently used
    ROUND_ROBIN = "round_robin"  # next credential in pool order after the last one picked
    RANDOM = "random"  # uniform among the usable ones
    WEIGHTED = "weighted"  # random, proportional to weight × remaining quota share

    @classmethod
    def parse(cls, value: str | PoolMode) -> PoolMode:
        """The mode named by ``value``; :class:`ValueError` names the choices otherwise."""
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            choices = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown pool mode {value!r}: choose one of {choices}") from None


@dataclass(frozen=True, slots=True)
class AffinitySettings:
    """kiro2api's session pool (``SESSION_POOL_*``): one conversation keeps its credential."""

    enabled: bool = True  # SESSION_POOL_ENABLED
    # SESSION_POOL_MAX_SIZE: credentials bound to one session (1 primary + backups).
    max_size: int = 3
    ttl: float = 1800.0  # SESSION_POOL_TTL: an idle binding is forgotten after this many seconds
    max_sessions: int = 10_000  # bound on remembered sessions; the least recently seen go first

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ConfigError(f"pool affinity max_size {self.max_size}: must be at least 1")
        if self.ttl <= 0:
            raise ConfigError(f"pool affinity ttl {self.ttl}: must be positive")
        if self.max_sessions < 1:
            raise ConfigError(f"pool affinity max_sessions {self.max_sessions}: must be at least 1")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an effective value came from: ``default``, ``flag``, ``env``, ``file`` or
    ``runtime`` (the admin API)."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return self.kind if not self.detail else f"{self.kind} {self.detail}"


_NON_NEGATIVE_POOL_FLOATS = (
    "cooldown_429",
    "cooldown_429_max",
    "suspended_cooldown",
    "backoff_base",
    "backoff_cap",
    "backoff_jitter",
    "queue_timeout",
)


@dataclass(frozen=True, slots=True)
class PoolSettings:
    mode: PoolMode = PoolMode.PRIORITY
    # kiro.rs: MAX_TOTAL_RETRIES = 9, MAX_RETRIES_PER_CREDENTIAL = 3.
    max_attempts: int = 9
    attempts_per_credential: int = 3
    # Consecutive credential failures (refused token after a refresh, 403, failed refresh,
    # a request given up on transient errors) before the credential is disabled; 0 = never.
    failure_threshold: int = 3
    # 429 without a usable hint: cool down cooldown_429 × 2^(n-1) for the n-th 429 in a row.
    cooldown_429: float = 10.0
    cooldown_429_max: float = 300.0  # also caps a Retry-After hint
    # 403 TEMPORARILY_SUSPENDED (kiro2api fork: SUSPENDED_TOKEN_COOLDOWN 24h).
    suspended_cooldown: float = 86_400.0
    # Same-credential retries: backoff_base × 2^n capped at backoff_cap, plus up to 25 % jitter.
    backoff_base: float = 0.2
    backoff_cap: float = 2.0
    backoff_jitter: float = 0.25
    max_concurrency_per_credential: int = 0  # 0 = unlimited
    queue_timeout: float = 30.0  # wait this long for a free slot when every credential is busy
    affinity: AffinitySettings = field(default_factory=AffinitySettings)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", PoolMode.parse(self.mode))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.max_attempts < 1:
            raise ConfigError(f"pool max_attempts {self.max_attempts}: must be at least 1")
        if self.attempts_per_credential < 1:
            raise ConfigError(
                f"pool attempts_per_credential {self.attempts_per_credential}: must be at least 1"
            )
        for name in ("failure_threshold", "max_concurrency_per_credential"):
            if getattr(self, name) < 0:
                raise ConfigError(f"pool {name} {getattr(self, name)}: must not be negative")
        for name in _NON_NEGATIVE_POOL_FLOATS:
            if getattr(self, name) < 0:
                raise ConfigError(f"pool {name} {getattr(self, name)}: must not be negative")


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    data_dir: Path = DEFAULT_DATA_DIR
    credentials_files: tuple[Path, ...] = ()
    kiro_files: tuple[Path, ...] = ()
    # kiro-cli / Amazon Q CLI token databases (data.sqlite3), read-only.
    kiro_cli_dbs: tuple[Path, ...] = ()
    log_level: str = "info"
    log_format: str = "text"  # "text" or "json"
    log_file: Path | None = None
    # SQLAlchemy async URL; unset: SQLite file kirogate.db in the data directory.
    database_url: str | None = field(default=None, repr=False)
    # redis://...; shared locks, rate limits and change notices for several processes.
    redis_url: str | None = field(default=None, repr=False)
    # Key that encrypts credential secrets at rest; unset: data_dir/secret.key (0600).
    secret_key: str | None = field(default=None, repr=False)
    workers: int = 1
    compression: CompressionSettings = field(default_factory=CompressionSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    models: ModelsSettings = field(default_factory=ModelsSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    log: RequestLogSettings = field(default_factory=RequestLogSettings)
    # Where each configured value came from (key -> Origin, see loader.resolve_settings); filled
    # by the loader, empty for settings built in code. Not part of the settings' identity.
    origins: Mapping[str, Origin] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser()

    @property
    def source_files(self) -> tuple[Path, ...]:
        """Every credential file configured (credentials.json, Kiro IDE files, kiro-cli
        databases): the store's sync deletes the rows of one that no longer define them."""
        return self.credentials_files + self.kiro_files + self.kiro_cli_dbs

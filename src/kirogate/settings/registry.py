"""Every setting once: its key, kind, env names (ours first, then the peers'), flag and help.

The key is the dotted field path (``pool.affinity.ttl``) and the TOML location (``[pool.affinity]
ttl``). Env names are tried in order; the first one set wins, so ``KIROGATE_PORT`` beats ``PORT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kirogate.settings.kinds import (
    AliasTable,
    Boolean,
    ByteSize,
    Choice,
    Integer,
    KeyList,
    Kind,
    MachineId,
    NameList,
    NetworkList,
    Notice,
    PathList,
    PathValue,
    Ratio,
    Region,
    Seconds,
    Url,
    UrlList,
)
from kirogate.settings.model import PoolMode

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DATABASE_SCHEMES = (
    "sqlite",
    "sqlite+aiosqlite",
    "postgresql",
    "postgres",
    "postgresql+asyncpg",
)
REDIS_SCHEMES = ("redis", "rediss", "unix")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4")


@dataclass(frozen=True, slots=True)
class Spec:
    key: str
    kind: Kind
    env: tuple[str, ...] = ()
    flag: str | None = None
    # "key": mask the whole value; "url": mask a URL's password; None: show it.
    secret: str | None = None
    help: str = ""
    section: str = field(init=False)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        section, _, name = self.key.rpartition(".")
        object.__setattr__(self, "section", section)
        object.__setattr__(self, "name", name)


def _s(key: str, kind: Kind, *env: str, flag: str | None = None, secret: str | None = None,
       help: str = "") -> Spec:  # fmt: skip
    return Spec(key, kind, tuple(env), flag, secret, help)


_TEXT = Kind("text")
_PORT = Integer("a whole number from 1 to 65535", 1, 65535)
_NON_NEGATIVE = Integer("a whole number, 0 or more", 0)
_AT_LEAST_ONE = Integer("a whole number, 1 or more", 1)
_SECONDS = Seconds("seconds (a number, or a duration such as 30s, 5m, 1h), 0 or more")
_POSITIVE_SECONDS = Seconds(
    "seconds (a number, or a duration such as 30s, 5m, 1h), more than 0", positive=True
)
_BOOL = Boolean("true or false")
_ALIASES = AliasTable("a table of alias = target names (env: alias=target,alias=target)")
_MODEL_RULES = AliasTable(
    "a table of client name or pattern = target model (env: name=target,pattern*=target)"
)
_NAMES = NameList("a list of model names or patterns such as claude-3-* (env: comma-separated)")
_MODEL = Kind("a model name (a public name, an alias or an upstream id)")
_PATH = PathValue("a file or directory path")
_PATHS = PathList("a list of file paths (env: separated by ':')")
_KEYS = KeyList("a key, or a list of keys (env: comma-separated)")
_REGION = Region("an AWS region such as us-east-1")
_HTTP_URL = Url("an http:// or https:// URL", ("http", "https"))
_PROXY = Url(
    "a proxy URL (http, https, socks5, socks5h, socks4) or 'direct'",
    PROXY_SCHEMES,
    passthrough=("direct",),
)
_PROXIES = UrlList(
    "a list of proxy URLs (http, https, socks5, socks5h; env: comma-separated)",
    Url("a proxy URL", ("http", "https", "socks5", "socks5h")),
)
_NETWORKS = NetworkList("a list of addresses or CIDR networks (env: comma-separated)")
_STRATEGY = Choice(
    "one of assigned, round_robin, random, least_used, sticky",
    ("assigned", "round_robin", "random", "least_used", "sticky"),
)
_DATABASE = Url(
    "a database URL: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB",
    DATABASE_SCHEMES,
    needs_host=False,
)
_REDIS = Url("a Redis URL: redis://HOST:PORT/DB or rediss://...", REDIS_SCHEMES, needs_host=False)
_LEVEL = Choice(
    "one of debug, info, warning, error, critical",
    LOG_LEVELS,
    (("warn", "warning"), ("fatal", "critical"), ("trace", "debug")),
)
_FORMAT = Choice("text or json", ("text", "json"))
_HOST_STYLE = Choice("runtime or q", ("runtime", "q"))
_MODE = Choice("one of " + ", ".join(m.value for m in PoolMode), tuple(m.value for m in PoolMode))

SPECS: tuple[Spec, ...] = (
    # ---- top level
    _s("data_dir", _PATH, "KIROGATE_DATA_DIR", "DATA_DIR", flag="--data-dir",
       help="where the database, keys, PID and log files live"),
    _s("credentials_files", _PATHS, "KIROGATE_CREDENTIALS", flag="--credentials",
       help="kiro.rs-style credentials.json files"),
    _s("kiro_files", _PATHS, "KIROGATE_KIRO_FILE", flag="-f/--kiro-file",
       help="Kiro IDE token files"),
    _s("kiro_cli_dbs", _PATHS, "KIROGATE_KIRO_CLI_DB", flag="--kiro-cli-db",
       help="kiro-cli / Amazon Q CLI token databases (data.sqlite3), read-only"),
    _s("log_level", _LEVEL, "KIROGATE_LOG_LEVEL", "LOG_LEVEL", flag="--log-level"),
    _s("log_format", _FORMAT, "KIROGATE_LOG_FORMAT", "LOG_FORMAT", flag="--log-format"),
    _s("log_file", _PATH, "KIROGATE_LOG_FILE", "LOG_FILE", flag="--log-file"),
    _s("database_url", _DATABASE, "KIROGATE_DATABASE_URL", flag="--database-url", secret="url",
       help="default: SQLite kirogate.db in the data dir"),
    _s("redis_url", _REDIS, "KIROGATE_REDIS_URL", flag="--redis-url", secret="url",
       help="shared locks, rate limits and notices for several processes"),
    _s("secret_key", _TEXT, "KIROGATE_SECRET_KEY", secret="key",
       help="encrypts stored secrets; default: secret.key in the data dir"),
    _s("workers", _AT_LEAST_ONE, "KIROGATE_WORKERS", flag="--workers"),
    # ---- server
    _s("server.host", _TEXT, "KIROGATE_HOST", "HOST", flag="--host"),
    _s("server.port", _PORT, "KIROGATE_PORT", "PORT", flag="-p/--port"),
    _s("server.api_keys", _KEYS, "KIROGATE_API_KEY", "API_KEY", "KIRO_CLIENT_TOKEN",
       flag="-k/--api-key", secret="key", help="client keys; default: one generated key"),
    _s("server.admin_key", _TEXT, "KIROGATE_ADMIN_KEY", "ADMIN_API_KEY", flag="--admin-key",
       secret="key", help="the admin API's key; default: one generated key (data dir)"),
    _s("server.admin", _BOOL, "KIROGATE_ADMIN", flag="--no-admin",
       help="false turns the admin API and console off"),
    _s("server.rate_limit_rpm", _NON_NEGATIVE, "KIROGATE_RATE_LIMIT_RPM",
       help="requests per minute per client key; 0 = off"),
    _s("server.admin_auth_failures", _NON_NEGATIVE, "KIROGATE_ADMIN_AUTH_FAILURES",
       help="wrong admin keys per client address per minute before 429; 0 = off"),
    _s("server.max_body_size", ByteSize("bytes, or a size such as 512k, 32MiB, 1g"),
       "KIROGATE_MAX_BODY_SIZE", flag="--max-body-size",
       help="larger request bodies are refused with 413 before they are read"),
    _s("server.send_timeout", _SECONDS, "KIROGATE_SEND_TIMEOUT",
       help="close a connection whose client takes longer to take one write; 0 = never"),
    _s("server.header_timeout", _SECONDS, "KIROGATE_HEADER_TIMEOUT",
       help="close a connection that has not sent a whole request head by then; 0 = never"),
    _s("server.shutdown_grace", _SECONDS, "KIROGATE_SHUTDOWN_GRACE", flag="--shutdown-grace",
       help="on SIGTERM, seconds the answers in flight get to finish"),
    _s("server.ip_rate_limit", _NON_NEGATIVE, "KIROGATE_IP_RATE_LIMIT",
       help="requests per client address per server.ip_rate_window; 0 = off"),
    _s("server.ip_rate_window", _POSITIVE_SECONDS, "KIROGATE_IP_RATE_WINDOW",
       help="the window of server.ip_rate_limit, in seconds"),
    _s("server.trusted_proxies", _NETWORKS, "KIROGATE_TRUSTED_PROXIES",
       help="peers whose X-Forwarded-For / X-Real-IP are believed; default: none"),
    # ---- upstream
    _s("upstream.url", _HTTP_URL, "KIROGATE_UPSTREAM_URL", flag="--upstream-url",
       help="one base URL for every upstream call (an emulator)"),
    _s("upstream.host_style", _HOST_STYLE, "KIROGATE_UPSTREAM_HOST"),
    _s("upstream.region", _REGION, "KIROGATE_REGION", "REGION"),
    _s("upstream.auth_region", _REGION, "KIROGATE_AUTH_REGION"),
    _s("upstream.api_region", _REGION, "KIROGATE_API_REGION"),
    _s("upstream.kiro_version", _TEXT, "KIROGATE_KIRO_VERSION"),
    _s("upstream.node_version", _TEXT, "KIROGATE_NODE_VERSION"),
    _s("upstream.system_version", _TEXT, "KIROGATE_SYSTEM_VERSION"),
    _s("upstream.machine_id", MachineId("64 hex characters or a UUID"), "KIROGATE_MACHINE_ID"),
    _s("upstream.proxy_url", _PROXY, "KIROGATE_PROXY_URL", secret="url"),
    _s("upstream.connect_timeout", _POSITIVE_SECONDS, "KIROGATE_CONNECT_TIMEOUT"),
    _s("upstream.first_token_timeout", _POSITIVE_SECONDS, "KIROGATE_FIRST_TOKEN_TIMEOUT",
       flag="--first-token-timeout"),
    _s("upstream.stream_idle_timeout", _POSITIVE_SECONDS, "KIROGATE_STREAM_IDLE_TIMEOUT",
       flag="--stream-idle-timeout"),
    _s("upstream.first_byte_grace", _SECONDS, "KIROGATE_FIRST_BYTE_GRACE",
       help="seconds before a slow stream is started with pings; 0 = never"),
    _s("upstream.refresh_skew", _SECONDS, "KIROGATE_REFRESH_SKEW"),
    _s("upstream.refresh_backoff", _SECONDS, "KIROGATE_REFRESH_BACKOFF",
       help="seconds a credential waits after its first failed refresh; doubles per failure"),
    _s("upstream.refresh_backoff_max", _SECONDS, "KIROGATE_REFRESH_BACKOFF_MAX",
       help="the longest wait between failed refreshes of one credential"),
    _s("upstream.usage_interval", _SECONDS, "KIROGATE_USAGE_INTERVAL",
       help="seconds between background balance polls; 0 = off"),
    _s("upstream.pool_connections", _AT_LEAST_ONE, "KIROGATE_UPSTREAM_CONNECTIONS"),
    # ---- proxy pool
    _s("proxy.strategy", _STRATEGY, "KIROGATE_PROXY_STRATEGY",
       help="how credentials without an assigned proxy rotate over the proxy pool"),
    _s("proxy.pool", _PROXIES, "KIROGATE_PROXY_POOL", "PROXY_POOL", secret="url",
       help="proxy URLs added to the stored pool at start"),
    # ---- pool
    _s("pool.mode", _MODE, "KIROGATE_POOL_MODE", flag="--pool-mode"),
    _s("pool.max_attempts", _AT_LEAST_ONE, "KIROGATE_POOL_MAX_ATTEMPTS",
       "SESSION_POOL_MAX_RETRIES"),
    _s("pool.attempts_per_credential", _AT_LEAST_ONE, "KIROGATE_POOL_ATTEMPTS_PER_CREDENTIAL"),
    _s("pool.failure_threshold", _NON_NEGATIVE, "KIROGATE_POOL_FAILURE_THRESHOLD"),
    _s("pool.cooldown_429", _SECONDS, "KIROGATE_POOL_COOLDOWN_429", "SESSION_POOL_COOLDOWN"),
    _s("pool.cooldown_429_max", _SECONDS, "KIROGATE_POOL_COOLDOWN_429_MAX"),
    _s("pool.suspended_cooldown", _SECONDS, "KIROGATE_POOL_SUSPENDED_COOLDOWN",
       "SUSPENDED_TOKEN_COOLDOWN"),
    _s("pool.backoff_base", _SECONDS, "KIROGATE_POOL_BACKOFF_BASE"),
    _s("pool.backoff_cap", _SECONDS, "KIROGATE_POOL_BACKOFF_CAP"),
    _s("pool.backoff_jitter", Ratio("a number from 0 to 1"), "KIROGATE_POOL_BACKOFF_JITTER"),
    _s("pool.max_concurrency_per_credential", _NON_NEGATIVE,
       "KIROGATE_POOL_MAX_CONCURRENCY_PER_CREDENTIAL", help="0 = unlimited"),
    _s("pool.queue_timeout", _SECONDS, "KIROGATE_POOL_QUEUE_TIMEOUT"),
    _s("pool.affinity.enabled", _BOOL, "KIROGATE_POOL_AFFINITY_ENABLED", "SESSION_POOL_ENABLED"),
    _s("pool.affinity.max_size", _AT_LEAST_ONE, "KIROGATE_POOL_AFFINITY_MAX_SIZE",
       "SESSION_POOL_MAX_SIZE"),
    _s("pool.affinity.ttl", _POSITIVE_SECONDS, "KIROGATE_POOL_AFFINITY_TTL", "SESSION_POOL_TTL"),
    _s("pool.affinity.max_sessions", _AT_LEAST_ONE, "KIROGATE_POOL_AFFINITY_MAX_SESSIONS"),
    # ---- compression
    _s("compression.enabled", _BOOL, "KIROGATE_COMPRESSION_ENABLED"),
    _s("compression.max_tokens", _AT_LEAST_ONE, "KIROGATE_COMPRESSION_MAX_TOKENS"),
    _s("compression.max_messages", _NON_NEGATIVE, "KIROGATE_COMPRESSION_MAX_MESSAGES"),
    _s("compression.keep_last", _NON_NEGATIVE, "KIROGATE_COMPRESSION_KEEP_LAST"),
    _s("compression.summary_max_tokens", _AT_LEAST_ONE, "KIROGATE_COMPRESSION_SUMMARY_MAX_TOKENS"),
    # ---- prompt caching
    _s("cache.estimate", _BOOL, "KIROGATE_CACHE_ESTIMATE", flag="--cache-estimate",
       help="estimate cache read/write tokens from recently seen prefixes; default: report 0"),
    # ---- models
    _s("models.aliases", _ALIASES, "KIROGATE_MODEL_ALIASES",
       help="extra public model names, each mapped to a target model"),
    _s("models.overrides", _MODEL_RULES, "KIROGATE_MODEL_OVERRIDES",
       help="client names or patterns mapped to a target, before the built-in table"),
    _s("models.hidden", _NAMES, "KIROGATE_MODEL_HIDDEN",
       help="names or patterns left out of /v1/models (still served)"),
    _s("models.fallback", _MODEL, "KIROGATE_MODEL_FALLBACK",
       help="the model an unknown model name gets instead of a 404"),
    _s("models.forced", _MODEL, "KIROGATE_MODEL_FORCED",
       help="every request uses this model, whatever it asks for"),
    # ---- console
    _s("console.announcement", Notice("text; blank for none"), "KIROGATE_CONSOLE_ANNOUNCEMENT",
       help="a notice shown at the top of the web console (blank: none)"),
    _s("console.session_lifetime", _POSITIVE_SECONDS, "KIROGATE_CONSOLE_SESSION_LIFETIME",
       help="how long a console sign-in lasts (such as 12h)"),
    # ---- request log
    _s("log.bodies", _BOOL, "KIROGATE_LOG_BODIES",
       help="record request and response bodies in the request log (redacted, capped)"),
    _s("log.body_limit", ByteSize("bytes, or a size such as 512k, 32MiB, 1g"),
       "KIROGATE_LOG_BODY_LIMIT", help="each recorded body is cut to this size"),
    _s("log.retention_days", _NON_NEGATIVE, "KIROGATE_LOG_RETENTION_DAYS",
       help="request log rows older than this are deleted; 0 keeps them"),
)  # fmt: skip

BY_KEY: dict[str, Spec] = {spec.key: spec for spec in SPECS}
SECTIONS: tuple[str, ...] = (
    "server",
    "upstream",
    "pool",
    "pool.affinity",
    "compression",
    "cache",
    "models",
    "console",
    "proxy",
    "log",
)

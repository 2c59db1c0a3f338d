"""Pool settings: selection mode, retry budgets, cooldowns, concurrency and session affinity.

Frozen and validated on construction; ``kirogate.settings`` builds one from flags and env
vars and hands it to :class:`~kirogate.pool.credential_pool.CredentialPool`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kirogate.errors import ConfigError


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
    max_size: int = (
        3  # SESSION_POOL_MAX_SIZE: credentials bound to one session (1 primary + backups)
    )
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
        for name in (
            "cooldown_429",
            "cooldown_429_max",
            "suspended_cooldown",
            "backoff_base",
            "backoff_cap",
            "backoff_jitter",
            "queue_timeout",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"pool {name} {getattr(self, name)}: must not be negative")

"""The credential pool: which Kiro credential serves a request, and what a failure means.

See ``docs/pool.md`` for the modes, the table of error reactions and session affinity.
"""

from kirogate.pool.affinity import SessionAffinity
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.failover import AttemptContext, Leased, run_with_failover
from kirogate.pool.lease import Lease
from kirogate.pool.reactions import (
    FailureKind,
    QuotaResetHook,
    Reaction,
    classify_failure,
    next_month_start,
)
from kirogate.pool.state import (
    CooldownReason,
    CredentialState,
    DisableReason,
    InMemoryPoolState,
    PoolState,
)
from kirogate.pool.status import Availability, CredentialStatus
from kirogate.settings import AffinitySettings, PoolMode, PoolSettings

__all__ = [
    "AffinitySettings",
    "AttemptContext",
    "Availability",
    "CooldownReason",
    "CredentialPool",
    "CredentialState",
    "CredentialStatus",
    "DisableReason",
    "FailureKind",
    "InMemoryPoolState",
    "Lease",
    "Leased",
    "PoolMode",
    "PoolSettings",
    "PoolState",
    "QuotaResetHook",
    "Reaction",
    "SessionAffinity",
    "classify_failure",
    "next_month_start",
    "run_with_failover",
]

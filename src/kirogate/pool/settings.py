"""Pool settings: selection mode, retry budgets, cooldowns, concurrency and session affinity.

The dataclasses live in :mod:`kirogate.settings` (layer 0) with every other setting; they are
re-exported here so ``from kirogate.pool.settings import PoolSettings`` keeps working.
"""

from kirogate.settings import AffinitySettings, PoolMode, PoolSettings

__all__ = ["AffinitySettings", "PoolMode", "PoolSettings"]

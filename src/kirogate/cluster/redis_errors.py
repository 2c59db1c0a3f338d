"""What a Redis call can raise: the client's errors and ``OSError``.

redis is imported here on first use, so a gateway without Redis never loads it (~5 MiB).
"""

from __future__ import annotations


def redis_errors() -> tuple[type[Exception], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError)

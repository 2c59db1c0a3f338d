from __future__ import annotations

from redis.exceptions import RedisError

from kirogate.cluster.redis_errors import redis_errors


def test_redis_errors_are_the_client_errors_and_os_errors() -> None:
    assert redis_errors() == (RedisError, OSError)

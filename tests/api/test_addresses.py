"""The client's address (trusted proxies only) and the per-address rate limit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.requests import Request

from kirogate.api.addresses import AddressRateLimit, client_address, forwarded_https
from kirogate.cluster.ratelimit import MemoryRateLimiter
from kirogate.errors import RateLimited
from kirogate.settings import Settings


def settings(trusted: tuple[str, ...] = (), limit: int = 0, window: float = 60.0) -> Settings:
    base = Settings()
    server = replace(
        base.server, trusted_proxies=trusted, ip_rate_limit=limit, ip_rate_window=window
    )
    return replace(base, server=server)


def request(peer: str | None, **headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "headers": raw, "client": (peer, 1234) if peer else None}
    return Request(scope)


def test_the_peer_is_the_client_by_default_whatever_the_headers_say() -> None:
    forged = request("192.0.2.1", x_forwarded_for="203.0.113.9", x_real_ip="203.0.113.9")
    assert client_address(forged, settings()) == "192.0.2.1"


def test_a_trusted_peer_names_the_client_rightmost_untrusted_first() -> None:
    trusted = settings(("10.0.0.0/8", "::1"))
    chain = request("10.0.0.2", x_forwarded_for="1.1.1.1, 203.0.113.9, 10.0.0.7")
    assert client_address(chain, trusted) == "203.0.113.9"
    assert client_address(request("::1", x_real_ip="2001:db8::5"), trusted) == "2001:db8::5"
    # Only trusted hops: the X-Real-IP, then the peer itself.
    hops = request("10.0.0.2", x_forwarded_for="10.0.0.8")
    assert client_address(hops, trusted) == "10.0.0.2"


def test_garbage_in_the_header_is_not_believed() -> None:
    trusted = settings(("10.0.0.0/8",))
    bad = request("10.0.0.2", x_forwarded_for="203.0.113.9, not-an-ip")
    assert client_address(bad, trusted) == "10.0.0.2"


def test_an_untrusted_peer_is_not_believed_even_with_trusted_proxies_set() -> None:
    trusted = settings(("10.0.0.0/8",))
    assert client_address(request("192.0.2.1", x_real_ip="10.1.1.1"), trusted) == "192.0.2.1"


def test_ipv4_mapped_peers_read_as_ipv4_and_no_peer_is_unknown() -> None:
    assert client_address(request("::ffff:192.0.2.3"), settings()) == "192.0.2.3"
    assert client_address(request(None), settings()) == "unknown"
    assert client_address(request("unix-socket"), settings()) == "unix-socket"


async def test_the_rate_limit_refuses_past_the_limit_with_retry_after() -> None:
    limit = AddressRateLimit()
    rules = settings(limit=2, window=10.0)
    await limit.check("192.0.2.1", rules, None)
    await limit.check("192.0.2.1", rules, None)
    with pytest.raises(RateLimited) as refused:
        await limit.check("192.0.2.1", rules, None)
    assert refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= 10.0
    await limit.check("192.0.2.2", rules, None)  # another address has its own budget
    await limit.check("192.0.2.1", settings(limit=0), None)  # 0 = off


async def test_a_shared_limiter_is_used_when_given() -> None:
    shared = MemoryRateLimiter()
    rules = settings(limit=1, window=5.0)
    await AddressRateLimit().check("192.0.2.1", rules, shared)
    with pytest.raises(RateLimited):
        await AddressRateLimit().check("192.0.2.1", rules, shared)  # another process


async def test_a_limiter_of_another_kind_is_awaited() -> None:
    class Shared:  # as Redis's: only the async interface
        def __init__(self) -> None:
            self.memory = MemoryRateLimiter()
            self.hits = 0

        async def hit(self, key: str, limit: int, *, window: float = 60.0) -> float | None:
            self.hits += 1
            return self.memory.hit_now(key, limit, window=window)

        async def wait(self, key: str, limit: int, *, window: float = 60.0) -> float | None:
            return None

    shared = Shared()
    limit = AddressRateLimit()
    rules = settings(limit=1, window=5.0)
    assert limit.local(shared) is None
    await limit.check("192.0.2.1", rules, shared)
    with pytest.raises(RateLimited):
        await limit.check("192.0.2.1", rules, shared)
    await limit.check("192.0.2.1", settings(limit=0), shared)  # 0 = off, not even asked
    assert shared.hits == 2


def test_the_limiter_of_this_process_counts_in_place() -> None:
    limit = AddressRateLimit()
    own = MemoryRateLimiter()
    assert limit.local(None) is limit.memory
    assert limit.local(own) is own
    rules = settings(limit=1, window=5.0)
    limit.check_now("192.0.2.1", rules, own)
    with pytest.raises(RateLimited, match="1 requests per 5 s"):
        limit.check_now("192.0.2.1", rules, own)
    limit.check_now("192.0.2.1", settings(limit=0), own)


def test_https_is_believed_from_a_trusted_proxy_only() -> None:
    trusted = settings(("10.0.0.0/8",))
    assert forwarded_https(request("10.0.0.2", **{"x-forwarded-proto": "https"}), trusted)
    assert forwarded_https(request("10.0.0.2", **{"x-forwarded-proto": "HTTPS, http"}), trusted)
    assert not forwarded_https(request("10.0.0.2", **{"x-forwarded-proto": "http"}), trusted)
    assert not forwarded_https(request("10.0.0.2"), trusted)
    assert not forwarded_https(request("8.8.8.8", **{"x-forwarded-proto": "https"}), trusted)
    assert not forwarded_https(request("10.0.0.2", **{"x-forwarded-proto": "https"}), settings())
    assert not forwarded_https(request(None, **{"x-forwarded-proto": "https"}), trusted)

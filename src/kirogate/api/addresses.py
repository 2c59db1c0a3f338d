"""Whose request this is: the client's address, and the per-address rate limit.

The address is the socket peer. Only when that peer is one of ``server.trusted_proxies`` (a
reverse proxy the operator runs) are its forwarded headers believed: ``X-Forwarded-For`` read
from the right, skipping trusted proxies (each hop appends the address it saw, so the
rightmost untrusted entry is the last one a trusted hop vouched for; entries to its left were
written by the client and can say anything), else ``X-Real-IP``. uvicorn's own header handling
is off (``serve`` sets ``proxy_headers=False``), so nothing else rewrites the peer.
"""

from __future__ import annotations

import math
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from starlette.requests import Request

from kirogate.cluster.ratelimit import MemoryRateLimiter, RateLimiter
from kirogate.errors import RateLimited
from kirogate.settings import Settings

UNKNOWN = "unknown"
_PREFIX = "ip:"

Network = IPv4Network | IPv6Network


@lru_cache(maxsize=32)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The parsed ``server.trusted_proxies`` (cached: the settings hold the same tuple)."""
    return tuple(ip_network(entry, strict=False) for entry in entries)


@lru_cache(maxsize=4096)
def parsed_address(text: str) -> IPv4Address | IPv6Address | None:
    """``text`` as an address (an IPv4-mapped IPv6 one as its IPv4 address), None when it is
    not an IP; cached, as every request of a client repeats it."""
    return _parsed(text)


def _parsed(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(text: str, networks: tuple[Network, ...]) -> bool:
    address = _parsed(text)
    return address is not None and any(address in network for network in networks)


def _forwarded(request: Request, networks: tuple[Network, ...]) -> str | None:
    """The client named by a trusted peer's headers, or ``None`` if they name none."""
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        address = _parsed(hop)
        if address is None:
            return None  # garbage where an address should be: believe nothing further left
        if not any(address in network for network in networks):
            return str(address)
    real = _parsed(request.headers.get("x-real-ip", ""))
    return str(real) if real is not None else None


def client_address(request: Request, settings: Settings) -> str:
    """The client's address (canonical text), by the rules in this module's docstring."""
    peer = request.client.host if request.client else None
    if not peer:
        return UNKNOWN
    networks = trusted_networks(settings.server.trusted_proxies)
    if networks and _trusted(peer, networks):
        forwarded = _forwarded(request, networks)
        if forwarded is not None:
            return forwarded
    return _canonical(peer)


def forwarded_https(request: Request, settings: Settings) -> bool:
    """Whether a trusted proxy says the browser reached it over HTTPS
    (``X-Forwarded-Proto: https`` from a peer in ``server.trusted_proxies``)."""
    peer = request.client.host if request.client else None
    networks = trusted_networks(settings.server.trusted_proxies)
    if not peer or not networks or not _trusted(peer, networks):
        return False
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https"


@lru_cache(maxsize=4096)
def _canonical(peer: str) -> str:
    """The peer's address in canonical text (cached: every request of a client repeats it,
    and parsing an address is the costliest step of finding it)."""
    parsed = _parsed(peer)
    return str(parsed) if parsed is not None else peer


class AddressRateLimit:
    """``server.ip_rate_limit`` requests per ``server.ip_rate_window`` seconds per address,
    both read at every check (a runtime change applies to the next request)."""

    def __init__(self) -> None:
        self.memory = MemoryRateLimiter()

    def local(self, shared: RateLimiter | None) -> MemoryRateLimiter | None:
        """The limiter that counts, when it is this process's own (then :meth:`check_now`
        counts without an await), else None (Redis: :meth:`check`)."""
        limiter = self.memory if shared is None else shared
        return limiter if isinstance(limiter, MemoryRateLimiter) else None

    def check_now(self, address: str, settings: Settings, limiter: MemoryRateLimiter) -> None:
        """:meth:`check` with a limiter of this process (from :meth:`local`)."""
        limit = settings.server.ip_rate_limit
        if limit <= 0:
            return
        window = settings.server.ip_rate_window
        _refuse(limiter.hit_now(_PREFIX + address, limit, window=window), limit, window)

    async def check(self, address: str, settings: Settings, shared: RateLimiter | None) -> None:
        """Count one request from ``address``; :class:`RateLimited` once it is over."""
        local = self.local(shared)
        if local is not None:
            self.check_now(address, settings, local)
            return
        assert shared is not None  # local() answers the in-process limiter for None
        limit = settings.server.ip_rate_limit
        if limit <= 0:
            return
        window = settings.server.ip_rate_window
        _refuse(await shared.hit(_PREFIX + address, limit, window=window), limit, window)


def _refuse(wait: float | None, limit: int, window: float) -> None:
    """:class:`RateLimited` when the limiter said to ``wait``."""
    if wait is not None:
        raise RateLimited(
            f"rate limit of {limit} requests per {window:g} s for this address reached; "
            f"retry in {math.ceil(wait)} s",
            retry_after=wait,
        )

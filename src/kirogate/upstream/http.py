"""Pooled HTTP sessions to the upstream, one per distinct proxy.

:class:`HttpPool` hands out an aiohttp ``ClientSession`` for a credential: its own proxy wins
over the global ``settings.proxy_url``, and the literal ``direct`` (any case) means no proxy at
all. Direct and HTTP(S)-proxied sessions use a keep-alive ``TCPConnector``; ``socks5://`` and
``socks5h://`` (remote DNS) proxies use an ``aiohttp_socks.ProxyConnector``. Sessions are made
on first use and live until :meth:`HttpPool.close`.

An optional ``proxy_for`` hook (a :class:`~kirogate.pool.proxies.ProxyPool`'s method) picks
the proxy of a credential that has none of its own: it answers a URL, ``direct``, or ``None``
for the default route (the global proxy, else direct). ``on_proxy_failure`` hears the URL a
credential's failed call went through (:meth:`HttpPool.report_proxy_failure`).

With no kirogate proxy at all (none of the credential's own, the pool's or the global one),
the standard environment variables are honoured (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, any case): HTTP(S) ones by aiohttp per request (``trust_env``,
which applies ``NO_PROXY`` host by host); ``ALL_PROXY`` (any scheme, SOCKS too) as the route
for every host ``NO_PROXY`` does not exclude, for the calls whose host is known up front
(``upstream.url``) or otherwise for all. The literal ``direct`` never takes them.

Proxy URLs may carry a user and password; show them only through :func:`describe_proxy`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from kirogate.errors import ConfigError
from kirogate.settings import UpstreamSettings
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

DIRECT: Final = "direct"
DNS_CACHE_SECONDS: Final = 300
_HTTP_SCHEMES: Final = frozenset({"http", "https"})
_SOCKS_SCHEMES: Final = frozenset({"socks5", "socks5h"})
_MAX_CHOSEN: Final = 10_000  # remembered hook answers (one per credential in practice)

ProxyChooser = Callable[[Credential], str | None]
_PLAIN_ERRORS: Final[tuple[type[Exception], ...]] = (aiohttp.ClientError, OSError)


def connection_errors() -> tuple[type[Exception], ...]:
    """What a failed upstream connection raises: aiohttp's errors and ``OSError``, plus the
    SOCKS connector's errors once aiohttp_socks is loaded (only a SOCKS route loads it).

    Meant for ``except connection_errors():`` (evaluated only when something was raised).
    """
    socks = sys.modules.get("aiohttp_socks")
    if socks is None:
        return _PLAIN_ERRORS
    return (*_PLAIN_ERRORS, socks.ProxyError, socks.ProxyConnectionError, socks.ProxyTimeoutError)


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """One proxy, parsed; ``None`` in :class:`HttpPool` keys stands for a direct connection."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def is_socks(self) -> bool:
        return self.scheme in _SOCKS_SCHEMES

    def url(self) -> URL:
        """The URL with credentials, for aiohttp's ``proxy=`` (never log it)."""
        return URL.build(
            scheme=self.scheme,
            host=self.host,
            port=self.port,
            user=self.username,
            password=self.password,
        )

    def describe(self) -> str:
        if self.scheme == "env":
            return "the environment's HTTP(S)_PROXY"
        auth = "***@" if self.username or self.password else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}"


def describe_proxy(url: str | None) -> str:
    """A proxy URL safe for logs and messages: user and password replaced by ``***``."""
    if not url:
        return DIRECT
    if url.strip().lower() == DIRECT:
        return DIRECT
    try:
        parsed = URL(url.strip())
    except ValueError:
        return "<unparsable proxy url>"
    auth = "***@" if parsed.user or parsed.password else ""
    port = f":{parsed.explicit_port}" if parsed.explicit_port else ""
    return f"{parsed.scheme}://{auth}{parsed.host or ''}{port}"


def parse_proxy(
    url: str, *, username: str | None = None, password: str | None = None
) -> ProxyTarget:
    """Parse a proxy URL; separate ``username``/``password`` (used only if both set) win.

    Raise :class:`ConfigError` for an unsupported scheme or a missing host.
    """
    shown = describe_proxy(url)
    try:
        parsed = URL(url.strip())
    except ValueError as exc:
        raise ConfigError(f"proxy {shown}: not a URL") from exc
    scheme = parsed.scheme.lower()
    if scheme not in _HTTP_SCHEMES | _SOCKS_SCHEMES:
        raise ConfigError(
            f"proxy {shown}: unsupported scheme {scheme!r} (use http, https, socks5 or socks5h)"
        )
    if not parsed.host:
        raise ConfigError(f"proxy {shown}: no host")
    port = parsed.port
    if port is None:
        port = 1080 if scheme in _SOCKS_SCHEMES else 8080
    user, secret = parsed.user, parsed.password
    if username and password:
        user, secret = username, password
    return ProxyTarget(scheme, parsed.host, port, user or None, secret or None)


# The default route when the environment names an HTTP(S) proxy: a direct session whose
# requests aiohttp routes by HTTP(S)_PROXY / NO_PROXY (``trust_env``).
ENV_ROUTE: Final = ProxyTarget("env", "environment", 0)

_ENV_NAMES: Final = ("https_proxy", "http_proxy", "all_proxy", "no_proxy")


def environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """The proxy variables set in ``environ``, by lower-case name (lower case wins, as curl)."""
    found: dict[str, str] = {}
    for name in _ENV_NAMES:
        value = environ.get(name) or environ.get(name.upper())
        if value and value.strip():
            found[name] = value.strip()
    return found


def bypassed(host: str, no_proxy: str | None) -> bool:
    """Whether ``NO_PROXY`` (``no_proxy``'s value) excludes ``host`` (suffixes, ``*``, ports)."""
    if not no_proxy:
        return False
    name = host.strip().strip("[]").lower().rstrip(".")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:  # a CIDR network, as curl reads it
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if entry.startswith("[") or entry.count(":") > 1:
            entry = entry.strip("[]").split("]:")[0]  # an IPv6 address, maybe with a port
        else:
            entry = entry.partition(":")[0]
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (name == entry or name.endswith("." + entry)):
            return True
    return False


def _credential_key(credential: Credential) -> int:
    return credential.id if credential.id is not None else id(credential)


def _global_proxy(settings: UpstreamSettings) -> ProxyTarget | None:
    url = settings.proxy_url
    return parse_proxy(url) if url and url.strip().lower() != DIRECT else None


class HttpPool:
    """Owns the upstream ``ClientSession`` objects: one per distinct proxy, made lazily."""

    def __init__(
        self,
        settings: UpstreamSettings,
        *,
        proxy_for: ProxyChooser | None = None,
        on_proxy_failure: Callable[[str], object] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``environ`` holds the standard proxy variables (default: the process's, read now;
        aiohttp reads the HTTP(S) ones and NO_PROXY from the process at each request)."""
        self._settings = settings
        self._choose = proxy_for
        self._on_proxy_failure = on_proxy_failure
        # The hook's last answer per credential: errors name the proxy actually used, and a
        # failure is reported against it, without asking a rotating hook again.
        self._chosen: dict[int, str | None] = {}
        self._sessions: dict[ProxyTarget | None, tuple[aiohttp.ClientSession, URL | None]] = {}
        # Parsed per-credential proxies, so a request does not re-parse its credential's URL.
        self._targets: dict[tuple[str, str | None, str | None], ProxyTarget | None] = {}
        self._closed = False
        self._environ = os.environ if environ is None else environ
        self.env_proxies: dict[str, str] = {}
        self._global = self._global_for(settings)

    def _global_for(self, settings: UpstreamSettings) -> ProxyTarget | None:
        """The configured global proxy (``direct``: none at all), else the environment's."""
        if settings.proxy_url:
            return _global_proxy(settings)
        return self._from_environment(self._environ)

    def apply_settings(self, settings: UpstreamSettings) -> None:
        """Take a new global proxy for the next call (a runtime change); the sessions of
        other routes stay open for the calls still using them."""
        self._settings = settings
        self._global = self._global_for(settings)

    def _from_environment(self, environ: Mapping[str, str]) -> ProxyTarget | None:
        """The default route the environment gives: :data:`ENV_ROUTE`, ``ALL_PROXY``'s, or none."""
        found = self.env_proxies = environment_proxies(environ)
        if "https_proxy" in found or "http_proxy" in found:
            return ENV_ROUTE
        everything = found.get("all_proxy")
        if everything is None:
            return None
        base = self._settings.url
        host = urlsplit(base).hostname if base else None
        if host is not None and bypassed(host, found.get("no_proxy")):
            return None
        try:
            return parse_proxy(everything)
        except ConfigError as exc:
            log.warning("ALL_PROXY ignored: %s", exc.message)
            return None

    def proxy_for(self, credential: Credential | None) -> ProxyTarget | None:
        """The proxy a credential's calls go through: its own, else the hook's last choice,
        else the global one, else none."""
        if credential is not None and not credential.proxy_url and self._choose is not None:
            key = _credential_key(credential)
            if key in self._chosen:
                return self._hook_target(self._chosen[key])
        return self._route(credential)

    def _route(self, credential: Credential | None) -> ProxyTarget | None:
        """Pick the proxy for a new call (asks the hook, which may rotate)."""
        if credential is None:
            return self._global
        if not credential.proxy_url:
            if self._choose is None:
                return self._global
            chosen = self._choose(credential)
            if len(self._chosen) >= _MAX_CHOSEN:
                self._chosen.clear()
            self._chosen[_credential_key(credential)] = chosen
            return self._hook_target(chosen)
        key = (credential.proxy_url, credential.proxy_username, credential.proxy_password)
        if key not in self._targets:
            self._targets[key] = (
                None
                if credential.proxy_url.strip().lower() == DIRECT
                else parse_proxy(key[0], username=key[1], password=key[2])
            )
        return self._targets[key]

    def _hook_target(self, url: str | None) -> ProxyTarget | None:
        if url is None or not url.strip():
            return self._global
        key = (url, None, None)
        if key not in self._targets:
            if len(self._targets) >= _MAX_CHOSEN:
                self._targets.clear()
            self._targets[key] = None if url.strip().lower() == DIRECT else parse_proxy(url)
        return self._targets[key]

    def report_proxy_failure(self, credential: Credential | None) -> None:
        """Tell ``on_proxy_failure`` which pool proxy ``credential``'s failed call used.

        Only proxies chosen by the hook are reported; a credential's own proxy, the global
        one and direct connections are not the pool's to rest.
        """
        if credential is None or credential.proxy_url or self._on_proxy_failure is None:
            return
        url = self._chosen.get(_credential_key(credential))
        if url and url.strip().lower() != DIRECT:
            self._on_proxy_failure(url)

    def session_for(
        self, credential: Credential | None
    ) -> tuple[aiohttp.ClientSession, URL | None]:
        """The session for ``credential`` and the ``proxy=`` value to pass on each request.

        The second item is ``None`` for direct and SOCKS sessions (the connector does the
        proxying); it carries the proxy's user and password, so never log it.
        """
        if self._closed:
            raise RuntimeError("HttpPool is closed")
        target = self._route(credential)
        route = self._sessions.get(target)
        if route is None or route[0].closed:
            plain = target is None or target is ENV_ROUTE or target.is_socks
            proxy = None if plain or target is None else target.url()
            route = self._sessions[target] = (self._new_session(target), proxy)
        return route

    def _new_session(self, target: ProxyTarget | None) -> aiohttp.ClientSession:
        settings = self._settings
        limit = settings.pool_connections
        connector: aiohttp.BaseConnector
        if target is not None and target.is_socks:
            from aiohttp_socks import ProxyConnector, ProxyType  # only SOCKS routes need it

            # The SOCKS connector never resolves names itself: socks5 resolves in
            # python-socks (locally), socks5h sends the name to the proxy.
            connector = ProxyConnector(
                proxy_type=ProxyType.SOCKS5,
                host=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                rdns=target.scheme == "socks5h",
                limit=limit,
            )
        else:
            connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=DNS_CACHE_SECONDS)
        # No total or read timeout: streams run for minutes, and the client enforces the
        # first-token and idle timeouts itself. Only the TCP (or SOCKS) connect is bounded here.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=settings.connect_timeout, sock_read=None
        )
        log.debug(
            "new upstream session via %s", target.describe() if target is not None else DIRECT
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=True,
            # Only the environment's default route reads HTTP(S)_PROXY / NO_PROXY per request.
            trust_env=target is ENV_ROUTE,
        )

    def connectors(self) -> dict[str, aiohttp.BaseConnector]:
        """Live connectors by safe proxy description (for metrics and tests)."""
        out: dict[str, aiohttp.BaseConnector] = {}
        for target, (session, _) in self._sessions.items():
            if not session.closed and session.connector is not None:
                out[target.describe() if target is not None else DIRECT] = session.connector
        return out

    async def close(self) -> None:
        """Close every session; later :meth:`session_for` calls fail."""
        self._closed = True
        sessions = [session for session, _ in self._sessions.values()]
        self._sessions.clear()
        for session in sessions:
            await session.close()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What connecting through a proxy gave: ``ok`` with the latency, or the error in words."""

    ok: bool
    latency_ms: float | None = None
    status: int | None = None
    error: str | None = None


async def probe_proxy(proxy_url: str, target: str, *, limit: float) -> ProbeResult:
    """GET ``target`` through the proxy: any HTTP answer proves the route (even a 403)."""
    try:
        proxy = parse_proxy(proxy_url)
    except ConfigError as exc:
        return ProbeResult(False, error=exc.message)
    connector: aiohttp.BaseConnector
    if proxy.is_socks:
        from aiohttp_socks import ProxyConnector, ProxyType

        connector = ProxyConnector(
            proxy_type=ProxyType.SOCKS5,
            host=proxy.host,
            port=proxy.port,
            username=proxy.username,
            password=proxy.password,
            rdns=proxy.scheme == "socks5h",
        )
        via = None
    else:
        connector = aiohttp.TCPConnector(force_close=True)
        via = proxy.url()
    started = time.monotonic()
    shown = proxy.describe()
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=limit), trust_env=False
            ) as session,
            session.get(target, proxy=via, allow_redirects=False) as response,
        ):
            status = response.status
    except TimeoutError:
        return ProbeResult(False, error=f"no answer through {shown} within {limit:g} s")
    except aiohttp.ClientProxyConnectionError:
        return ProbeResult(False, error=f"cannot connect to the proxy {shown}")
    except aiohttp.ClientHttpProxyError as exc:
        if exc.status == 407:
            return ProbeResult(False, error=f"the proxy {shown} refused the credentials (407)")
        return ProbeResult(False, error=f"the proxy {shown} refused the tunnel ({exc.status})")
    except connection_errors() as exc:
        return ProbeResult(False, error=f"through {shown}: {type(exc).__name__}: {exc}")
    latency = (time.monotonic() - started) * 1000
    return ProbeResult(True, latency_ms=round(latency, 1), status=status)

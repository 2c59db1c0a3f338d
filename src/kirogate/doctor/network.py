"""The checks that talk to something: upstream hosts and clock skew, database, Redis, a running gateway.

Every check has a short timeout and turns each failure into a clear line; without
internet access the real upstream hosts fail fast with the DNS or connect error.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from kirogate.doctor.checks import Check, Status
from kirogate.errors import KirogateError
from kirogate.settings import Settings
from kirogate.upstream.credentials import Credential
from kirogate.upstream.endpoints import resolve_endpoints
from kirogate.upstream.http import HttpPool, describe_proxy

log = logging.getLogger(__name__)

SKEW_WARN = 30.0  # seconds
SKEW_FAIL = 300.0  # tokens and signatures go wrong past ~5 minutes
MAX_HOSTS = 8


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<unparsable URL>"
    if parsed.password:
        parsed = parsed.with_password("***")
    return str(parsed)


def upstream_targets(settings: Settings, credentials: Sequence[Credential]) -> list[str]:
    """Distinct base URLs the gateway would call (the override, or the real hosts per region)."""
    if settings.upstream.url:
        return [settings.upstream.url.rstrip("/")]
    regions = {(None, None)} | {(c.api_region, c.effective_auth_region) for c in credentials}
    targets: list[str] = []
    for api_region, auth_region in sorted(regions, key=lambda pair: (pair[0] or "", pair[1] or "")):
        ends = resolve_endpoints(settings.upstream, api_region=api_region, auth_region=auth_region)
        for base in (ends.data, ends.management, ends.social_auth, ends.oidc):
            if base not in targets:
                targets.append(base)
    return targets[:MAX_HOSTS]


@dataclass(slots=True)
class Probe:
    url: str
    status: int | None = None
    error: str | None = None
    date: datetime | None = None  # the server's Date header
    local: datetime | None = None  # our clock when the answer came


def describe_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "DNS lookup failed (no such host, or no network)"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"cannot reach the proxy: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"{type(exc).__name__}: {exc}"
    return f"unexpected {type(exc).__name__}: {exc}"


async def probe(session: aiohttp.ClientSession, url: str, proxy: Any, limit: float) -> Probe:
    """Any HTTP answer means reachable; only the transport can fail."""
    result = Probe(url)
    try:
        async with (
            asyncio.timeout(limit),
            session.get(url + "/", proxy=proxy, allow_redirects=False) as response,
        ):
            result.status = response.status
            result.local = datetime.now(UTC)
            date = response.headers.get("Date")
            if date:
                try:
                    result.date = email.utils.parsedate_to_datetime(date).astimezone(UTC)
                except (TypeError, ValueError):
                    result.date = None
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        result.error = describe_error(exc, limit)
    return result


async def check_upstream(
    settings: Settings, credentials: Sequence[Credential], *, limit: float
) -> list[Check]:
    """Reachability of each upstream host, then the clock skew against their Date headers."""
    targets = upstream_targets(settings, credentials)
    try:
        pool = HttpPool(settings.upstream)
    except KirogateError as exc:
        return [Check("upstream", Status.FAIL, f"cannot set up the HTTP client: {exc}")]
    try:
        session, proxy = pool.session_for(None)
        probes = await asyncio.gather(*(probe(session, url, proxy, limit) for url in targets))
    finally:
        await pool.close()
    via = (
        f" via proxy {describe_proxy(settings.upstream.proxy_url)}"
        if settings.upstream.proxy_url
        else ""
    )
    failed = [p for p in probes if p.error]
    details = [
        f"{p.url}: {p.error}" if p.error else f"{p.url}: answered HTTP {p.status}" for p in probes
    ]
    if failed:
        summary = f"{len(failed)} of {len(probes)} upstream host(s) unreachable{via}"
        upstream = Check("upstream", Status.FAIL, summary, details)
    else:
        upstream = Check("upstream", Status.OK, f"{len(probes)} host(s) reachable{via}", details)
    return [upstream, clock_check(probes)]


def clock_check(probes: Sequence[Probe]) -> Check:
    dated = [p for p in probes if p.date is not None and p.local is not None]
    if not dated:
        return Check("clock", Status.WARN, "skew not measured: no upstream answered with a Date")
    first = dated[0]
    assert first.date is not None and first.local is not None
    # The Date header has 1 s resolution: skews under a second are noise.
    skew = (first.local - first.date).total_seconds()
    text = f"local clock is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} {first.url}"
    if abs(skew) < 2:
        return Check("clock", Status.OK, f"in sync with {first.url} (within 2s)")
    if abs(skew) <= SKEW_WARN:
        return Check("clock", Status.OK, text)
    fix = ["fix: enable NTP (timedatectl set-ntp true) or sync the clock"]
    if abs(skew) <= SKEW_FAIL:
        return Check("clock", Status.WARN, text, fix)
    return Check("clock", Status.FAIL, text + "; token expiry checks will misfire", fix)


async def running_kirogate(host: str, port: int, *, limit: float) -> str | None:
    """The version of a kirogate answering ``/health`` there, else ``None``."""
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    if ":" in probe_host and not probe_host.startswith("["):
        probe_host = f"[{probe_host}]"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.get(f"http://{probe_host}:{port}/health") as response,
        ):
            body = await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return None
    if isinstance(body, dict) and body.get("status") == "ok" and "version" in body:
        return str(body["version"])
    return None


# ---------------------------------------------------------------- database and redis


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file the settings name, or ``None`` for another database."""
    url = settings.database_url
    if not url:
        return settings.data_path / "kirogate.db"
    if not url.startswith("sqlite"):
        return None
    try:
        from kirogate.store.urls import parse_database_url
    except ImportError:
        return None
    try:
        return parse_database_url(url, settings.data_path).sqlite_path
    except KirogateError:
        return None


async def check_database(settings: Settings, *, limit: float) -> tuple[Check, int | None]:
    """The database answers (and how many credentials it holds), or why not.

    A SQLite file that does not exist yet is not created here.
    """
    try:
        from kirogate.store import Store
    except ImportError:
        return Check(
            "database", Status.WARN, "the storage layer is not in this build; skipped"
        ), None
    db_file = sqlite_file(settings)
    if db_file is not None and not db_file.exists():
        text = f"SQLite file {db_file} does not exist yet; `kirogate serve` creates it"
        return Check("database", Status.WARN, text), None
    shown = mask_url(settings.database_url) if settings.database_url else f"SQLite {db_file}"
    store: Any = None
    try:
        async with asyncio.timeout(limit):
            store = await Store.open(
                database_url=settings.database_url,
                data_dir=settings.data_path,
                secret_key=settings.secret_key,
            )
            shown = getattr(store, "display_url", shown)
            await store.ping()
            count = len(await store.list_credentials())
    except TimeoutError:
        return Check("database", Status.FAIL, f"{shown}: no answer within {limit:g}s"), None
    except (KirogateError, OSError) as exc:
        return Check("database", Status.FAIL, f"{shown}: {exc}"), None
    finally:
        if store is not None:
            await store.close()
    return Check("database", Status.OK, f"{shown} reachable, {count} stored credential(s)"), count


async def check_redis(settings: Settings, *, limit: float) -> Check:
    url = settings.redis_url
    if not url:
        return Check("redis", Status.OK, "not configured (fine for a single process)")
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    shown = mask_url(url)
    client = None
    try:
        client = aioredis.from_url(url, socket_connect_timeout=limit, socket_timeout=limit)
        async with asyncio.timeout(limit + 1):
            await client.ping()
    except TimeoutError:
        return Check("redis", Status.FAIL, f"{shown}: no answer within {limit:g}s")
    except (RedisError, OSError, ValueError) as exc:
        return Check("redis", Status.FAIL, f"{shown}: {type(exc).__name__}: {exc}")
    finally:
        if client is not None:
            await client.aclose()
    return Check("redis", Status.OK, f"{shown} answers PING")

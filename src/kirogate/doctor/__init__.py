"""``kirogate doctor``: check everything a gateway needs and say what to fix.

Each check prints one line, ``✓`` (fine), ``!`` (works, but look at it) or ``✗`` (will
not work), with indented details: the data directory and the modes of files holding
secrets, the credentials found (and every place looked at), each token's expiry and
refresh token, the stored credentials that are disabled or whose refresh fails, the upstream
hosts' reachability and the clock skew against them, the port, the database and Redis. The exit code is 1 when any check failed, else 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import asdict
from typing import IO, TypeVar

from rich.console import Console
from rich.markup import escape

from kirogate import daemon
from kirogate.doctor.checks import (
    Check,
    Status,
    check_credential_sources,
    check_data_dir,
    check_file_modes,
    check_port,
    check_tokens,
    discover,
    secret_file_paths,
)
from kirogate.doctor.network import check_database, check_redis, check_upstream, running_kirogate
from kirogate.doctor.stored import check_stored_credentials
from kirogate.settings import Settings
from kirogate.upstream.auth.sources import DiscoveryResult

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
DATABASE_TIMEOUT = 10.0
MARKS = {Status.OK: ("✓", "green"), Status.WARN: ("!", "yellow"), Status.FAIL: ("✗", "red")}

T = TypeVar("T")


async def _guard(name: str, work: Awaitable[T]) -> T | Check:
    """A check that crashes becomes a failed line, never a traceback."""
    try:
        return await work
    except Exception as exc:
        log.debug("doctor check %s crashed", name, exc_info=True)
        return Check(name, Status.FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")


async def collect_checks(
    settings: Settings, environ: Mapping[str, str], *, limit: float = DEFAULT_TIMEOUT
) -> list[Check]:
    """Run every check; network checks run concurrently, each bounded by ``limit`` seconds."""
    checks: list[Check] = [check_data_dir(settings)]
    checks.append(check_file_modes(secret_file_paths(settings, environ)))
    found = discover(settings, environ)
    credentials = found.credentials if isinstance(found, DiscoveryResult) else []
    database, upstream, redis, version = await asyncio.gather(
        _guard("database", check_database(settings, limit=DATABASE_TIMEOUT)),
        _guard("upstream", check_upstream(settings, credentials, limit=limit)),
        _guard("redis", check_redis(settings, limit=limit)),
        running_kirogate(settings.server.host, settings.server.port, limit=limit),
    )
    stored = None
    if isinstance(database, tuple):
        database, stored = database
    if isinstance(found, DiscoveryResult):
        checks.append(check_credential_sources(found, stored))
        checks.extend(check_tokens(found.credentials))
    else:
        checks.append(found)
    if stored:
        # A refresh here could race a running gateway's own: then report what it recorded.
        idle = version is None and daemon.find_running(settings.data_path).pid is None
        accounts = await _guard(
            "stored credentials",
            check_stored_credentials(settings, refresh=idle, limit=limit),
        )
        checks.extend(accounts if isinstance(accounts, list) else [accounts])
    checks.extend(upstream if isinstance(upstream, list) else [upstream])
    checks.append(check_port(settings, kirogate_version=version))
    checks.append(database)
    checks.append(redis)
    return [check for check in checks if isinstance(check, Check)]


def render_text(checks: list[Check], out: IO[str] | None = None) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True)
    for check in checks:
        mark, colour = MARKS[check.status]
        console.print(f"[{colour}]{mark}[/] [bold]{escape(check.name)}[/]: {escape(check.summary)}")
        for detail in check.details:
            console.print(f"    {escape(detail)}")
    failed = sum(check.status is Status.FAIL for check in checks)
    warned = sum(check.status is Status.WARN for check in checks)
    if failed:
        console.print(f"\n[red]{failed} problem(s)[/], {warned} warning(s)")
    elif warned:
        console.print(f"\n[green]no problems[/], {warned} warning(s)")
    else:
        console.print("\n[green]all checks passed[/]")


def render_json(checks: list[Check], out: IO[str] | None = None) -> None:
    import sys

    body = {
        "ok": not any(check.status is Status.FAIL for check in checks),
        "checks": [asdict(check) for check in checks],
    }
    stream = out if out is not None else sys.stdout
    stream.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    stream.flush()


def run_doctor(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    json_output: bool = False,
    out: IO[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Print the report (rich text, or JSON with ``json_output``); 1 if any check failed."""
    checks = asyncio.run(collect_checks(settings, environ, limit=timeout))
    (render_json if json_output else render_text)(checks, out)
    return 1 if any(check.status is Status.FAIL for check in checks) else 0


__all__ = ["Check", "Status", "collect_checks", "run_doctor"]

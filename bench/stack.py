"""The processes of one benchmark setting: a paced ``kirogate emulator`` and the gateway(s).

With ``GatewayOptions(tls=True)`` the emulator serves HTTPS with a throwaway self-signed
certificate (made in the setting's temporary directory, key 0600) and every process that
talks to it (the gateway, the bare relay, the load generator's direct runs) trusts it the
way a user would: ``SSL_CERT_FILE`` names it, which ``ssl.create_default_context`` (and so
aiohttp's default context) reads. Verification is never switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs
from kirogate.emulator.tls import TlsFiles, write_self_signed

API_KEY = "bench-client-key"
ADMIN_KEY = "bench-admin-key-0123456789"  # /metrics (kirogate_asyncio_tasks) needs it
MODEL = "claude-sonnet-4-5-20250929"
SETTINGS: dict[str, dict[str, Any]] = {
    # first event after 50 ms, then 40 chunks of 20 characters 5 ms apart
    "paced": {"first_event_delay": 0.05, "event_delay": 0.005, "count": 40, "size": 20},
    # 200 chunks of 20 characters, no delay
    "burst": {"first_event_delay": 0.0, "event_delay": 0.0, "count": 200, "size": 20},
    # one chunk: the fixed per-request cost (not part of the default run)
    "single": {"first_event_delay": 0.0, "event_delay": 0.0, "count": 1, "size": 20},
    # the paced text held open for ~20 s (40 chunks 0.5 s apart): at c=1000 every stream is
    # open at once after the ramp, so the RSS then, less the RSS at rest, is per open stream
    "slow": {"first_event_delay": 0.05, "event_delay": 0.5, "count": 40, "size": 20},
}
# Issue #16's "every operator feature switched on": with these settings and after
# ``operator_setup`` the gateway answers with a stored key whose limits are checked on every
# request, an IP block rule and the per-address rate limit in force (the request log, the
# visitor count and the metrics are always on). The limits are far above what a run uses.
OPERATOR_SERVE_ARGS = ("--set", "server.ip_rate_limit=1000000")
OPERATOR_LIMITS = {
    "rpm": 1_000_000,
    "requests_per_day": 10_000_000,
    "tokens_per_day": 10_000_000_000,
    "tokens_per_month": 100_000_000_000,
    "models": ["claude-*"],
    "max_concurrency": 10_000,
}
OPERATOR_BLOCK = "203.0.113.0/24"  # TEST-NET-3: never the bench's own 127.0.0.1
# An emulator marker for one chunk: the warm-ups under a pacing whose answer takes longer than
# SLOW_ANSWER_S (the slow setting: 20 s) ask for it, or five sequential warm-ups would take
# minutes; the direct runs replay the recorded request without it.
SHORT_ANSWER = "[[emu:paced count=1]] "
SLOW_ANSWER_S = 1.0


@dataclass(frozen=True)
class GatewayOptions:
    """How the gateway runs. ``workers`` > 1 uses ``kirogate serve --workers`` when a
    PostgreSQL ``database_url`` is given (SQLite mode is single-process), else that many
    separate single-process gateways on their own ports and data directories."""

    workers: int = 1
    database_url: str | None = None
    redis_url: str | None = None
    # The upstream connection pool (settings.upstream.pool_connections, default 100) caps
    # concurrent streams; 0 keeps the default.
    upstream_connections: int = 0
    python_args: tuple[str, ...] = field(default=())  # e.g. a profiler wrapping the gateway
    # Issue #16's operator features (OPERATOR_SERVE_ARGS, then ``operator_setup``).
    operator: bool = False
    # The emulator serves HTTPS (a throwaway certificate trusted through SSL_CERT_FILE).
    tls: bool = False


@dataclass
class Stack:
    setting: str
    emulator: subprocess.Popen[bytes]
    emulator_url: str
    gateways: list[subprocess.Popen[bytes]]
    gateway_urls: list[str]
    direct_headers: dict[str, str]
    direct_body: Any
    relay: subprocess.Popen[bytes] | None = None  # bench/relay.py, when asked for
    relay_url: str = ""
    api_key: str = API_KEY  # the stored key of ``operator_setup`` with GatewayOptions.operator
    ca_file: Path | None = None  # the emulator's throwaway certificate with GatewayOptions.tls

    def gateway_rss_mb(self) -> float:
        return sum(procs.rss_mb(p.pid) for p in self.gateways)


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def operator_setup(url: str) -> str:
    """Through the admin API of the gateway at ``url``: create a stored key with every kind of
    limit and block a network (not the bench's address); the stored key is returned."""
    headers = {"x-api-key": ADMIN_KEY, "content-type": "application/json"}
    created = json.loads(
        _post(
            f"{url}/api/admin/keys",
            {"name": "bench-operator", "limits": OPERATOR_LIMITS},
            headers,
        )
    )
    _post(f"{url}/api/admin/ips", {"ip": OPERATOR_BLOCK, "reason": "bench"}, headers)
    return str(created["key"])


def warm_up(urls: list[str], rounds: int = 5, api_key: str = API_KEY, prefix: str = "") -> None:
    """A few requests through every gateway: token refresh, profile, connections, imports.

    ``prefix`` goes before the prompt: :data:`SHORT_ANSWER` under a slow pacing.
    """
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": prefix + "warm up"}],
    }
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    for url in urls:
        for _ in range(rounds):
            _post(f"{url}/v1/messages", body, headers)


def recorded_request(
    emulator_url: str, ca_file: Path | None = None, strip: str = ""
) -> tuple[dict[str, str], Any]:
    """The gateway's last Kiro request as the emulator saw it, without ``strip`` (a warm-up's
    marker) in its text: replayed for the direct runs."""
    url = f"{emulator_url}/_emulator/requests?path=/generateAssistantResponse&limit=1"
    with urllib.request.urlopen(url, timeout=10, context=procs.trusting(ca_file)) as response:
        [entry] = json.loads(response.read())["requests"]
    body = entry["body"]
    if strip:
        body = json.loads(json.dumps(body).replace(strip, ""))
    return entry["headers"], body


def _replayable(headers: dict[str, str]) -> dict[str, str]:
    skip = ("host", "content-length", "connection", "transfer-encoding")
    return {k: v for k, v in headers.items() if k.lower() not in skip}


def _emulator_args(
    setting: str, port: int, tls: TlsFiles | None = None, pacing: dict[str, Any] | None = None
) -> list[str]:
    """``kirogate emulator`` paced for ``setting`` (or ``pacing``), serving HTTPS with ``tls``."""
    pacing = pacing or SETTINGS[setting]
    served = [] if tls is None else ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    return [
        "emulator",
        *served,
        "--port",
        str(port),
        "--first-event-delay",
        str(pacing["first_event_delay"]),
        "--event-delay",
        str(pacing["event_delay"]),
        "--chunk-count",
        str(pacing["count"]),
        "--chunk-size",
        str(pacing["size"]),
    ]


def _serve_args(
    port: int, creds: Path, emulator_url: str, data: Path, options: GatewayOptions
) -> list[str]:
    args = ["serve", "--port", str(port), "--api-key", API_KEY, "--credentials", str(creds),
            "--admin-key", ADMIN_KEY]  # fmt: skip
    args += ["--upstream-url", emulator_url, "--data-dir", str(data), "--log-level", "warning"]
    # The emulator charges credits for every answer; in a long run the gateway's usage poll
    # would (rightly) find the account spent and rest it until the reset date.
    args += ["--set", "upstream.usage_interval=0"]
    if options.database_url:
        args += ["--database-url", options.database_url, "--workers", str(options.workers)]
    if options.redis_url:
        args += ["--redis-url", options.redis_url]
    if options.operator:
        args += OPERATOR_SERVE_ARGS
    return args


@contextlib.contextmanager
def fresh_database(url: str, name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database beside the one ``url`` names, dropped on exit: each
    setting gets its own credentials, pool state and secret key."""
    import asyncpg  # only for PostgreSQL runs
    from sqlalchemy.engine import make_url

    admin_url = make_url(url).set(drivername="postgresql")
    dsn = admin_url.render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def stack(
    setting: str,
    tmp: Path,
    options: GatewayOptions = GatewayOptions(),
    *,
    relay: bool = False,
    pacing: dict[str, Any] | None = None,
) -> Iterator[Stack]:
    """An emulator paced for ``setting`` (or ``pacing``, a SETTINGS-shaped override) and the
    gateway(s), warmed up, and with ``relay`` the bare relay of ``bench/relay.py`` in front of
    the emulator; stopped on exit. With ``options.tls`` the emulator serves HTTPS."""
    paced = pacing or SETTINGS[setting]
    base = tmp / (setting + ("-tls" if options.tls else ""))
    (base / "home").mkdir(parents=True)
    procs.raise_open_files()
    env = procs.clean_env(base / "home")
    if options.upstream_connections:
        env["KIROGATE_UPSTREAM_CONNECTIONS"] = str(options.upstream_connections)
    tls = write_self_signed(base) if options.tls else None
    ca_file = None if tls is None else tls.cert
    if ca_file is not None:
        env["SSL_CERT_FILE"] = str(ca_file)  # the gateway's and the relay's trust, as a user's
    emulator_url = f"{'https' if tls else 'http'}://127.0.0.1:{procs.free_port()}"
    processes = 1 if options.database_url else options.workers
    with contextlib.ExitStack() as exits:
        if options.database_url:
            database = f"kirogate_bench_{setting}_{os.getpid()}"
            url = exits.enter_context(fresh_database(options.database_url, database))
            options = dataclasses.replace(options, database_url=url)
        emulator = exits.enter_context(
            procs.running(
                _emulator_args(setting, int(emulator_url.rsplit(":", 1)[1]), tls, paced),
                f"{emulator_url}/_emulator/stats",
                env,
                base / "emulator.log",
                ca_file=ca_file,
            )
        )
        gateways, urls = [], []
        for k in range(processes):
            # One account per process: the emulator rotates refresh tokens on use.
            creds = base / f"credentials-{k}.json"
            token = f"aorAAAAAGbench{setting}{k}" + "r" * 120
            creds.write_text(json.dumps([{"refreshToken": token, "authMethod": "social"}]))
            creds.chmod(0o600)
            url = f"http://127.0.0.1:{procs.free_port()}"
            args = _serve_args(
                int(url.rsplit(":", 1)[1]), creds, emulator_url, base / f"data-{k}", options
            )
            log = base / f"gateway-{k}.log"
            gateways.append(
                exits.enter_context(
                    procs.running(args, f"{url}/health", env, log, options.python_args)
                )
            )
            urls.append(url)
        api_key = operator_setup(urls[0]) if options.operator else API_KEY
        slow = paced["count"] * paced["event_delay"] > SLOW_ANSWER_S
        prefix = SHORT_ANSWER if slow else ""
        rounds = 5 * (options.workers if options.database_url else 1)
        warm_up(urls, rounds=rounds, api_key=api_key, prefix=prefix)
        headers, body = recorded_request(emulator_url, ca_file, strip=prefix)
        # The relay's warm-ups: the recorded request as sent (with the marker: a short answer).
        warm = recorded_request(emulator_url, ca_file)[1] if slow else body
        st = Stack(setting, emulator, emulator_url, gateways, urls, headers, body)
        st.api_key = api_key
        st.ca_file = ca_file
        if relay:
            port = procs.free_port()
            st.relay_url = f"http://127.0.0.1:{port}"
            relay_env = env | {"UPSTREAM": emulator_url, "PORT": str(port)}
            command = [sys.executable, str(Path(__file__).with_name("relay.py"))]
            st.relay = exits.enter_context(
                procs.running_command(command, st.relay_url, relay_env, base / "relay.log")
            )
            for _ in range(5):  # its session, TLS context and connection, as the gateway's
                _post(f"{st.relay_url}/generateAssistantResponse", warm, _replayable(headers))
        yield st

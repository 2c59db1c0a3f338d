"""``kirogate serve``: find credentials, print the banner, run uvicorn."""

from __future__ import annotations

import asyncio
import base64
import errno
import gc
import logging
import os
import pickle
import secrets
import signal
import socket
import sys
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kirogate import __version__
from kirogate.errors import ConfigError, KirogateError
from kirogate.log import setup_logging
from kirogate.metrics.directory import MULTIPROC_ENV, fresh_directory
from kirogate.settings import ServerSettings, Settings

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from kirogate.pool.state import CredentialState
    from kirogate.upstream.auth.sources import DiscoveryResult
    from kirogate.upstream.credentials import Credential

# With --workers the supervisor only binds the socket and watches its workers: the app, the
# store and the credential code load in a short-lived child that runs the checks before start
# (:func:`prepare_workers`) and in the workers, never here (tests/memory/test_supervisor_modules.py).
log = logging.getLogger(__name__)

API_KEY_FILE = "api_key"
ADMIN_KEY_FILE = "admin_key"
# --workers processes (internal): "<state file>:<one-time key>". The file in the data dir
# (0600) holds the settings and credentials encrypted with that key; the environment alone
# carries no secret, nor does the file alone. Deleted when the server stops.
WORKER_STATE_ENV = "KIROGATE__WORKER_STATE"
WORKER_STATE_PREFIX = ".worker-state-"
# Seconds uvicorn waits past the gateway's own cut (grace + settle, service/shutdown.py)
# before it cancels what is left itself, with a traceback each.
SHUTDOWN_MARGIN = 3.0


def freeze_startup_objects() -> None:
    """Collect once, then exempt every object alive now from later cyclic collections.

    Nearly all of them (modules, classes, functions, settings) live as long as the process;
    without this each full collection walks them all again.
    """
    gc.collect()
    gc.freeze()


def ensure_data_dir(settings: Settings) -> Path:
    path = settings.data_path
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def load_or_create_api_key(data_dir: Path) -> tuple[str, bool]:
    """The generated client key kept in the data dir (0600); ``True`` when newly created."""
    return _load_or_create_key(data_dir / API_KEY_FILE, "kg-", 24)


def load_or_create_admin_key(data_dir: Path) -> tuple[str, bool]:
    """The generated admin key kept in the data dir (0600); ``True`` when newly created."""
    return _load_or_create_key(data_dir / ADMIN_KEY_FILE, "kga-", 32)


def _load_or_create_key(key_file: Path, prefix: str, nbytes: int) -> tuple[str, bool]:
    """The key in ``key_file``, created (random, 0600) when missing; ``True`` when new.

    Created with O_EXCL, so processes starting together on one data dir agree on one key.
    """
    for _ in range(50):
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            key = ""
        if key:
            return key, False
        key = prefix + secrets.token_urlsafe(nbytes)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            time.sleep(0.02)  # another process is writing it; read theirs
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key + "\n")
        return key, True
    raise ConfigError(f"{key_file} exists but stays empty; delete it and start again")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """Where a generated key is kept (``None``: configured, not generated), and if it is new."""

    file: Path | None = None
    new: bool = False


def check_port_free(host: str, port: int) -> None:
    """Fail early, naming the port and how to choose another, when something listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise ConfigError(
                    f"port {port} on {host} is already in use (or not allowed); "
                    f"pick another with --port, e.g. kirogate serve --port {port + 1}"
                ) from exc
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def describe_credential(cred: Credential, state: CredentialState | None, now: datetime) -> str:
    """One banner line: the store's id and the email when known, auth, state, expiry, source."""
    from kirogate.pool.status import state_text

    who = " ".join(part for part in (f"#{cred.id}" if cred.id else "", cred.email or "") if part)
    expiry = (
        "no expiry"
        if cred.is_api_key
        else (
            f"token expires {cred.expires_at:%Y-%m-%d %H:%M} UTC"
            if cred.expires_at
            else "token will be refreshed"
        )
    )
    origin = cred.origin
    source = (
        "stored (accounts add/import, login or the admin API)"
        if origin is None or origin.kind == "store"
        else f"from {origin.describe()}"
    )
    return f"{who or cred.label} [{cred.auth_method.value}] {state_text(state, now)}, {expiry} - {source}"


class _Style:
    """The other commands' look (rich's marks and colours) in plain ANSI: the serving process
    keeps rich out of memory. Colours only on a terminal, unless ``NO_COLOR`` / ``TERM=dumb``."""

    def __init__(self, environ: Mapping[str, str], stream: Any) -> None:
        tty = bool(getattr(stream, "isatty", lambda: False)())
        self.on = bool(environ.get("FORCE_COLOR")) or (
            tty and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"
        )

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on else text

    def bold(self, text: str) -> str:
        return self._paint("1", text)

    def ok(self) -> str:
        return self._paint("32", "✓")

    def warn(self) -> str:
        return self._paint("33", "!")

    def fail(self) -> str:
        return self._paint("31", "✗")

    def mark(self, state: CredentialState | None, now: datetime) -> str:
        if state is None or not (state.disabled or state.cooling(now)):
            return self.ok()
        return self.fail() if state.disabled else self.warn()


def print_banner(
    settings: Settings,
    found: DiscoveryResult,
    api_key: str,
    new_key: bool,
    key_file: Path,
    *,
    stored: Sequence[Credential] = (),
    states: Mapping[int, CredentialState] | None = None,
    store: str | None = None,
    environ: Mapping[str, str] | None = None,
    admin: GeneratedKey | None = None,
) -> None:
    """The start-up banner: where to connect, with which key, the pool, the admin API.

    ``stored`` is every credential in the store after the sources were imported, numbered as
    the store numbers them (``kirogate accounts list`` and the admin API show the same ids);
    ``states`` their pool state by id; ``store`` names the store (its masked URL) so "none
    found" can say it was looked at too.
    """
    from kirogate.upstream.credentials import mask_secret

    server: ServerSettings = settings.server
    admin = admin or GeneratedKey()
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
    base = f"http://{host}:{server.port}"
    out = sys.stdout
    style = _Style(os.environ if environ is None else environ, out)
    listening = f"{server.host}:{server.port}" if host != server.host else base
    lines = [
        "",
        f"{style.ok()} kirogate {__version__} is listening on {listening}",
        "",
        style.bold("Connect a client:"),
        f"  Anthropic (Claude Code, SDK):  ANTHROPIC_BASE_URL={base}",
        f"  OpenAI (SDK, Cline, Codex):    OPENAI_BASE_URL={base}/v1",
    ]
    # ``api_key`` is set only when no key was configured and the data dir's one is used.
    if api_key and new_key:
        lines.append(f"  API key (generated, saved in {key_file}): {api_key}")
    elif api_key:
        lines.append(f"  API key: {mask_secret(api_key)}, saved in {key_file} (cat it to see it)")
    else:
        count = len(server.api_keys)
        what = "the one" if count == 1 else f"the {count}"
        lines.append(f"  API key: {what} you configured (--api-key / KIROGATE_API_KEY)")
    if api_key:
        lines.append(f"    background runs (serve -d) use the same key: cat {key_file}")
    admin_url = f"{base}/api/admin/credentials (send the admin key as x-api-key)"
    if not server.admin:
        lines.append("  Admin API: off (--no-admin)")
    elif server.admin_key and admin.new and admin.file is not None:
        lines.append(f"  Admin API: {admin_url}")
        lines.append(f"  Admin key (generated, saved in {admin.file}): {server.admin_key}")
    elif server.admin_key and admin.file is not None:
        lines.append(f"  Admin API: {admin_url}")
        lines.append(f"    admin key saved in {admin.file} (cat it to see it)")
    elif server.admin_key:
        lines.append(f"  Admin API: {admin_url}")
        lines.append("    admin key: the one you configured (--admin-key / KIROGATE_ADMIN_KEY)")
    else:
        lines.append("  Admin API: off (turn it on with --admin-key or KIROGATE_ADMIN_KEY)")
    if server.admin and server.admin_key:
        lines.append(f"  Console: {base}/admin (sign in with the admin key)")
    if settings.upstream.url:
        lines += ["", f"{style.bold('Upstream:')} {settings.upstream.url} (override)"]
    now = datetime.now(UTC)
    states = states or {}
    lines += ["", style.bold(f"Credentials ({len(stored)}):")]
    for cred in stored:
        state = states.get(cred.id) if cred.id is not None else None
        lines.append(f"  {style.mark(state, now)} {describe_credential(cred, state, now)}")
    if not stored:
        lines.append("  none found. Looked at:")
        lines += [f"    - {place}" for place in found.looked_at]
        if store is not None:
            lines.append(f"    - the store {store}: no credentials")
        lines += [
            "  Add one:",
            "    kirogate login                      (AWS Builder ID; --social google|github)",
            "    kirogate accounts import FILE       (kiro.rs, Kiro IDE or kiro2api JSON)",
            "    kirogate serve --credentials FILE / --kiro-file FILE, or set REFRESH_TOKEN,",
            "    CREDENTIALS_JSON or KIRO_AUTH_TOKEN; the Kiro IDE writes",
            "    ~/.aws/sso/cache/kiro-auth-token.json when you log in there.",
            "  Requests are refused with 403 until a credential is added.",
        ]
    out.write("\n".join(lines) + "\n\n")
    out.flush()


def run_server(settings: Settings, environ: Mapping[str, str]) -> int:
    setup_logging(settings.log_level, fmt=settings.log_format, file=settings.log_file)
    data_dir = ensure_data_dir(settings)
    if settings.workers > 1:
        return run_supervisor(settings, environ, data_dir)
    import uvicorn

    from kirogate.api.app import create_app
    from kirogate.api.http_protocol import BoundedHttpToolsProtocol, set_head_timeout
    from kirogate.service import Gateway

    settings, credentials = prepare(settings, environ)
    set_head_timeout(settings.server.header_timeout)
    # uvicorn re-raises the SIGTERM it handled once it has stopped: exit 0 then, not 143.
    signal.signal(signal.SIGTERM, exit_quietly)
    app = create_app(Gateway(settings, credentials, persistent=True), stop_signals=True)
    freeze_startup_objects()
    uvicorn.run(app, **uvicorn_options(settings, BoundedHttpToolsProtocol))
    return 0


def prepare(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, list[Credential]]:
    """Everything before listening: the credential sources, the generated keys, the port and
    store checks, the banner. Returns the settings with the keys in and the sources' credentials."""
    from kirogate.upstream.auth.sources import discover_credentials

    data_dir = ensure_data_dir(settings)
    found = discover_credentials(
        settings.credentials_files,
        settings.kiro_files,
        environ,
        default_ide_file=not (
            settings.credentials_files or settings.kiro_files or settings.kiro_cli_dbs
        ),
        kiro_cli_dbs=settings.kiro_cli_dbs,
    )
    api_key, new_key = "", False
    if not settings.server.api_keys:
        api_key, new_key = load_or_create_api_key(data_dir)
        settings = _with_api_keys(settings, (api_key,))
    admin = GeneratedKey()
    if not settings.server.admin:
        settings = replace(settings, server=replace(settings.server, admin_key=None))
    elif not (settings.server.admin_key or "").strip():
        key, new = load_or_create_admin_key(data_dir)
        admin = GeneratedKey(data_dir / ADMIN_KEY_FILE, new)
        settings = replace(settings, server=replace(settings.server, admin_key=key))
    check_port_free(settings.server.host, settings.server.port)
    stored, states, store_url = asyncio.run(preflight_store(settings, found))
    print_banner(
        settings,
        found,
        api_key,
        new_key,
        data_dir / API_KEY_FILE,
        stored=stored,
        states=states,
        store=store_url,
        environ=environ,
        admin=admin,
    )
    return settings, found.credentials


def uvicorn_options(settings: Settings, http: Any) -> dict[str, Any]:
    """``uvicorn.Config``'s keywords; ``http`` is the protocol class or its import string."""
    return {
        "host": settings.server.host,
        "port": settings.server.port,
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        # httptools, with a bound on the request's head and the time it may take to arrive
        "http": http,
        "log_level": settings.log_level,
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": graceful_timeout(settings.server.shutdown_grace),
        # The client address is the socket peer: uvicorn would otherwise believe
        # X-Forwarded-For from 127.0.0.1, letting any local client choose its address.
        "proxy_headers": False,
    }


def run_supervisor(settings: Settings, environ: Mapping[str, str], data_dir: Path) -> int:
    """``--workers N``: the checks and the banner in a child, then uvicorn's supervisor here.

    Each worker process builds its own gateway from the state the child left, and shares
    its metrics through files in a directory emptied for this run.
    """
    if not (settings.database_url or "").startswith("postgres"):
        raise ConfigError(
            f"--workers {settings.workers} needs PostgreSQL: SQLite mode is single-process. "
            "Pass --database-url postgresql+asyncpg://... (and --redis-url for shared locks), "
            "or run with --workers 1"
        )
    signal.signal(signal.SIGTERM, exit_quietly)
    state_file, state_key = worker_state_slot(data_dir)
    try:
        options = prepare_workers(settings, environ, state_file, state_key)
        import uvicorn

        os.environ[MULTIPROC_ENV] = str(fresh_directory(data_dir))
        os.environ[WORKER_STATE_ENV] = f"{state_file}:{state_key}"
        run_workers(uvicorn.Config(f"{__name__}:worker_app", factory=True,
                                   workers=settings.workers, **options))  # fmt: skip
    finally:
        os.environ.pop(WORKER_STATE_ENV, None)
        state_file.unlink(missing_ok=True)
    return 0


def graceful_timeout(grace: float) -> float:
    """uvicorn's ``timeout_graceful_shutdown``: past the gateway's own end of the answers."""
    from kirogate.service.shutdown import SETTLE

    return grace + SETTLE + SHUTDOWN_MARGIN


def exit_quietly(signum: int, frame: Any) -> None:
    """SIGTERM outside uvicorn's own handling (before it serves, or re-raised after): exit 0."""
    raise SystemExit(0)


def run_workers(config: Any) -> None:
    """``uvicorn.run`` with ``--workers``, through :class:`_Supervisor`."""
    sock = config.bind_socket()
    try:
        _supervisor_class()(config, sockets=[sock]).run()
    finally:
        sock.close()


def _supervisor_class() -> Any:
    from uvicorn.supervisors import Multiprocess

    class _Supervisor(Multiprocess):
        """uvicorn's supervisor, closing the listening socket before it stops the workers:
        while they drain, new connections are refused instead of queueing unanswered."""

        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

    return _Supervisor


async def preflight_store(
    settings: Settings, found: DiscoveryResult
) -> tuple[list[Credential], dict[int, CredentialState], str]:
    """Open the store once before listening: schema upgrade, the single-process check and the
    source import fail here with a clear message; returns every stored credential (the
    sources' included, with the store's ids) and their pool state by id."""
    from kirogate.store import Store

    store = await Store.open(
        database_url=settings.database_url,
        data_dir=settings.data_path,
        secret_key=settings.secret_key,
        serve=True,
        isolated_migration=True,
    )
    try:
        files = settings.source_files
        await store.sync_sources([replace(c) for c in found.credentials], files=files)
        credentials = await store.list_credentials()
        states = {state.id: state for state in await store.load_states()}
        return credentials, states, store.display_url
    finally:
        await store.close()


def worker_state_slot(data_dir: Path) -> tuple[Path, str]:
    """A new path in the data dir for the workers' state, and the one-time key to seal it with
    (a Fernet key, made here without loading ``cryptography``)."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    return data_dir / f"{WORKER_STATE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}", key


def seal_worker_state(
    path: Path, key: str, settings: Settings, credentials: list[Credential]
) -> None:
    """Write the settings and credentials to ``path`` (new, 0600), encrypted with ``key``.

    Fernet's HMAC also means a file someone else wrote is refused before it is unpickled.
    """
    from cryptography.fernet import Fernet

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet(key).encrypt(pickle.dumps((settings, credentials))))


def write_worker_state(data_dir: Path, settings: Settings, credentials: list[Credential]) -> Path:
    """Hand the workers their state: an encrypted 0600 file, its path and key in the environment."""
    path, key = worker_state_slot(data_dir)
    seal_worker_state(path, key, settings, credentials)
    os.environ[WORKER_STATE_ENV] = f"{path}:{key}"
    return path


def prepare_workers(
    settings: Settings, environ: Mapping[str, str], state_file: Path, state_key: str
) -> dict[str, Any]:
    """:func:`prepare` and the workers' state file, in a short-lived child process; returns
    the keywords of the workers' ``uvicorn.Config`` (the protocol named by its import path).

    The supervisor thus never loads the store, the credential code or ``cryptography``
    (uvicorn's workers are spawned, not forked, so they would not inherit them anyway; the
    point is the supervisor's own memory). The child's errors come back as the same
    :class:`ConfigError` or :class:`KirogateError` message; an unexpected one prints its
    traceback there.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_prepare_child,
        args=(settings, dict(environ), state_file, state_key, sender),
        name="kirogate-prepare",
        daemon=True,
    )
    child.start()
    sender.close()
    kind: str
    message: Any
    try:
        try:
            kind, message = receiver.recv()
        except EOFError:
            kind, message = "failure", "the checks before start-up failed (see above)"
        child.join()
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
            child.join()
    if kind == "config":
        raise ConfigError(message)
    if kind == "failure":
        raise KirogateError(message)
    if kind == "interrupted":
        raise KeyboardInterrupt
    options: dict[str, Any] = message
    return options


def _prepare_child(
    settings: Settings,
    environ: dict[str, str],
    state_file: Path,
    state_key: str,
    sender: Connection,
) -> None:
    """The body of :func:`prepare_workers`' child: sends back ``(kind, message)``, the
    options when all went well (they need ``service.shutdown``, the supervisor has none)."""
    outcome: tuple[str, Any]
    try:
        setup_logging(settings.log_level, fmt=settings.log_format, file=settings.log_file)
        settings, credentials = prepare(settings, environ)
        seal_worker_state(state_file, state_key, settings, credentials)
        http = "kirogate.api.http_protocol:BoundedHttpToolsProtocol"
        outcome = ("ok", uvicorn_options(settings, http))
    except ConfigError as exc:
        outcome = ("config", str(exc))
    except KirogateError as exc:
        outcome = ("failure", str(exc))
    except KeyboardInterrupt:
        outcome = ("interrupted", "")
    sender.send(outcome)
    sender.close()


def read_worker_state(environ: MutableMapping[str, str]) -> tuple[Settings, list[Credential]]:
    """The state :func:`write_worker_state` left; the variable is taken out of ``environ``."""
    from cryptography.fernet import Fernet, InvalidToken

    value = environ.pop(WORKER_STATE_ENV, "")
    path, _, key = value.rpartition(":")
    try:
        token = Path(path).read_bytes()
        state: tuple[Settings, list[Credential]] = pickle.loads(Fernet(key).decrypt(token))
    except (OSError, ValueError, InvalidToken) as exc:
        raise ConfigError(f"this worker found no usable state from its server: {exc}") from exc
    return state


def worker_app() -> Any:
    """The app of one ``--workers`` process (uvicorn imports this factory in each worker)."""
    from kirogate.api.app import create_app
    from kirogate.api.http_protocol import set_head_timeout
    from kirogate.service import Gateway

    settings, credentials = read_worker_state(os.environ)
    setup_logging(settings.log_level, fmt=settings.log_format, file=settings.log_file)
    set_head_timeout(settings.server.header_timeout)
    # The checks child imported the sources before any worker started (see Gateway).
    gateway = Gateway(settings, credentials, persistent=True, sources_imported=True)
    app = create_app(gateway, stop_signals=True)
    freeze_startup_objects()
    return app


def _with_api_keys(settings: Settings, keys: tuple[str, ...]) -> Settings:
    return replace(settings, server=replace(settings.server, api_keys=keys))

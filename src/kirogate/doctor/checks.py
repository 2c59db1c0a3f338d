"""The checks that need no network: data directory, file modes, credentials, the port."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from kirogate.errors import ConfigError, KirogateError
from kirogate.serve import API_KEY_FILE, check_port_free
from kirogate.settings import Settings
from kirogate.upstream.auth.sources import (
    DiscoveryResult,
    discover_credentials,
    expand_home,
    short_token_length,
)
from kirogate.upstream.credentials import Credential, mask_secret

# Files in the data directory that hold secrets and must not be readable by others.
SECRET_FILES = (
    API_KEY_FILE,
    "secret.key",
    "kirogate.db",
    "kirogate.db-wal",
    "kirogate.db-shm",
    "credentials.json",
    "kirogate.log",
)
LOGIN_HINT = (
    "log in with `kirogate login`, the Kiro IDE (~/.aws/sso/cache/kiro-auth-token.json), "
    "--credentials FILE, or set REFRESH_TOKEN / CREDENTIALS_JSON"
)


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(slots=True)
class Check:
    """One line of the report, with optional indented details."""

    name: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _loose(path: Path) -> bool:
    return bool(_mode(path) & 0o077)


def check_data_dir(settings: Settings) -> Check:
    path = settings.data_path
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            return Check("data dir", Status.FAIL, f"{path} does not exist and cannot be created")
        return Check(
            "data dir",
            Status.WARN,
            f"{path} does not exist yet; `kirogate serve` creates it (0700)",
        )
    if not path.is_dir():
        return Check("data dir", Status.FAIL, f"{path} is not a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data dir", Status.FAIL, f"{path} is not writable: {exc.strerror or exc}")
    if _loose(path):
        return Check(
            "data dir",
            Status.WARN,
            f"{path} is writable but open to other users (mode {_mode(path):04o})",
            [f"fix: chmod 700 {path}"],
        )
    return Check("data dir", Status.OK, f"{path} is writable (mode {_mode(path):04o})")


def secret_file_paths(settings: Settings, environ: Mapping[str, str]) -> list[Path]:
    """Existing files that hold secrets: the data dir's own, credential files, the log file."""
    candidates = [settings.data_path / name for name in SECRET_FILES]
    candidates += [expand_home(Path(p), environ) for p in settings.credentials_files]
    candidates += [expand_home(Path(p), environ) for p in settings.kiro_files]
    candidates += [expand_home(Path(p), environ) for p in settings.kiro_cli_dbs]
    if settings.log_file is not None:
        candidates.append(settings.log_file.expanduser())
    seen: set[Path] = set()
    out = []
    for path in candidates:
        if path not in seen and path.is_file():
            seen.add(path)
            out.append(path)
    return out


def check_file_modes(paths: Sequence[Path]) -> Check:
    if not paths:
        return Check("file modes", Status.OK, "no secret files yet")
    loose = [p for p in paths if _loose(p)]
    if not loose:
        return Check("file modes", Status.OK, f"{len(paths)} secret file(s) are 0600 or stricter")
    return Check(
        "file modes",
        Status.WARN,
        f"{len(loose)} secret file(s) readable by other users",
        [f"{p} is {_mode(p):04o}; fix: chmod 600 {p}" for p in loose],
    )


def discover(settings: Settings, environ: Mapping[str, str]) -> DiscoveryResult | Check:
    """The same discovery ``kirogate serve`` runs, or a failed check naming the bad source."""
    try:
        return discover_credentials(
            settings.credentials_files,
            settings.kiro_files,
            environ,
            default_ide_file=not (
                settings.credentials_files or settings.kiro_files or settings.kiro_cli_dbs
            ),
            kiro_cli_dbs=settings.kiro_cli_dbs,
        )
    except (KirogateError, OSError) as exc:
        return Check("credentials", Status.FAIL, f"a credential source is unusable: {exc}")


def check_credential_sources(found: DiscoveryResult, stored: int | None) -> Check:
    details = [f"looked at {place}" for place in found.looked_at]
    if stored is not None:
        details.append(f"database: {stored} credential(s)")
    total = len(found.credentials) + (stored or 0)
    if total == 0:
        return Check("credentials", Status.FAIL, f"none found; {LOGIN_HINT}", details)
    return Check("credentials", Status.OK, f"{total} credential(s) found", details)


def _until(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    if span < 120:
        text = f"{span:.0f}s"
    elif span < 7200:
        text = f"{span / 60:.0f} min"
    elif span < 172800:
        text = f"{span / 3600:.1f} h"
    else:
        text = f"{span / 86400:.0f} days"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def check_token(credential: Credential, *, now: datetime | None = None) -> Check:
    """Expiry and refresh token of one credential; secrets are shown masked only."""
    now = now or datetime.now(UTC)
    name = f"credential {credential.label}"
    source = credential.origin.describe() if credential.origin else "?"
    kind = credential.auth_method.value
    details = [f"from {source}"]
    if credential.disabled:
        reason = credential.disabled_reason or "disabled"
        return Check(name, Status.WARN, f"[{kind}] disabled: {reason}", details)
    if credential.is_api_key:
        shown = mask_secret(credential.kiro_api_key)
        return Check(name, Status.OK, f"[{kind}] API key {shown}, no expiry", details)
    if credential.refresh_token:
        details.append(f"refresh token {mask_secret(credential.refresh_token)}")
    short = short_token_length(credential)
    if short is not None:
        details.append(f"the refresh token is only {short} characters; real Kiro ones are longer")
    expires = credential.expires_at
    if not credential.access_token or expires is None:
        if credential.refresh_token:
            return Check(
                name, Status.OK, f"[{kind}] no access token yet; refreshed on first use", details
            )
        return Check(name, Status.FAIL, f"[{kind}] no access token and no refresh token", details)
    when = f"{expires:%Y-%m-%d %H:%M} UTC ({_until(expires, now)})"
    if expires > now:
        return Check(name, Status.OK, f"[{kind}] access token valid until {when}", details)
    if credential.refresh_token:
        return Check(
            name,
            Status.OK,
            f"[{kind}] access token expired {when}; refreshed on first use",
            details,
        )
    return Check(
        name, Status.FAIL, f"[{kind}] access token expired {when} and no refresh token", details
    )


def check_tokens(credentials: Iterable[Credential]) -> list[Check]:
    now = datetime.now(UTC)
    return [check_token(credential, now=now) for credential in credentials]


# ---------------------------------------------------------------- port


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """``pid N (command)`` of a process listening on ``port``, when this user can see it."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    raw = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                    command = raw.decode(errors="replace")[:120] or "?"
                    return f"pid {entry.name} ({command})"
        except OSError:
            continue
    return None


def check_port(settings: Settings, *, kirogate_version: str | None = None) -> Check:
    """Free, or who holds it; ``kirogate_version`` when a kirogate answers /health there."""
    host, port = settings.server.host, settings.server.port
    try:
        check_port_free(host, port)
    except ConfigError as exc:
        if kirogate_version is not None:
            return Check(
                "port",
                Status.WARN,
                f"{host}:{port} is in use by a running kirogate {kirogate_version}",
                ["fine if it is the one you mean to use; else pick another with --port"],
            )
        holder = port_holder(port)
        details = [f"held by {holder}"] if holder else []
        return Check("port", Status.FAIL, str(exc), details)
    return Check("port", Status.OK, f"{host}:{port} is free")

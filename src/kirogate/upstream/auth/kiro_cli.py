"""The kiro-cli / Amazon Q Developer CLI token store as a credential source, read-only.

The command line keeps its login in a SQLite file (``data.sqlite3``) whose ``auth_kv`` table
maps keys to JSON values (JW reads it the same way). The token is under the first of
:data:`TOKEN_KEYS` present: a social login (Google, GitHub) or an OIDC one (Builder ID, IAM
Identity Center), whose client registration is under one of :data:`REGISTRATION_KEYS`. The
values use snake_case: ``access_token``, ``refresh_token``, ``expires_at`` (RFC 3339),
``region`` (the SSO region, for the token refresh), ``profile_arn``; the registration holds
``client_id``, ``client_secret`` and ``region``.

The file belongs to the CLI, which may be running: it is opened with ``mode=ro`` (falling back
to ``immutable=1`` when even a read-only open needs to write the WAL's shared-memory file, as
on a read-only directory) and never written. Tokens kirogate refreshes stay in its own store;
on the next start the source's tokens replace the stored ones only if the CLI rotated them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kirogate.errors import CredentialSourceError
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin

KIND = "kiro-cli"
# Searched in this order; the first present is the CLI's current login.
TOKEN_KEYS = ("kirocli:social:token", "kirocli:odic:token", "codewhisperer:odic:token")
REGISTRATION_KEYS = ("kirocli:odic:device-registration", "codewhisperer:odic:device-registration")
# Where the CLIs keep the file (Linux, then macOS), kiro-cli first; the Amazon Q CLI is its
# predecessor and uses the same layout.
DEFAULT_DB_PATHS = (
    Path("~/.local/share/kiro-cli/data.sqlite3"),
    Path("~/.local/share/amazon-q/data.sqlite3"),
    Path("~/Library/Application Support/kiro-cli/data.sqlite3"),
    Path("~/Library/Application Support/amazon-q/data.sqlite3"),
)


def _connect(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=2.0)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        # A WAL database in a directory we may not write: read the file as it is.
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=2.0)


def read_auth_kv(path: Path) -> dict[str, str]:
    """The ``auth_kv`` rows of the token keys and registration keys (others are not read)."""
    if not path.exists():
        raise CredentialSourceError(str(path), "file not found")
    if not path.is_file():
        raise CredentialSourceError(str(path), "is not a file (give the CLI's data.sqlite3)")
    wanted = TOKEN_KEYS + REGISTRATION_KEYS
    marks = ",".join("?" * len(wanted))
    try:
        with contextlib.closing(_connect(path)) as conn:
            rows = conn.execute(
                f"SELECT key, value FROM auth_kv WHERE key IN ({marks})",
                wanted,
            ).fetchall()
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "no such table" in text:
            message = "has no auth_kv table: not a kiro-cli / Amazon Q CLI database"
        elif "not a database" in text or "file is encrypted" in text:
            message = "is not a SQLite database"
        else:
            message = f"cannot be read: {text}"
        raise CredentialSourceError(str(path), message) from None
    values = {}
    for key, value in rows:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        values[str(key)] = str(value)
    return values


def _object(values: Mapping[str, str], key: str, path: Path) -> dict[str, Any]:
    source = f"{path} auth_kv[{key}]"
    try:
        data = json.loads(values[key])
    except json.JSONDecodeError as exc:
        raise CredentialSourceError(source, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise CredentialSourceError(source, "expected a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str, source: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CredentialSourceError(
            source, f"must be a string, got {type(value).__name__}", field=name
        )
    return value


def load_kiro_cli_db(path: Path) -> list[Credential]:
    """The CLI's current login as a credential (none when it is logged out)."""
    from kirogate.upstream.auth.sources import parse_expires_at

    values = read_auth_kv(path)
    key = next((k for k in TOKEN_KEYS if k in values), None)
    if key is None:
        return []
    token = _object(values, key, path)
    source = f"{path} auth_kv[{key}]"
    refresh_token = _text(token, "refresh_token", source)
    if not refresh_token:
        raise CredentialSourceError(
            source, "no refresh_token (log in with the CLI again)", field="refresh_token"
        )
    expires_at = None
    if token.get("expires_at") not in (None, ""):
        try:
            expires_at = parse_expires_at(token["expires_at"])
        except ValueError as exc:
            raise CredentialSourceError(source, str(exc), field="expires_at") from None
    region = _text(token, "region", source)
    client_id = client_secret = None
    social = key.endswith(":social:token")
    if not social:
        registration_key = next((k for k in REGISTRATION_KEYS if k in values), None)
        if registration_key is None:
            raise CredentialSourceError(
                source,
                "an OIDC login needs its client registration "
                f"({' or '.join(REGISTRATION_KEYS)}), which the database lacks",
                field="client_id",
            )
        registration = _object(values, registration_key, path)
        where = f"{path} auth_kv[{registration_key}]"
        client_id = _text(registration, "client_id", where)
        client_secret = _text(registration, "client_secret", where)
        if not client_id or not client_secret:
            missing = "client_id" if not client_id else "client_secret"
            raise CredentialSourceError(where, "missing in the client registration", field=missing)
        region = region or _text(registration, "region", where)
    return [
        Credential(
            auth_method=AuthMethod.SOCIAL if social else AuthMethod.IDC,
            refresh_token=refresh_token,
            access_token=_text(token, "access_token", source),
            expires_at=expires_at,
            profile_arn=_text(token, "profile_arn", source),
            client_id=client_id,
            client_secret=client_secret,
            # The token's region is where it is refreshed (the SSO region); the API's own
            # region stays the gateway's default (JW: the API answers in us-east-1).
            auth_region=region,
            provider=_text(token, "provider", source) if social else None,
            origin=CredentialOrigin(KIND, path),
            # Only the key read: other fields of the CLI's value (an id token?) are not kept.
            extra={"kiroCliKey": key},
        )
    ]


def default_kiro_cli_dbs(home: Path) -> list[Path]:
    """The CLIs' token files that exist under ``home``."""
    paths = [home.joinpath(*path.parts[1:]) for path in DEFAULT_DB_PATHS]
    return [path for path in paths if path.is_file()]

"""Write refreshed tokens back to the file a credential came from, atomically.

The new JSON goes to a temp file in the same directory (mode 0600), is fsynced and renamed over
the original, so a crash leaves either the old or the new file, never half of one. The file's
current JSON is read first and the credential's fields merged over it, so keys we do not know
survive. One lock per path keeps two write-backs of the same file from interleaving inside this
process (other processes are not locked out: last writer wins, as with every peer).

What is written depends on the origin:

- ``kiro-rs`` (credentials.json): every kiro.rs field we hold, camelCase, like kiro.rs'
  ``persist_credentials`` (it rewrites array files only; we also update single-object files);
  array elements are found by ``id``, else by position;
- ``kiro-ide`` (IDE / AIClient-2-API token files) and ``kiro2api`` files: only ``accessToken``,
  ``refreshToken``, ``expiresAt`` and ``profileArn`` (as AIClient-2-API does);
- ``env`` and ``store`` origins: nothing (the store persists itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirogate.errors import CredentialSourceError
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

FILE_MODE = 0o600
TEMP_MARK = ".kirogate-"
# Temp files left by a killed process are removed by the next write-back after this long.
STALE_TEMP_SECONDS = 600.0
FILE_KINDS = ("kiro-rs", "kiro-ide", "kiro2api")

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def format_expires_at(value: datetime) -> str:
    """RFC3339 UTC with milliseconds and ``Z``, as the IDE writes it: ``2025-12-31T02:32:45.144Z``."""
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def token_fields(credential: Credential) -> dict[str, Any]:
    """The fields a refresh changes, camelCase; absent values are left out."""
    fields = {
        "accessToken": credential.access_token,
        "refreshToken": credential.refresh_token,
        "expiresAt": format_expires_at(credential.expires_at) if credential.expires_at else None,
        "profileArn": credential.profile_arn,
    }
    return {key: value for key, value in fields.items() if value is not None}


def kiro_rs_fields(credential: Credential, existing: dict[str, Any]) -> dict[str, Any]:
    """Every kiro.rs ``credentials.json`` field the credential holds; defaults only if already present."""
    c = credential
    region_key = "idcRegion" if "idcRegion" in existing and "authRegion" not in existing else None
    file_id = c.origin.file_id if c.origin is not None else None
    fields: dict[str, Any] = {
        "id": file_id if file_id is not None else existing.get("id", c.id),
        **token_fields(c),
        "authMethod": c.auth_method.value,
        "clientId": c.client_id,
        "clientSecret": c.client_secret,
        "region": c.region,
        region_key or "authRegion": c.auth_region,
        "apiRegion": c.api_region,
        "machineId": c.machine_id,
        "email": c.email,
        "subscriptionTitle": c.subscription_title,
        "proxyUrl": c.proxy_url,
        "proxyUsername": c.proxy_username,
        "proxyPassword": c.proxy_password,
        "kiroApiKey": c.kiro_api_key,
        "tokenEndpoint": c.token_endpoint,
    }
    out = {key: value for key, value in fields.items() if value is not None}
    # kiro.rs omits priority 0, disabled false and the default endpoint; keep them if present.
    for key, value, default in (
        ("priority", c.priority, 0),
        ("disabled", c.disabled, False),
        ("endpoint", c.endpoint, "ide"),
        ("provider", c.provider, None),
    ):
        if value != default or key in existing:
            out[key] = value
    return out


def merge_credential(credential: Credential, existing: dict[str, Any]) -> dict[str, Any]:
    """``existing`` with the credential's fields for its origin kind written over it."""
    kind = credential.origin.kind if credential.origin else None
    updates = (
        kiro_rs_fields(credential, existing) if kind == "kiro-rs" else token_fields(credential)
    )
    return {**existing, **updates}


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _remove_stale_temps(path: Path) -> None:
    cutoff = time.time() - STALE_TEMP_SECONDS
    for temp in path.parent.glob(f".{path.name}{TEMP_MARK}*.tmp"):
        with contextlib.suppress(OSError):
            if temp.stat().st_mtime < cutoff:
                temp.unlink()


def atomic_write_json(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as pretty JSON: temp file, fsync, rename; mode 0600.

    On any error the temp file is removed and the original is untouched.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    _remove_stale_temps(path)
    # mkstemp creates the file with mode 0600, so the secret never exists with wider permissions.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.chmod(path, FILE_MODE)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on Windows, where the rename is enough.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _locate(items: list[Any], credential: Credential, source: str) -> int:
    origin = credential.origin
    assert origin is not None
    # The entry's id in the file: the origin's (store mode, where credential.id is a row id)
    # or, for credentials loaded straight from the file, the credential's own.
    wanted = origin.file_id if origin.file_id is not None else credential.id
    if origin.kind == "kiro-rs" and wanted is not None:
        for position, item in enumerate(items):
            if isinstance(item, dict) and item.get("id") == wanted:
                return position
    index = origin.index
    if index is not None and 0 <= index < len(items) and isinstance(items[index], dict):
        other = items[index].get("id")
        if other is None or other == wanted or origin.kind != "kiro-rs":
            return index
    raise CredentialSourceError(
        source,
        f"credential {credential.label} is no longer in this file (id {wanted}, "
        f"index {index}); refreshed tokens not written back",
    )


def _merge_into_file(path: Path, credential: Credential) -> None:
    source = str(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as exc:
        raise CredentialSourceError(
            source,
            f"not written back: the file is no longer valid JSON (line {exc.lineno} "
            f"column {exc.colno}); fix it or the refreshed tokens are lost on restart",
        ) from exc
    origin = credential.origin
    assert origin is not None
    if origin.array:
        if not isinstance(data, list):
            raise CredentialSourceError(source, "not written back: the file is no longer an array")
        position = _locate(data, credential, source)
        data[position] = merge_credential(credential, data[position])
    else:
        if not isinstance(data, dict):
            raise CredentialSourceError(source, "not written back: the file is no longer an object")
        data = merge_credential(credential, data)
    atomic_write_json(path, data)


def write_back(credential: Credential) -> bool:
    """Write the credential's current tokens to its source file; ``False`` if it has none.

    Raises :class:`CredentialSourceError` when the file cannot be read, parsed or written.
    """
    origin = credential.origin
    if origin is None or origin.path is None or origin.kind not in FILE_KINDS:
        return False
    path = origin.path.resolve()  # write through a symlink, do not replace it
    with _lock_for(path):
        try:
            _merge_into_file(path, credential)
        except OSError as exc:
            raise CredentialSourceError(
                str(origin.path), f"cannot write back refreshed tokens: {exc.strerror or exc}"
            ) from exc
    log.info("wrote refreshed tokens of %s to %s", credential.label, origin.describe())
    return True


async def write_back_async(credential: Credential) -> bool:
    """:func:`write_back` in a worker thread, for the token manager's callback.

    The thread gets a copy, so the event loop may keep updating the credential meanwhile.
    """
    return await asyncio.to_thread(write_back, replace(credential))

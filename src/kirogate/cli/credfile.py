"""kiro.rs ``credentials.json`` files written by ``login --output`` and ``accounts export``.

Entries are the camelCase kiro.rs fields (:func:`kirogate.upstream.auth.writeback.kiro_rs_fields`);
files are replaced atomically with mode 0600 since they hold refresh tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kirogate.cli.command_kit import CliError, mask
from kirogate.upstream.auth.writeback import atomic_write_json, kiro_rs_fields
from kirogate.upstream.credentials import Credential

SECRET_FIELDS = ("accessToken", "refreshToken", "clientSecret", "kiroApiKey", "proxyPassword")


def credential_entry(credential: Credential, *, redact: bool = False) -> dict[str, Any]:
    """One kiro.rs entry; with ``redact`` every secret is masked (the file cannot log in then)."""
    entry = kiro_rs_fields(credential, {})
    if redact:
        for key in SECRET_FIELDS:
            if key in entry:
                entry[key] = mask(str(entry[key]))
    return entry


def _existing(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not JSON (line {exc.lineno}): not overwriting it") from exc
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise CliError(f"{path} is neither a credentials object nor an array: not overwriting it")


def append_credential(path: Path, credential: Credential) -> tuple[int, bool]:
    """Add ``credential`` to the kiro.rs file at ``path`` (made an array); ``(index, added)``.

    A credential whose refresh token (or API key) is already in the file is not added twice.
    """
    items = _existing(path)
    entry = credential_entry(credential)
    secret = entry.get("refreshToken") or entry.get("kiroApiKey")
    for index, item in enumerate(items):
        if (
            isinstance(item, dict)
            and secret
            and secret
            in (
                item.get("refreshToken"),
                item.get("kiroApiKey"),
            )
        ):
            return index, False
    ids = [
        item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)
    ]
    if ids:
        entry["id"] = max(ids) + 1
    else:
        entry.pop("id", None)
    items.append(entry)
    write_entries(path, items)
    return len(items) - 1, True


def write_entries(path: Path, entries: list[Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_json(path, entries)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc

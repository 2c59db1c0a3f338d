"""Backup and restore: one JSON file with the credentials, client keys (hashed), settings,
blocked addresses, proxies and alert webhooks, readable only with the operator's passphrase.

The file's content is encrypted whole with AES-256-GCM under a key derived from the
passphrase with scrypt and a salt of its own; only the format, its version, the KDF and
cipher parameters and the counts per kind are in clear. The secrets inside are plaintext
once decrypted, so the file restores into a store with another secret key (another
machine). A wrong passphrase fails the GCM tag check before anything changes.

A restore merges (adds what is missing, updates rows found by their identifying columns
when they differ, skips the rest) or replaces (each kind emptied first); credentials go
through the operations, so they join the running pool and every instance hears of them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from kirogate.errors import InvalidRequest, KirogateError, NotFound
from kirogate.store.backup import BACKUP_TABLES, RowOutcome
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin

if TYPE_CHECKING:
    from kirogate.store import Store

log = logging.getLogger(__name__)

BACKUP_FORMAT = "kirogate-backup"
BACKUP_VERSION = 1
MIN_PASSPHRASE = 12
PASSPHRASE_HEADER = "X-Backup-Passphrase"
MODES = ("merge", "replace")
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_SALT_BYTES = 16
_NONCE_BYTES = 12
# Each restored table's change topic: every process reloads what it caches of it.
TABLE_TOPICS = {
    "settings": "settings",
    "blocked_ips": "ips",
    "proxies": "proxies",
    "api_keys": "keys",
    "alert_webhooks": "alerts",
}
_SKIPPED_FIELDS = frozenset({"origin"})


# A file cannot make the restore spend more than 128 * r * n = 256 MiB on scrypt.
_MAX_LOG_N, _MAX_R, _MAX_P = 18, 8, 4


def _sane_kdf(params: dict[str, Any]) -> bool:
    n, r, p = params["n"], params["r"], params["p"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (n, r, p)):
        return False
    return bool(n & (n - 1) == 0 and 1 < n <= 2**_MAX_LOG_N and r <= _MAX_R and p <= _MAX_P)


def check_passphrase(value: str | None) -> str:
    if value is None or len(value) < MIN_PASSPHRASE:
        raise InvalidRequest(
            f"{PASSPHRASE_HEADER}: give a passphrase of at least {MIN_PASSPHRASE} characters",
            param=PASSPHRASE_HEADER,
        )
    return value


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name}: base64 text expected", param=name)
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidRequest(f"{name}: not valid base64", param=name) from None


def _header(document: dict[str, Any]) -> bytes:
    """What the GCM tag also covers: the file's clear fields, so none can be altered."""
    clear = {k: document[k] for k in ("format", "version", "created_at", "kdf", "counts")}
    return json.dumps(clear, sort_keys=True, separators=(",", ":")).encode("utf-8")


def credential_record(credential: Credential) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in fields(Credential):
        if item.name in _SKIPPED_FIELDS:
            continue
        value = getattr(credential, item.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[item.name] = value
    return out


def credential_from_record(record: Any) -> Credential:
    if not isinstance(record, dict):
        raise InvalidRequest("not an object", param="credentials")
    known = {item.name for item in fields(Credential)} - _SKIPPED_FIELDS
    values = {key: value for key, value in record.items() if key in known}
    try:
        values["auth_method"] = AuthMethod(str(values.get("auth_method")))
        if isinstance(values.get("expires_at"), str):
            values["expires_at"] = datetime.fromisoformat(values["expires_at"])
        if not isinstance(values.get("extra") or {}, dict):
            values["extra"] = {}
        credential = Credential(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"invalid credential: {type(exc).__name__}", param="auth_method"
        ) from None
    credential.origin = CredentialOrigin("admin")
    return credential


class BackupOperations:
    """Backup and restore for :class:`~kirogate.service.operations.Operations`."""

    _store: Callable[[], Store | None]
    changes: Any

    def _backup_store(self) -> Store:
        store: Store | None = self._store()
        if store is None:
            # An in-memory gateway (tests, embedding) has nothing stored to back up.
            raise NotFound("backups need the store: run kirogate serve")
        return store

    async def export_backup(self, passphrase: str) -> dict[str, Any]:
        """The backup file's JSON, encrypted with ``passphrase``."""
        passphrase = check_passphrase(passphrase)
        store = self._backup_store()
        payload: dict[str, Any] = {
            "credentials": [credential_record(c) for c in await store.list_credentials()],
            "tables": {name: await store.dump_table(name) for name in BACKUP_TABLES},
            # Each group's members by the credentials' ids in this file (mapped on restore).
            "group_members": {
                name: sorted(ids) for name, ids in (await store.group_memberships()).items()
            },
        }
        counts = {"credentials": len(payload["credentials"])}
        counts.update({name: len(rows) for name, rows in payload["tables"].items()})
        salt, nonce = os.urandom(_SALT_BYTES), os.urandom(_NONCE_BYTES)
        document: dict[str, Any] = {
            "format": BACKUP_FORMAT,
            "version": BACKUP_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "kdf": {"name": "scrypt", "salt": _b64(salt), **_SCRYPT},
            "counts": counts,
        }
        key = await asyncio.to_thread(_derive, passphrase, salt, **_SCRYPT)
        plaintext = json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
        sealed = AESGCM(key).encrypt(nonce, plaintext, _header(document))
        document["cipher"] = {"name": "AES-256-GCM", "nonce": _b64(nonce)}
        document["data"] = _b64(sealed)
        return document

    async def open_backup(self, document: Any, passphrase: str) -> dict[str, Any]:
        """The decrypted content of a backup file; :class:`InvalidRequest` naming the field
        (the passphrase header when the passphrase is wrong)."""
        passphrase = check_passphrase(passphrase)
        if not isinstance(document, dict):
            raise InvalidRequest("the body must be a kirogate backup file (a JSON object)")
        if document.get("format") != BACKUP_FORMAT:
            raise InvalidRequest(f"format: not a {BACKUP_FORMAT} file", param="format")
        version = document.get("version")
        if not isinstance(version, int) or not 1 <= version <= BACKUP_VERSION:
            raise InvalidRequest(
                f"version: {version!r} is not supported (this kirogate reads 1 to {BACKUP_VERSION})",
                param="version",
            )
        kdf, cipher = document.get("kdf"), document.get("cipher")
        if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
            raise InvalidRequest("kdf: scrypt parameters expected", param="kdf")
        params: dict[str, Any] = {name: kdf.get(name) for name in ("n", "r", "p")}
        if not _sane_kdf(params):
            raise InvalidRequest(
                f"kdf: n a power of 2 up to 2^{_MAX_LOG_N}, r up to {_MAX_R}, p up to {_MAX_P}",
                param="kdf",
            )
        if not isinstance(cipher, dict) or cipher.get("name") != "AES-256-GCM":
            raise InvalidRequest("cipher: AES-256-GCM expected", param="cipher")
        if not isinstance(document.get("created_at"), str) or not isinstance(
            document.get("counts"), dict
        ):
            raise InvalidRequest("counts: missing", param="counts")
        salt = _unb64(kdf.get("salt"), "kdf")
        nonce = _unb64(cipher.get("nonce"), "cipher")
        sealed = _unb64(document.get("data"), "data")
        try:
            key = await asyncio.to_thread(
                _derive, passphrase, salt, int(params["n"]), int(params["r"]), int(params["p"])
            )
            plaintext = AESGCM(key).decrypt(nonce, sealed, _header(document))
        except (InvalidTag, ValueError, MemoryError):
            raise InvalidRequest(
                f"{PASSPHRASE_HEADER}: wrong passphrase, or the file was altered",
                param=PASSPHRASE_HEADER,
            ) from None
        try:
            payload = json.loads(plaintext)
        except ValueError:
            raise InvalidRequest("data: the decrypted content is not JSON", param="data") from None
        if not isinstance(payload, dict):
            raise InvalidRequest("data: the decrypted content is not an object", param="data")
        if not isinstance(payload.get("credentials", []), list) or not isinstance(
            payload.get("tables", {}), dict
        ):
            raise InvalidRequest("data: credentials or tables malformed", param="data")
        return payload

    async def restore_backup(
        self, document: Any, passphrase: str, *, mode: str = "merge"
    ) -> list[dict[str, Any]]:
        """Restore a backup file; one result per item (``added`` / ``updated`` /
        ``skipped`` with the reason). Nothing changes when the file cannot be read."""
        if mode not in MODES:
            raise InvalidRequest("mode: merge or replace", param="mode")
        payload = await self.open_backup(document, passphrase)
        store = self._backup_store()
        replace = mode == "replace"
        report: list[dict[str, Any]] = []
        operations: Any = self
        if replace:
            for credential in await store.list_credentials():
                if credential.id is not None:
                    await operations.remove(credential.id, confirmed=True)
        proxy_ids: dict[int, int] = {}
        tables = payload.get("tables", {})
        for name in BACKUP_TABLES:
            rows = tables.get(name)
            if rows is None:
                continue
            if not isinstance(rows, list):
                report.append({"kind": name, "outcome": "skipped", "reason": "not a list"})
                continue
            outcomes: list[RowOutcome] = await store.restore_table(name, rows, replace=replace)
            report += [outcome.to_public() for outcome in outcomes]
            if name == "proxies":
                proxy_ids = {o.old_id: o.new_id for o in outcomes
                             if o.old_id is not None and o.new_id is not None}  # fmt: skip
            await self.changes.changed(TABLE_TOPICS.get(name, name))
        if tables.get("proxies") is not None:
            await operations.reload_proxies()
        credential_ids: dict[int, int] = {}  # the file's id -> the id stored here
        for record in payload.get("credentials", []):
            outcome = await self._restore_credential(record, proxy_ids)
            report.append(outcome)
            old_id = record.get("id") if isinstance(record, dict) else None
            if isinstance(old_id, int) and outcome.get("id") is not None:
                credential_ids[old_id] = outcome["id"]
        report += await self._restore_group_members(payload.get("group_members"), credential_ids)
        log.info("backup restored (%s): %d items", mode, len(report))
        return report

    async def _restore_group_members(
        self, members: Any, credential_ids: dict[int, int]
    ) -> list[dict[str, Any]]:
        """Each group's members, by the ids their credentials got here; added to what the
        group already holds."""
        if not isinstance(members, dict):
            return []
        operations: Any = self
        report: list[dict[str, Any]] = []
        for name, ids in members.items():
            if not isinstance(ids, list):
                continue
            mapped = {credential_ids[i] for i in ids if isinstance(i, int) and i in credential_ids}
            try:
                new = mapped - set((await operations.get_group(name)).credential_ids)
                if new:
                    await operations.add_group_members(name, sorted(new))
            except KirogateError as exc:
                report.append({"kind": "group_members", "key": name, "outcome": "skipped",
                               "reason": exc.message})  # fmt: skip
                continue
            if new:
                report.append({"kind": "group_members", "key": name, "outcome": "added",
                               "ids": sorted(new)})  # fmt: skip
            else:
                report.append({"kind": "group_members", "key": name, "outcome": "skipped",
                               "reason": "already its members"})  # fmt: skip
        return report

    async def _restore_credential(self, record: Any, proxy_ids: dict[int, int]) -> dict[str, Any]:
        old_id = record.get("id") if isinstance(record, dict) else None
        label = f"#{old_id}" if old_id is not None else "?"
        try:
            credential = credential_from_record(record)
            if credential.proxy_id is not None:
                credential.proxy_id = proxy_ids.get(credential.proxy_id)
            credential.id = None
            operations: Any = self
            stored, created = await operations.add(credential)
        except KirogateError as exc:
            reason = exc.message if isinstance(exc, InvalidRequest) else type(exc).__name__
            return {"kind": "credentials", "key": label, "outcome": "skipped", "reason": reason}
        if not created:
            return {"kind": "credentials", "key": label, "outcome": "skipped",
                    "reason": f"already stored as #{stored.id}", "id": stored.id}  # fmt: skip
        return {"kind": "credentials", "key": label, "outcome": "added", "id": stored.id}

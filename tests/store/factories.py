"""Credentials for store tests (long fake tokens, like real ones)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, 678000, UTC)


def token(tag: str, kind: str = "r") -> str:
    return f"aor{kind}AAAAAG-{tag}-" + "x" * 110


def social(tag: str = "one", **fields: Any) -> Credential:
    fields.setdefault("access_token", token(tag, "a"))
    fields.setdefault("expires_at", EXPIRES)
    return Credential(AuthMethod.SOCIAL, refresh_token=token(tag), **fields)


def idc(tag: str = "idc", **fields: Any) -> Credential:
    return Credential(
        AuthMethod.IDC,
        refresh_token=token(tag),
        client_id=f"client-{tag}",
        client_secret=f"client-secret-{tag}-" + "s" * 40,
        auth_region="eu-west-1",
        **fields,
    )


def api_key(tag: str = "key") -> Credential:
    return Credential(AuthMethod.API_KEY, kiro_api_key=f"ksk_{tag}_" + "k" * 40)


def file_origin(path: Path, index: int | None = None, kind: str = "kiro-rs") -> CredentialOrigin:
    return CredentialOrigin(kind, path, index, array=index is not None)


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path

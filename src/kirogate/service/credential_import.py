"""What ``POST /api/admin/credentials/import`` accepts, read into credentials item by item,
and what the export writes (which the import reads back).

Accepted bodies, JSON or the raw bytes of a file (``curl --data-binary @file``):

- an array of credential objects: kiro.rs ``credentials.json`` entries, Kiro IDE token files
  (``kiro-auth-token.json``), AIClient-2-API provider pool entries;
- one such object (an IDE token file as it is);
- ``{"credentials": [...]}`` (what the export writes);
- AIClient-2-API's ``provider_pools.json`` as it is: its ``claude-kiro-oauth`` entries;
- ``{"refresh_tokens": [...], "auth_method": ..., "region": ...}``, or plain text with one
  refresh token a line (blank lines and ``#`` comments skipped), the method and region then
  given as query parameters;
- the kiro-cli / Amazon Q CLI token store (``data.sqlite3``) as it is: the tokens of its
  ``auth_kv`` table, read-only (:func:`kiro_cli_items`).

An AIClient-2-API pool entry names its token file (``KIRO_OAUTH_CREDS_FILE_PATH``) on the
host that runs it; that file is not read here (an admin request never reads server files):
the entry is invalid unless it carries the tokens inline or as ``KIRO_OAUTH_CREDS_BASE64``.
Every item is read on its own: a bad one is reported (``[3].refreshToken: ...``, its secrets
masked) and the others still read.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirogate.errors import CredentialSourceError, InvalidRequest
from kirogate.upstream.auth.kiro_cli import load_kiro_cli_db
from kirogate.upstream.auth.sources import credential_from_object
from kirogate.upstream.credentials import Credential, CredentialOrigin, mask_secret
from kirogate.upstream.identity import normalize_machine_id

MAX_ITEMS = 1000
POOL_KEY = "claude-kiro-oauth"  # AIClient-2-API's provider type for Kiro accounts
TOKEN_METHODS = ("social", "idc", "builder-id", "iam")
ORIGIN = CredentialOrigin("admin")

# Fields of an item that hold secrets: a reason never shows their values.
_SECRET_FIELDS = (
    "refreshToken",
    "accessToken",
    "clientSecret",
    "kiroApiKey",
    "proxyPassword",
    "proxyUrl",
    "KIRO_OAUTH_CREDS_BASE64",
)
# AIClient-2-API's bookkeeping around an account: not part of the credential.
_POOL_FIELDS = frozenset(
    {
        "KIRO_OAUTH_CREDS_FILE_PATH",
        "KIRO_OAUTH_CREDS_BASE64",
        "uuid",
        "customName",
        "checkModelName",
        "checkHealth",
        "isHealthy",
        "isDisabled",
        "lastUsed",
        "usageCount",
        "errorCount",
        "lastErrorTime",
        "lastErrorMessage",
        "lastHealthCheckTime",
        "lastHealthCheckModel",
        "cachedUserId",
        "cachedEmail",
        "cachedAt",
        "errorStatus",
        "notSupportedModels",
    }
)
# What the export adds for people to read; the import ignores it (the gateway numbers rows).
_EXPORT_ONLY = frozenset(
    {"id", "state", "disabledReason", "refreshTokenHash", "apiKeyHash", "hasSecrets"}
)


@dataclass(frozen=True, slots=True)
class ImportItem:
    """One item of the body: its credential, or why it is invalid (the field named)."""

    index: int
    credential: Credential | None = None
    reason: str | None = None
    field: str | None = None


def parse_import(
    raw: bytes,
    content_type: str,
    *,
    auth_method: str | None = None,
    region: str | None = None,
) -> list[ImportItem]:
    """The body's items (module docstring); :class:`InvalidRequest` when the body as a whole
    is unreadable (empty, not JSON where JSON was announced, no items, too many)."""
    if raw.startswith(SQLITE_MAGIC):
        return _checked([read_item(index, item) for index, item in enumerate(kiro_cli_items(raw))])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the body is not UTF-8 text ({exc.reason})", param="body") from None
    stripped = text.strip()
    if not stripped:
        raise InvalidRequest("the body is empty: send credentials to import", param="body")
    media = content_type.partition(";")[0].strip().lower()
    if media != "text/plain" and stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            message = f"the body is not valid JSON ({where}: {exc.msg})"
            raise InvalidRequest(message, param="body") from None
        items = _json_items(data, auth_method=auth_method, region=region)
    elif media == "application/json":
        raise InvalidRequest("the body is not a JSON array or object", param="body")
    else:
        lines = [line.strip() for line in stripped.splitlines()]
        tokens: list[object] = [line for line in lines if line and not line.startswith("#")]
        items = token_items(tokens, auth_method=auth_method, region=region)
    _checked(items)
    return [read_item(index, item) for index, item in enumerate(items)]


def _checked(items: list[Any]) -> list[Any]:
    if not items:
        raise InvalidRequest("nothing to import: the body holds no credential", param="body")
    if len(items) > MAX_ITEMS:
        message = f"{len(items)} items: at most {MAX_ITEMS} are imported at once"
        raise InvalidRequest(message, param="body")
    return items


# ---------------------------------------------------------------- kiro-cli's SQLite store

SQLITE_MAGIC = b"SQLite format 3\x00"


def kiro_cli_items(raw: bytes) -> list[object]:
    """The login in a kiro-cli / Amazon Q CLI ``data.sqlite3`` (its ``auth_kv`` rows), as
    credential objects, read by the kiro-cli source from a read-only temporary copy."""
    with tempfile.TemporaryDirectory(prefix="kirogate-import-") as directory:
        path = Path(directory) / "data.sqlite3"
        path.write_bytes(raw)
        try:
            credentials = load_kiro_cli_db(path)
        except CredentialSourceError as exc:
            reason = exc.message.replace(str(path), "the file")
            raise InvalidRequest(
                f"not a usable kiro-cli token store: {reason}", param="body"
            ) from None
    return [
        export_entry(credential, disabled_reason=None, secrets=True) for credential in credentials
    ]


def _json_items(data: object, *, auth_method: str | None, region: str | None) -> list[object]:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON array or object", param="body")
    if "refresh_tokens" in data:
        tokens = data["refresh_tokens"]
        if not isinstance(tokens, list):
            raise InvalidRequest(
                "'refresh_tokens' must be an array of strings", param="refresh_tokens"
            )
        method = _wrapper_text(data, "auth_method") or auth_method
        place = _wrapper_text(data, "region") or region
        client = {"clientId": _wrapper_text(data, "client_id"),
                  "clientSecret": _wrapper_text(data, "client_secret")}  # fmt: skip
        return token_items(tokens, auth_method=method, region=place, client=client)
    if "credentials" in data:
        listed = data["credentials"]
        if not isinstance(listed, list):
            raise InvalidRequest("'credentials' must be an array", param="credentials")
        return listed
    if POOL_KEY in data:
        entries = data[POOL_KEY]
        if not isinstance(entries, list):
            raise InvalidRequest(f"'{POOL_KEY}' must be an array", param=POOL_KEY)
        return entries
    return [data]


def _wrapper_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string", param=name)
    return value.strip() or None


def token_items(
    tokens: list[object],
    *,
    auth_method: str | None,
    region: str | None,
    client: Mapping[str, str | None] | None = None,
) -> list[object]:
    """Refresh tokens as credential objects, with the one method and region for all."""
    method = (auth_method or "social").strip().lower()
    if method not in TOKEN_METHODS:
        message = f"auth_method {method!r}: use one of {', '.join(TOKEN_METHODS)}"
        raise InvalidRequest(message, param="auth_method")
    items: list[object] = []
    for token in tokens:
        item: dict[str, object] = {"refreshToken": token, "authMethod": method}
        if region:
            item["region"] = region
        item.update({k: v for k, v in (client or {}).items() if v})
        items.append(item)
    return items


def read_item(index: int, item: object) -> ImportItem:
    """One item as a credential, or the reason (its field named, no secret shown)."""
    from kirogate.store.credentials import validate_credential  # SQLAlchemy, when needed

    where = f"[{index}]"
    secrets = _item_secrets(item)
    try:
        credential = _credential(where, item)
        validate_credential(credential)
    except CredentialSourceError as exc:
        message = exc.message.removeprefix(f"{exc.source}: ")
        if exc.field:
            message = message.removeprefix(f"field '{exc.field}': ")
        return _invalid(index, exc.field, _scrub(message, secrets))
    except InvalidRequest as exc:
        message = exc.message
        if exc.param and message.startswith(f"{exc.param}: "):
            message = message.removeprefix(f"{exc.param}: ")
        return _invalid(index, exc.param, _scrub(message, secrets))
    return ImportItem(index, credential)


def _invalid(index: int, field: str | None, message: str) -> ImportItem:
    reason = f"[{index}].{field}: {message}" if field else f"[{index}]: {message}"
    return ImportItem(index, reason=reason, field=field)


def _credential(where: str, item: object) -> Credential:
    if not isinstance(item, dict):
        kind = "an array" if isinstance(item, list) else type(item).__name__
        raise CredentialSourceError(where, f"expected a JSON object, got {kind}")
    fields = {k: v for k, v in item.items() if k not in _EXPORT_ONLY}
    disabled = False
    if _POOL_FIELDS & fields.keys():
        fields, disabled = _pool_entry(where, fields)
    credential = credential_from_object(fields, source=where, origin=ORIGIN)
    if credential.machine_id and normalize_machine_id(credential.machine_id) is None:
        raise CredentialSourceError(where, "use 64 hex characters or a UUID", field="machineId")
    if disabled and not credential.disabled:
        credential.disabled = True
        credential.disabled_reason = "Manual"
    return credential


def _pool_entry(where: str, entry: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """An AIClient-2-API pool entry's credential fields, and whether it is disabled."""
    disabled = entry.get("isDisabled") is True
    encoded = entry.get("KIRO_OAUTH_CREDS_BASE64")
    fields = {k: v for k, v in entry.items() if k not in _POOL_FIELDS}
    if encoded is not None:
        name = "KIRO_OAUTH_CREDS_BASE64"
        if not isinstance(encoded, str):
            raise CredentialSourceError(where, "must be a string", field=name)
        try:
            decoded = json.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise CredentialSourceError(
                where, "is not base64 of a JSON token file", field=name
            ) from None
        if not isinstance(decoded, dict):
            raise CredentialSourceError(where, "must hold a JSON object", field=name)
        return {**decoded, **fields}, disabled
    if "refreshToken" not in fields and "kiroApiKey" not in fields:
        raise CredentialSourceError(
            where,
            "names a token file on the AIClient-2-API host, which is not read here: import "
            "that file itself (curl --data-binary @kiro-auth-token.json)",
            field="KIRO_OAUTH_CREDS_FILE_PATH" if "KIRO_OAUTH_CREDS_FILE_PATH" in entry else None,
        )
    return fields, disabled


def _item_secrets(item: object) -> list[str]:
    if not isinstance(item, dict):
        return []
    values = [item.get(name) for name in _SECRET_FIELDS]
    return [value for value in values if isinstance(value, str) and len(value) >= 4]


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, mask_secret(secret) or "***")
    return text


# ---------------------------------------------------------------- export


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def export_entry(
    credential: Credential, *, disabled_reason: str | None, secrets: bool
) -> dict[str, Any]:
    """One credential in kiro.rs's camelCase fields, readable by :func:`parse_import`.

    Without ``secrets`` the tokens, keys and passwords are left out (a proxy URL's password
    masked), so such an entry documents the pool but cannot be imported on its own.
    """
    entry: dict[str, Any] = {
        "id": credential.id,
        "authMethod": credential.auth_method.value,
        "email": credential.email,
        "subscriptionTitle": credential.subscription_title,
        "priority": credential.priority,
        "disabled": disabled_reason is not None,
        "disabledReason": disabled_reason,
        "region": credential.region,
        "authRegion": credential.auth_region,
        "apiRegion": credential.api_region,
        "profileArn": credential.profile_arn,
        "machineId": credential.machine_id,
        "provider": credential.provider,
        "endpoint": credential.endpoint,
        "tokenEndpoint": credential.token_endpoint,
        "clientId": credential.client_id,
        "proxyUrl": credential.proxy_url,
        "proxyUsername": credential.proxy_username,
        "hasSecrets": secrets,
    }
    if secrets:
        entry |= {
            "refreshToken": credential.refresh_token,
            "accessToken": credential.access_token,
            "expiresAt": _rfc3339(credential.expires_at),
            "clientSecret": credential.client_secret,
            "kiroApiKey": credential.kiro_api_key,
            "proxyPassword": credential.proxy_password,
        }
    else:
        entry["proxyUrl"] = _masked_proxy(credential.proxy_url)
    return {name: value for name, value in entry.items() if value is not None}


def _masked_proxy(url: str | None) -> str | None:
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"

"""Credential rows: mapping to :class:`Credential`, validation, and the store's credential methods."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kirogate.errors import ConfigError, InvalidRequest, NotFound
from kirogate.pool.state import DisableReason
from kirogate.store import values as check
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.crypto import SecretBox, is_plaintext_url
from kirogate.store.schema import credentials as table
from kirogate.store.schema import proxies
from kirogate.upstream.credentials import (
    AuthMethod,
    Credential,
    CredentialOrigin,
    check_credential_field,
    check_credential_fields,
    unusable_field,
)

log = logging.getLogger(__name__)

STORE_ORIGIN = CredentialOrigin("store")
# Columns a source file defines (definition_values): sync_sources compares them.
DEFINITION_NAMES = (
    "auth_method",
    "profile_arn",
    "client_id",
    "client_secret",
    "region",
    "auth_region",
    "api_region",
    "machine_id",
    "proxy_url",
    "proxy_username",
    "proxy_password",
    "kiro_api_key",
    "endpoint",
    "provider",
    "client_id_hash",
    "token_endpoint",
    "extra",
)


# String columns with a length limit, checked before the database would refuse them.
_LIMITED_TEXT = (
    "region",
    "auth_region",
    "api_region",
    "machine_id",
    "email",
    "subscription_title",
    "provider",
    "client_id_hash",
    "endpoint",
)


def source_path(origin: CredentialOrigin | None) -> str | None:
    """How an origin's file is kept and compared: an absolute path, symlinks untouched."""
    if origin is None or origin.path is None:
        return None
    return os.path.abspath(origin.path.expanduser())


def disabled_columns(cred: Credential) -> dict[str, Any]:
    """A source's ``disabled`` flag as pool state: a known reason, else ``manual`` + the text."""
    if not cred.disabled:
        return {"disabled_reason": None, "disabled_detail": None}
    text = cred.disabled_reason or ""
    try:
        return {"disabled_reason": DisableReason(text.lower()).value, "disabled_detail": None}
    except ValueError:
        return {"disabled_reason": DisableReason.MANUAL.value, "disabled_detail": text or None}


def token_columns(cred: Credential, box: SecretBox) -> dict[str, Any]:
    return {
        "refresh_token": box.encrypt(cred.refresh_token),
        "access_token": box.encrypt(cred.access_token),
        "expires_at": cred.expires_at,
        "fingerprint": cred.fingerprint(),
    }


# Encrypted at rest. A proxy URL may carry a password (http://user:secret@host), so the whole
# URL is; rows written in plaintext by older versions are read as they are (decrypt_url) and
# encrypted when the store opens (encrypt_plaintext_urls).
DEFINITION_SECRETS = ("client_secret", "proxy_password", "kiro_api_key", "proxy_url")


def definition_values(cred: Credential) -> dict[str, Any]:
    """What a source file defines about a credential besides tokens and state, in plaintext."""
    values = {name: getattr(cred, name) for name in DEFINITION_NAMES}
    values["auth_method"] = cred.auth_method.value
    values["extra"] = dict(cred.extra) if cred.extra else None
    return values


def stored_definition(row: sa.Row[Any], box: SecretBox) -> dict[str, Any]:
    """:func:`definition_values` of a stored row, secrets decrypted."""
    values = {name: getattr(row, name) for name in DEFINITION_NAMES}
    for name in DEFINITION_SECRETS:
        values[name] = (
            box.decrypt_url(values[name]) if name == "proxy_url" else box.decrypt(values[name])
        )
    return values


def encrypt_secrets(values: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    return {
        name: box.encrypt(value) if name in DEFINITION_SECRETS else value
        for name, value in values.items()
    }


def origin_columns(origin: CredentialOrigin) -> dict[str, Any]:
    return {
        "source_kind": origin.kind,
        "source_path": source_path(origin),
        "source_index": origin.index,
        "source_array": origin.array,
        "source_file_id": origin.file_id,
    }


def insert_columns(cred: Credential, box: SecretBox) -> dict[str, Any]:
    now = utcnow()
    return {
        **encrypt_secrets(definition_values(cred), box),
        **token_columns(cred, box),
        **origin_columns(cred.origin or STORE_ORIGIN),
        **disabled_columns(cred),
        "email": cred.email,
        "subscription_title": cred.subscription_title,
        "priority": cred.priority,
        "created_at": now,
        "updated_at": now,
    }


def credential_from_row(row: sa.Row[Any], box: SecretBox) -> Credential:
    try:
        method = AuthMethod(row.auth_method)
    except ValueError:
        raise ConfigError(
            f"stored credential {row.id} has unknown auth method {row.auth_method!r}"
        ) from None
    origin = CredentialOrigin(
        row.source_kind,
        Path(row.source_path) if row.source_path else None,
        row.source_index,
        bool(row.source_array),
        row.source_file_id,
    )
    return Credential(
        auth_method=method,
        refresh_token=box.decrypt(row.refresh_token),
        access_token=box.decrypt(row.access_token),
        expires_at=row.expires_at,
        profile_arn=row.profile_arn,
        client_id=row.client_id,
        client_secret=box.decrypt(row.client_secret),
        id=row.id,
        region=row.region,
        auth_region=row.auth_region,
        api_region=row.api_region,
        machine_id=row.machine_id,
        email=row.email,
        subscription_title=row.subscription_title,
        priority=row.priority,
        proxy_url=box.decrypt_url(row.proxy_url),
        proxy_username=row.proxy_username,
        proxy_password=box.decrypt(row.proxy_password),
        proxy_id=row.proxy_id,
        disabled=row.disabled_reason is not None,
        disabled_reason=row.disabled_reason,
        kiro_api_key=box.decrypt(row.kiro_api_key),
        endpoint=row.endpoint,
        provider=row.provider,
        client_id_hash=row.client_id_hash,
        token_endpoint=row.token_endpoint,
        origin=origin,
        extra=dict(row.extra or {}),
    )


def validate_credential(cred: Credential) -> None:
    """What the store needs to keep a credential: a secret to identify it, sane settings."""
    if not isinstance(cred.auth_method, AuthMethod):
        raise InvalidRequest(f"unknown auth method {cred.auth_method!r}", param="authMethod")
    if cred.is_api_key:
        if not cred.kiro_api_key:
            raise InvalidRequest("an API-key credential needs a kiroApiKey", param="kiroApiKey")
    elif not cred.refresh_token:
        raise InvalidRequest("the credential has no refresh token", param="refreshToken")
    check.non_negative_int(cred.priority, "priority")
    if cred.expires_at is not None:
        check.aware_datetime(cred.expires_at, "expiresAt")
    if cred.proxy_url is not None:
        check.proxy_url_or_direct(cred.proxy_url, "proxyUrl")
    for name in _LIMITED_TEXT:
        check.text_for(table, name, getattr(cred, name))
    check_credential_fields(cred)


def _usable(cred: Credential) -> bool:
    # A row written before fields were checked (or by hand) would fail every request.
    found = unusable_field(cred)
    if found is not None:
        log.warning("not loading stored credential #%s: %s: %s", cred.id, *found)
    return found is None


def _secret(box: SecretBox) -> Callable[[Any, str], Any]:
    def convert(value: Any, name: str) -> Any:
        return box.encrypt(check.optional_text(value, name))

    return convert


_PLAIN: dict[str, Callable[[Any, str], Any]] = {
    "priority": check.non_negative_int,
    "weight": check.positive_float,
    "proxy_id": check.optional_id,
    "proxy_url": lambda v, n: None if v is None else check.proxy_url_or_direct(v, n),
    "endpoint": lambda v, n: check.choice(v, n, ("ide",)),
    "extra": check.optional_json_object,
    "usage": check.optional_json,
    "usage_fetched_at": check.optional_aware_datetime,
}
_TEXT = (
    "email",
    "subscription_title",
    "region",
    "auth_region",
    "api_region",
    "machine_id",
    "profile_arn",
    "provider",
    "token_endpoint",
    "client_id",
    "proxy_username",
)
_SECRETS = ("client_secret", "proxy_password")
UPDATABLE = tuple(sorted((*_PLAIN, *_TEXT, *_SECRETS)))


class CredentialsMixin(StoreBase):
    async def list_credentials(self) -> list[Credential]:
        """Every stored credential, secrets decrypted, ordered by priority then id."""
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(table).order_by(table.c.priority, table.c.id))
            credentials = [credential_from_row(row, self._box) for row in rows]
        return [cred for cred in credentials if _usable(cred)]

    async def get_credential(self, credential_id: int) -> Credential:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id == credential_id))).first()
        if row is None:
            raise NotFound(f"credential {credential_id} does not exist")
        return credential_from_row(row, self._box)

    async def add_credential(self, cred: Credential) -> tuple[Credential, bool]:
        """Store ``cred`` unless one with the same refresh token / API key is stored already.

        New: ``cred`` gets its row id (and origin ``store`` when it had none) and is returned
        with ``True``. Known: the stored credential and ``False``.
        """
        validate_credential(cred)
        fingerprint = cred.fingerprint()
        for _attempt in range(2):
            try:
                async with self._writing() as conn:
                    found = (
                        await conn.execute(
                            sa.select(table).where(table.c.fingerprint == fingerprint)
                        )
                    ).first()
                    if found is not None:
                        return credential_from_row(found, self._box), False
                    if cred.origin is None:
                        cred.origin = STORE_ORIGIN
                    result = await conn.execute(
                        sa.insert(table).values(**insert_columns(cred, self._box))
                    )
                    cred.id = inserted_id(result)
                    return cred, True
            except IntegrityError:
                # Another process stored the same credential (or took the id) just now.
                continue
        raise InvalidRequest("the credential could not be stored: it conflicts with another")

    async def delete_credential(self, credential_id: int) -> None:
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(table).where(table.c.id == credential_id))
        if result.rowcount == 0:
            raise NotFound(f"credential {credential_id} does not exist")

    async def save_tokens(self, cred: Credential) -> None:
        """Persist what a refresh changed: tokens, expiry, profile and account details."""
        if cred.id is None:
            raise InvalidRequest("the credential has no id; store it first")
        check.optional_aware_datetime(cred.expires_at, "expires_at")
        values = {**token_columns(cred, self._box), "updated_at": utcnow()}
        for name in ("profile_arn", "machine_id", "email", "subscription_title"):
            value = getattr(cred, name)
            if value is not None:  # learned values are kept, never erased by a partial object
                values[name] = check.text_for(table, name, value)
        try:
            async with self._writing() as conn:
                result = await conn.execute(
                    sa.update(table).where(table.c.id == cred.id).values(**values)
                )
        except IntegrityError:
            raise InvalidRequest(
                f"credential {cred.label}: another stored credential has this refresh token"
            ) from None
        if result.rowcount == 0:
            raise NotFound(f"credential {cred.id} does not exist")

    async def reload_tokens(self, cred: Credential) -> bool:
        """Copy the stored tokens into ``cred``; ``True`` if that changed it.

        Used when another process may have refreshed the token. Stored empty values do not
        erase what ``cred`` holds; a deleted row changes nothing.
        """
        if cred.id is None:
            return False
        columns = ("access_token", "refresh_token", "expires_at", "profile_arn", "machine_id")
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    sa.select(*(table.c[name] for name in columns)).where(table.c.id == cred.id)
                )
            ).first()
        if row is None:
            log.debug("credential %s is no longer stored; nothing to reload", cred.label)
            return False
        stored = {
            "access_token": self._box.decrypt(row.access_token),
            "refresh_token": self._box.decrypt(row.refresh_token),
            "expires_at": row.expires_at,
            "profile_arn": row.profile_arn,
            "machine_id": row.machine_id,
        }
        changed = False
        for name, value in stored.items():
            if value is not None and getattr(cred, name) != value:
                setattr(cred, name, value)
                changed = True
        return changed

    async def update_credential(self, credential_id: int, **fields: Any) -> None:
        """Change persisted settings of a credential; see :data:`UPDATABLE` for the names."""
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "proxy_url":
                values[name] = self._box.encrypt(_PLAIN[name](value, name))
            elif name in _PLAIN:
                values[name] = _PLAIN[name](value, name)
            elif name in _TEXT:
                values[name] = check.text_for(table, name, value)
            elif name in _SECRETS:
                values[name] = _secret(self._box)(value, name)
            else:
                raise InvalidRequest(
                    f"unknown credential field {name!r} (updatable: {', '.join(UPDATABLE)})",
                    param=name,
                )
            check_credential_field(name, value)  # its type is known good by now
        async with self._writing() as conn:
            if values.get("proxy_id") is not None:
                known = await conn.scalar(
                    sa.select(proxies.c.id).where(proxies.c.id == values["proxy_id"])
                )
                if known is None:
                    raise InvalidRequest(
                        f"proxy {values['proxy_id']} does not exist", param="proxy_id"
                    )
            values["updated_at"] = utcnow()
            result = await conn.execute(
                sa.update(table).where(table.c.id == credential_id).values(**values)
            )
        if result.rowcount == 0:
            raise NotFound(f"credential {credential_id} does not exist")

    async def encrypt_plaintext_urls(self) -> int:
        """Encrypt proxy URLs stored in plaintext by an older version; how many were.

        Idempotent and safe to run in several processes at once (each row is rewritten only
        while it still holds the plaintext it was read with).
        """
        async with self._reading() as conn:
            rows = list(
                await conn.execute(
                    sa.select(table.c.id, table.c.proxy_url).where(table.c.proxy_url.isnot(None))
                )
            )
        plain = [(row.id, row.proxy_url) for row in rows if is_plaintext_url(row.proxy_url)]
        if not plain:
            return 0
        async with self._writing() as conn:
            for row_id, url in plain:
                await conn.execute(
                    sa.update(table)
                    .where(table.c.id == row_id, table.c.proxy_url == url)
                    .values(proxy_url=self._box.encrypt(url))
                )
        log.info("encrypted %d proxy URL(s) stored in plaintext", len(plain))
        return len(plain)

    async def get_usage(self, credential_id: int) -> tuple[Any, datetime | None]:
        """The stored usage snapshot and when it was fetched (``None`` twice if never)."""
        async with self._reading() as conn:
            row = (
                await conn.execute(
                    sa.select(table.c.usage, table.c.usage_fetched_at).where(
                        table.c.id == credential_id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(f"credential {credential_id} does not exist")
        return row.usage, row.usage_fetched_at

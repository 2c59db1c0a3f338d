"""The credential model shared by sources, refresh, the upstream client and the pool.

A :class:`Credential` holds one Kiro identity: its tokens, the regions and proxy it uses,
and where it came from (so refreshed tokens can be written back). Secrets are never in its
``repr``; use :func:`mask_secret` to show one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from kirogate.errors import CredentialUnusable, InvalidRequest

log = logging.getLogger(__name__)

# The store keeps priorities and ids in INTEGER columns, and PostgreSQL's int4 holds at most
# 2^31-1: every door (admin API, command line, files, env) checks against this one bound.
MAX_STORED_INT = 2**31 - 1
MAX_PRIORITY = MAX_STORED_INT


def check_priority(priority: int) -> None:
    """:class:`InvalidRequest` for a priority the store cannot hold."""
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidRequest(
            f"'priority' must be between 0 and {MAX_PRIORITY}, got {priority}", param="priority"
        )


class AuthMethod(StrEnum):
    SOCIAL = "social"  # Google / GitHub login, refreshed at the Kiro desktop auth service
    IDC = "idc"  # Builder ID / IAM Identity Center, refreshed at SSO-OIDC
    API_KEY = "api_key"  # ksk_... Kiro API key, never refreshed
    EXTERNAL_IDP = "external_idp"


@dataclass(frozen=True, slots=True)
class CredentialOrigin:
    """Where a credential was loaded from, for write-back and for messages.

    ``kind`` is one of ``kiro-ide`` (the IDE token file), ``kiro-rs`` (credentials.json),
    ``kiro2api`` (KIRO_AUTH_TOKEN), ``env`` (environment variables) or ``store`` (database).
    ``index`` is the position in an array file; ``None`` for a single object.
    """

    kind: str
    path: Path | None = None
    index: int | None = None
    array: bool = False
    # The entry's own ``id`` in a kiro.rs file. In store mode the credential's id is the row
    # id, which may differ; write-back finds the entry by this one.
    file_id: int | None = None

    def describe(self) -> str:
        where = str(self.path) if self.path else self.kind
        return f"{where}[{self.index}]" if self.index is not None else where


def mask_secret(value: str | None) -> str | None:
    """``abcd…wxyz`` for long secrets, ``***`` for short ones, ``None`` stays ``None``."""
    if value is None:
        return None
    if len(value) > 16 and value.isascii():
        return f"{value[:4]}…{value[-4:]}"
    return "***"


def secret_hash(value: str) -> str:
    """A stable fingerprint of a secret, safe to show and to deduplicate on."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Credential:
    """One Kiro credential. Mutable: refresh updates the token fields in place."""

    auth_method: AuthMethod
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    profile_arn: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    id: int | None = None
    region: str | None = None
    auth_region: str | None = None
    api_region: str | None = None
    machine_id: str | None = None
    email: str | None = None
    subscription_title: str | None = None
    priority: int = 0
    proxy_url: str | None = None
    proxy_username: str | None = None
    proxy_password: str | None = field(default=None, repr=False)
    proxy_id: int | None = None  # a proxy of the store's proxy pool assigned to this credential
    disabled: bool = False
    disabled_reason: str | None = None
    kiro_api_key: str | None = field(default=None, repr=False)
    endpoint: str = "ide"
    provider: str | None = None
    client_id_hash: str | None = None
    token_endpoint: str | None = None  # external IdP only
    origin: CredentialOrigin | None = None
    # Unknown fields from the source file, written back untouched.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """How messages name this credential: email, id or source, never a secret."""
        if self.email:
            return self.email
        if self.id is not None:
            return f"#{self.id}"
        return self.origin.describe() if self.origin else self.auth_method.value

    @property
    def effective_auth_region(self) -> str | None:
        return self.auth_region or self.region

    @property
    def is_api_key(self) -> bool:
        return self.auth_method is AuthMethod.API_KEY

    @property
    def bearer(self) -> str | None:
        """The token sent as ``Authorization: Bearer``."""
        return self.kiro_api_key if self.is_api_key else self.access_token

    def expires_within(self, seconds: float, *, now: datetime | None = None) -> bool:
        """True when the access token is missing, expired, or expires within ``seconds``."""
        if self.is_api_key:
            return False
        if not self.access_token or self.expires_at is None:
            return True
        now = now or datetime.now(UTC)
        return self.expires_at <= now + timedelta(seconds=seconds)

    def fingerprint(self) -> str:
        """sha256 of the refresh token (or API key): identifies the credential for dedupe."""
        secret = self.kiro_api_key if self.is_api_key else self.refresh_token
        return secret_hash(secret or "")


# ---------------------------------------------------------------- field checks

# Tokens, keys and ids travel in headers, URLs and JSON bodies: visible ASCII only, no spaces.
_TOKEN = re.compile(r"[\x21-\x7e]+")
# Proxy user names and passwords go into a Basic header (latin-1 encoded): printable ASCII.
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
# Regions become host names (``q.{region}.amazonaws.com``).
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
# Shown to operators and written to logs: anything but control characters (C0, DEL, C1).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# (attribute, the name users write, the rule)
_FIELD_RULES: tuple[tuple[str, str, str], ...] = (
    ("kiro_api_key", "kiroApiKey", "token"),
    ("refresh_token", "refreshToken", "token"),
    ("access_token", "accessToken", "token"),
    ("profile_arn", "profileArn", "token"),
    ("client_id", "clientId", "token"),
    ("client_secret", "clientSecret", "token"),
    ("client_id_hash", "clientIdHash", "token"),
    ("machine_id", "machineId", "token"),
    ("proxy_url", "proxyUrl", "token"),
    ("token_endpoint", "tokenEndpoint", "token"),
    ("proxy_username", "proxyUsername", "printable"),
    ("proxy_password", "proxyPassword", "printable"),
    ("region", "region", "region"),
    ("auth_region", "authRegion", "region"),
    ("api_region", "apiRegion", "region"),
    ("email", "email", "text"),
    ("subscription_title", "subscriptionTitle", "text"),
    ("provider", "provider", "text"),
)
_RULE_TEXT = {
    "token": "visible ASCII characters only (no spaces, line breaks or control characters)",
    "printable": "printable ASCII characters only (no line breaks or control characters)",
    "region": "a region name such as us-east-1 (lowercase letters, digits and '-')",
    "text": "no line breaks or control characters",
}


def _breaks_rule(value: str, rule: str) -> bool:
    match rule:
        case "token":
            return _TOKEN.fullmatch(value) is None
        case "printable":
            return _PRINTABLE.fullmatch(value) is None
        case "region":
            return _REGION.fullmatch(value) is None
        case _:
            return _CONTROL.search(value) is not None


def unusable_field(credential: Credential) -> tuple[str, str] | None:
    """The first field no upstream call could carry, as (name users write, what it must be)."""
    for attribute, name, rule in _FIELD_RULES:
        value = getattr(credential, attribute)
        if value is None:
            continue
        if not isinstance(value, str) or _breaks_rule(value, rule):
            return name, _RULE_TEXT[rule]
    return None


def check_credential_field(attribute: str, value: object) -> None:
    """:func:`check_credential_fields` for one attribute being changed (e.g. ``proxy_url``)."""
    for known, name, rule in _FIELD_RULES:
        unusable = not isinstance(value, str) or _breaks_rule(value, rule)
        if known == attribute and value is not None and unusable:
            raise InvalidRequest(f"{name}: {_RULE_TEXT[rule]}", param=name)


def check_credential_fields(credential: Credential) -> None:
    """Every text field of ``credential`` is one the upstream calls can carry.

    Raises :class:`InvalidRequest` naming the field (as users write it) otherwise: a line
    break in a token would make every request built with it fail, so it never gets in.
    Every way in (files, environment, store rows, the admin API and the CLI) calls this.
    """
    found = unusable_field(credential)
    if found is not None:
        name, rule = found
        raise InvalidRequest(f"{name}: {rule}", param=name)


def unusable_credential(credential: Credential, exc: ValueError) -> CredentialUnusable:
    """The error for a request the HTTP client refused to build with ``credential``.

    Names the credential, never a field's value; the kind of refusal goes to the log only.
    """
    log.warning(
        "credential %s: the HTTP client refused a request (%s)",
        credential.label,
        type(exc).__name__,
    )
    return CredentialUnusable(
        f"credential {credential.label}: the HTTP client refused to build a request with it; "
        "check its tokens, region and proxy"
    )

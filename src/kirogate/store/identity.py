"""When two credentials are the same Kiro account, so that the store keeps one row per account.

Two credentials are the same account when:

1. they hold the same refresh token (or API key); otherwise, for the same auth method,
2. both know their email (learned from the usage data) and it is the same, ignoring case;
   two different emails are never the same account, whatever else matches;
3. they come from the same entry of the same file (path and array index): the Kiro IDE token
   file holds one login at a time, and a new token there is that login's rotation.

A weaker rule, :func:`same_client`, only ever merges a dead copy (a refresh token the upstream
rejected), since several live Builder ID logins may share one OIDC client: for IdC, the same
``clientId`` in the same region.

``profileArn`` is no evidence: every Kiro social login shares one profile ARN. API keys are
the same account only by rule 1.
"""

from __future__ import annotations

from kirogate.store.credentials import source_path
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin

DEFAULT_REGION = "us-east-1"
# Rows of this reason hold a refresh token the upstream rejected: a dead copy.
DEAD_REASON = "invalid_refresh_token"


def _entry(origin: CredentialOrigin | None) -> tuple[str, int | None] | None:
    path = source_path(origin) if origin is not None and origin.kind != "store" else None
    return None if path is None or origin is None else (path, origin.index)


def same_account(a: Credential, b: Credential) -> bool:
    """Whether ``a`` and ``b`` are one Kiro account, by the rules in the module docstring."""
    if a.fingerprint() == b.fingerprint():
        return True
    if a.auth_method is not b.auth_method or a.is_api_key:
        return False
    if a.email and b.email:
        return a.email.casefold() == b.email.casefold()
    entry = _entry(a.origin)
    return entry is not None and entry == _entry(b.origin)


def same_client(a: Credential, b: Credential) -> bool:
    """IdC credentials of one OIDC client and region, emails not contradicting (weak rule)."""
    if a.auth_method is not AuthMethod.IDC or b.auth_method is not AuthMethod.IDC:
        return False
    if a.email and b.email and a.email.casefold() != b.email.casefold():
        return False
    if not a.client_id or a.client_id != b.client_id:
        return False
    return (a.effective_auth_region or DEFAULT_REGION) == (
        b.effective_auth_region or DEFAULT_REGION
    )


def copy_of(a: Credential, b: Credential) -> bool:
    """Whether ``b`` is a copy of ``a``'s account that may be merged: the same account, or a
    dead credential of the same client."""
    return same_account(a, b) or (is_dead(b) and same_client(a, b))


def is_dead(credential: Credential) -> bool:
    """The stored credential's refresh token was rejected (``invalid_grant``)."""
    return credential.disabled and (credential.disabled_reason or "").lower() == DEAD_REASON


def newer_tokens(incoming: Credential, stored: Credential) -> bool:
    """Whether ``incoming``'s token pair should replace ``stored``'s: unless both expiries are
    known and the stored access token expires later (it was refreshed after ``incoming``)."""
    if incoming.expires_at is None or stored.expires_at is None:
        return True
    return incoming.expires_at >= stored.expires_at

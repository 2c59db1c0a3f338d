"""Client authentication: ``x-api-key`` or ``Authorization: Bearer``, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.requests import Request


def presented_key(request: Request) -> str | None:
    """The key a client sent: ``x-api-key`` first (kiro.rs order), then a Bearer token."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def key_matches(presented: str, accepted: Sequence[str]) -> bool:
    """Constant-time comparison against every accepted key (no early exit on a match)."""
    given = presented.encode("utf-8")
    ok = False
    for key in accepted:
        ok |= hmac.compare_digest(given, key.encode("utf-8"))
    return ok

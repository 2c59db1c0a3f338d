"""profileArn discovery for credentials that came without one.

The runtime host (``runtime.{region}.kiro.dev``) answers ``400 profileArn is required`` to
every OAuth credential that sends none. Social logins get their ARN from the refresh
response; IdC and Builder ID tokens usually have none, so :func:`ensure_profile_arn` asks
``listAvailableProfiles`` once and stores the first ACTIVE profile's ARN on the credential.
API keys never send a profileArn.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kirogate.errors import UpstreamForbidden
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

# kiro-gateway's check (spec auth §4.4).
PROFILE_ARN_PATTERN: Final = re.compile(
    r"^arn:aws:codewhisperer:[a-z0-9-]+:\d+:profile/[A-Za-z0-9._-]+$"
)

# One discovery at a time per credential: concurrent first requests wait for the first.
_locks: weakref.WeakKeyDictionary[KiroClient, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


def is_profile_arn(value: object) -> bool:
    return isinstance(value, str) and PROFILE_ARN_PATTERN.fullmatch(value) is not None


def pick_profile_arn(
    profiles: Iterable[Mapping[str, Any]], *, region: str | None = None
) -> str | None:
    """The first ACTIVE profile with a valid ARN, preferring one in ``region``.

    A profile without a ``status`` counts as active.
    """
    usable: list[str] = [
        arn
        for profile in profiles
        if profile.get("status", "ACTIVE") == "ACTIVE"
        and isinstance(arn := profile.get("arn"), str)
        and is_profile_arn(arn)
    ]
    if region:
        for arn in usable:
            if arn.split(":")[3] == region:
                return arn
    return usable[0] if usable else None


async def ensure_profile_arn(
    client: KiroClient, credential: Credential, *, machine_id: str
) -> str | None:
    """The ARN to send for ``credential``, discovering and storing it when needed.

    ``None`` for API keys and on hosts that need no ARN. Raises the classified upstream
    error if ``listAvailableProfiles`` fails, and :class:`UpstreamForbidden` if it lists
    no usable profile.
    """
    if credential.is_api_key:
        return None
    if credential.profile_arn:
        return credential.profile_arn
    if not client.endpoints_for(credential).needs_profile_arn:
        return None
    locks = _locks.setdefault(client, {})
    lock = locks.setdefault(id(credential), asyncio.Lock())
    try:
        async with lock:
            if credential.profile_arn:  # found while we waited
                return credential.profile_arn
            return await _discover(client, credential, machine_id=machine_id)
    finally:
        if not lock.locked():
            locks.pop(id(credential), None)


async def _discover(client: KiroClient, credential: Credential, *, machine_id: str) -> str:
    profiles = await client.list_profiles(credential, machine_id=machine_id)
    settings = client.settings
    region = credential.api_region or settings.api_region or settings.region
    arn = pick_profile_arn(profiles, region=region)
    if arn is None:
        raise UpstreamForbidden(
            f"credential {credential.label}: listAvailableProfiles returned no ACTIVE "
            f"profile with a valid ARN ({len(profiles)} profile(s)); set its profileArn "
            "or use the 'q' upstream host",
            reason="NO_PROFILE",
        )
    credential.profile_arn = arn
    log.info("credential %s: using profile %s", credential.label, arn)
    return arn

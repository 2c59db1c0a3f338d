"""Who each upstream call claims to be: the machine id, the OS string and the header sets.

The values follow kiro.rs (the most complete peer): a Kiro IDE ``KiroIDE-{version}-{machineId}``
user agent on the data plane, AWS SDK strings for SSO-OIDC and a plain ``KiroIDE-…`` agent for the
social auth service. The upstream only needs ``Authorization``; the rest makes us look like the IDE.

Two deliberate differences from kiro.rs:

- no ``Connection: close``: kiro.rs closes every connection (to avoid CLOSE_WAIT leaks in its
  client); we pool connections in one aiohttp session and let it manage them;
- no explicit ``host`` header: aiohttp derives the same value from the URL.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import uuid

from kirogate.settings import UpstreamSettings
from kirogate.upstream.credentials import AuthMethod, Credential

# SDK versions of the Kiro IDE streaming client, runtime client and SSO-OIDC client (kiro.rs).
STREAMING_SDK_VERSION = "1.0.34"
RUNTIME_SDK_VERSION = "1.0.0"
OIDC_SDK_VERSION = "3.980.0"
SYSTEM_VERSIONS = ("darwin#24.6.0", "win32#10.0.22631")

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")

_process_system_version: str | None = None
# Fallback machine ids for credentials with neither a refresh token nor an API key.
_fallback_machine_ids: dict[object, str] = {}


# uuid.UUID(version=4) clears the variant's two top bits and the version nibble, then sets them.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (0x4000 << 64)


def random_uuid_hex() -> str:
    """``uuid.uuid4().hex`` without building a :class:`uuid.UUID` (a few per request)."""
    value = int.from_bytes(os.urandom(16), "big") & _UUID4_CLEAR | _UUID4_SET
    return f"{value:032x}"


def random_uuid() -> str:
    """``str(uuid.uuid4())``: 36 characters, version 4, RFC 4122 variant."""
    h = random_uuid_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_machine_id(value: str | None) -> str | None:
    """64 hex chars as-is, a UUID (or 32 hex) de-dashed and written twice; anything else ``None``.

    The result is lower-cased (the data-plane spec says 64 lowercase hex; kiro.rs keeps case).
    """
    if not value:
        return None
    trimmed = value.strip()
    if _HEX64.fullmatch(trimmed):
        return trimmed.lower()
    without_dashes = trimmed.replace("-", "")
    if _HEX32.fullmatch(without_dashes):
        return (without_dashes * 2).lower()
    return None


def machine_id_for(credential: Credential, settings: UpstreamSettings) -> str:
    """The credential's machine id by the kiro.rs rules; stable for the life of the process.

    Order: the credential's ``machineId``, the configured one (each only if valid), then
    ``sha256("KotlinNativeAPI/" + refreshToken)``, for API keys ``sha256("KiroAPIKey/" + key)``,
    else a random id kept per credential for this process.
    """
    for candidate in (credential.machine_id, settings.machine_id):
        normalized = normalize_machine_id(candidate)
        if normalized:
            return normalized
    if credential.refresh_token:
        return sha256_hex(f"KotlinNativeAPI/{credential.refresh_token}")
    if credential.is_api_key and credential.kiro_api_key:
        return sha256_hex(f"KiroAPIKey/{credential.kiro_api_key}")
    key: object = credential.id if credential.id is not None else id(credential)
    if key not in _fallback_machine_ids:
        _fallback_machine_ids[key] = sha256_hex(f"KiroFallback/{uuid.uuid4()}")
    return _fallback_machine_ids[key]


def system_version(settings: UpstreamSettings) -> str:
    """The ``os/…`` part of the user agent: configured, or one random pick per process (kiro.rs)."""
    global _process_system_version
    if settings.system_version:
        return settings.system_version
    if _process_system_version is None:
        _process_system_version = random.choice(SYSTEM_VERSIONS)
    return _process_system_version


def _kiro_agent(settings: UpstreamSettings, machine_id: str) -> str:
    return f"KiroIDE-{settings.kiro_version}-{machine_id}"


def _auth_headers(credential: Credential, bearer: str | None) -> dict[str, str]:
    token = bearer if bearer is not None else credential.bearer
    if not token:
        raise ValueError(f"credential {credential.label} has no bearer token; refresh it first")
    headers = {"Authorization": f"Bearer {token}"}
    if credential.auth_method is AuthMethod.API_KEY:
        headers["tokentype"] = "API_KEY"
    elif credential.auth_method is AuthMethod.EXTERNAL_IDP:
        headers["TokenType"] = "EXTERNAL_IDP"
    return headers


def _streaming_agents(settings: UpstreamSettings, machine_id: str) -> tuple[str, str]:
    """``x-amz-user-agent`` and ``user-agent`` of the data plane (the same every request)."""
    key = (settings.kiro_version, system_version(settings), settings.node_version, machine_id)
    agents = _agents_memo.get(key)
    if agents is None:
        agent = _kiro_agent(settings, machine_id)
        v = STREAMING_SDK_VERSION
        agents = (
            f"aws-sdk-js/{v} {agent}",
            f"aws-sdk-js/{v} ua/2.1 os/{key[1]} lang/js "
            f"md/nodejs#{settings.node_version} api/codewhispererstreaming#{v} m/E {agent}",
        )
        if len(_agents_memo) >= _AGENTS_MEMO_MAX:
            _agents_memo.clear()  # machine ids are one per credential: rarely reached
        _agents_memo[key] = agents
    return agents


_AGENTS_MEMO_MAX = 1024
_agents_memo: dict[tuple[str, str, str, str], tuple[str, str]] = {}


def data_plane_headers(
    credential: Credential,
    settings: UpstreamSettings,
    *,
    machine_id: str,
    bearer: str | None = None,
    attempt: int = 1,
) -> dict[str, str]:
    """Headers for ``generateAssistantResponse`` in the Kiro-IDE form, with a fresh invocation id.

    ``bearer`` overrides the credential's current token (pass what ``ensure_fresh`` returned).
    """
    return {
        **_data_plane_head(settings, machine_id),
        "amz-sdk-invocation-id": random_uuid(),
        "amz-sdk-request": f"attempt={attempt}; max=3",
        **_auth_headers(credential, bearer),
    }


def _data_plane_head(settings: UpstreamSettings, machine_id: str) -> dict[str, str]:
    """The data-plane headers that are the same on every request of a machine id (copied
    into each request's headers, never handed out)."""
    key = (settings.kiro_version, system_version(settings), settings.node_version, machine_id)
    head = _heads_memo.get(key)
    if head is None:
        sdk_agent, user_agent = _streaming_agents(settings, machine_id)
        head = {
            "content-type": "application/json",
            "x-amzn-codewhisperer-optout": "true",
            "x-amzn-kiro-agent-mode": "vibe",
            "x-amz-user-agent": sdk_agent,
            "user-agent": user_agent,
        }
        if len(_heads_memo) >= _AGENTS_MEMO_MAX:
            _heads_memo.clear()
        _heads_memo[key] = head
    return head


_heads_memo: dict[tuple[str, str, str, str], dict[str, str]] = {}


def mcp_headers(
    credential: Credential,
    settings: UpstreamSettings,
    *,
    machine_id: str,
    bearer: str | None = None,
) -> dict[str, str]:
    """Headers for ``/mcp`` (web search): no optout/agent-mode, plus the profile ARN when known."""
    sdk_agent, user_agent = _streaming_agents(settings, machine_id)
    headers = {
        "content-type": "application/json",
        "x-amz-user-agent": sdk_agent,
        "user-agent": user_agent,
        "amz-sdk-invocation-id": random_uuid(),
        "amz-sdk-request": "attempt=1; max=3",
        **_auth_headers(credential, bearer),
    }
    if credential.profile_arn:
        headers["x-amzn-kiro-profile-arn"] = credential.profile_arn
    return headers


def usage_headers(
    credential: Credential,
    settings: UpstreamSettings,
    *,
    machine_id: str,
    bearer: str | None = None,
) -> dict[str, str]:
    """Headers for ``getUsageLimits`` (and the other runtime-client calls: models, profiles)."""
    agent = _kiro_agent(settings, machine_id)
    v = RUNTIME_SDK_VERSION
    return {
        "x-amz-user-agent": f"aws-sdk-js/{v} {agent}",
        "user-agent": (
            f"aws-sdk-js/{v} ua/2.1 os/{system_version(settings)} lang/js "
            f"md/nodejs#{settings.node_version} api/codewhispererruntime#{v} m/N,E {agent}"
        ),
        "amz-sdk-invocation-id": random_uuid(),
        "amz-sdk-request": "attempt=1; max=1",
        **_auth_headers(credential, bearer),
    }


def social_refresh_headers(settings: UpstreamSettings, *, machine_id: str | None) -> dict[str, str]:
    """Headers for the Kiro desktop auth service (``/refreshToken``, ``/oauth/token``).

    kiro.rs also sends ``Accept-Encoding: gzip, compress, deflate, br``; we let aiohttp announce
    only the encodings it can decode (no brotli without the optional package).
    ``machine_id=None`` gives the login form ``KiroIDE-{version}``.
    """
    agent = _kiro_agent(settings, machine_id) if machine_id else f"KiroIDE-{settings.kiro_version}"
    return {
        "Accept": "application/json, text/plain, */*",
        "Content-Type": "application/json",
        "User-Agent": agent,
    }


def oidc_headers(settings: UpstreamSettings) -> dict[str, str]:
    """Headers for AWS SSO-OIDC (``/token``, ``/client/register``, ``/device_authorization``)."""
    v = OIDC_SDK_VERSION
    return {
        "content-type": "application/json",
        "x-amz-user-agent": f"aws-sdk-js/{v} KiroIDE",
        "user-agent": (
            f"aws-sdk-js/{v} ua/2.1 os/{system_version(settings)} lang/js "
            f"md/nodejs#{settings.node_version} api/sso-oidc#{v} m/E KiroIDE"
        ),
        "amz-sdk-invocation-id": random_uuid(),
        "amz-sdk-request": "attempt=1; max=4",
    }

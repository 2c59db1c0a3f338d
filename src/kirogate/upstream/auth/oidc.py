"""Logins that create credentials: the SSO-OIDC device flow and the Kiro social PKCE flow.

Device flow (Builder ID / IAM Identity Center, auth spec §3.1): register a public client,
start a device authorization, show the user the code, poll ``/token`` until approved. All
bodies are JSON camelCase. The poll honours the server's ``interval``, adds 5 s on
``slow_down`` (RFC 8628), stops at the device code's expiry, and retries network errors and
5xx answers until then.

Social (Google / GitHub, auth spec §3.2): the user opens :func:`social_login_url` in a browser,
the redirect carries ``code`` and ``state``, and :func:`exchange_social_code` trades the code at
``/oauth/token`` (snake_case request, camelCase response).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aiohttp
import orjson

from kirogate.errors import LoginFailed
from kirogate.settings import UpstreamSettings
from kirogate.upstream.auth.refresh import DEFAULT_EXPIRES_IN, Clock, utcnow
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.endpoints import Endpoints
from kirogate.upstream.identity import oidc_headers, social_refresh_headers

log = logging.getLogger(__name__)

BUILDER_ID_START_URL = "https://view.awsapps.com/start"
KIRO_SCOPES = ("codewhisperer:completions", "codewhisperer:analysis", "codewhisperer:conversations")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
KIRO_REDIRECT_URI = "kiro://kiro.kiroAgent/authenticate-success"
SOCIAL_IDPS = {"google": "Google", "github": "Github"}  # the login page wants this exact casing
SLOW_DOWN_STEP = 5.0
DEFAULT_POLL_INTERVAL = 5.0  # RFC 8628 default when the server sends none
LOGIN_HTTP_TIMEOUT = 30.0

OnPending = Callable[[str, float], Awaitable[object] | object]


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    client_id: str
    client_secret: str = field(repr=False)
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """What to show the user (``user_code`` at ``verification_uri``) and how to poll."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


async def _post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    proxy: str | None,
) -> tuple[int, dict[str, Any] | None, str]:
    """Status, the body as a JSON object (``None`` if it is not one) and the raw text."""
    timeout = aiohttp.ClientTimeout(total=LOGIN_HTTP_TIMEOUT)
    async with session.post(
        url, data=orjson.dumps(body), headers=headers, proxy=proxy, timeout=timeout
    ) as response:
        text = (await response.read()).decode("utf-8", errors="replace")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    return response.status, (data if isinstance(data, dict) else None), text


def _describe_error(status: int, data: dict[str, Any] | None, text: str) -> str:
    if data:
        parts = [data.get("error"), data.get("error_description") or data.get("message")]
        summary = ": ".join(str(part) for part in parts if part)
        if summary:
            return f"HTTP {status} {summary[:200]}"
    return f"HTTP {status} {text.strip()[:200] or '(empty body)'}"


async def _call(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    proxy: str | None,
    what: str,
) -> dict[str, Any]:
    try:
        status, data, text = await _post_json(session, url, body, headers=headers, proxy=proxy)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise LoginFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
    if status != 200 or data is None:
        raise LoginFailed(f"{what}: {_describe_error(status, data, text)}")
    return data


def _required_str(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise LoginFailed(f"{what}: the response has no {key}")
    return value


def _number(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return float(value)


async def register_client(
    session: aiohttp.ClientSession,
    endpoints: Endpoints,
    settings: UpstreamSettings,
    *,
    client_name: str = "Kiro IDE",
    scopes: tuple[str, ...] = KIRO_SCOPES,
    proxy: str | None = None,
) -> ClientRegistration:
    """SSO-OIDC RegisterClient for a public client with the Kiro scopes."""
    what = "registering the OIDC client"
    body = {"clientName": client_name, "clientType": "public", "scopes": list(scopes)}
    data = await _call(
        session,
        endpoints.oidc_register(),
        body,
        headers=oidc_headers(settings),
        proxy=proxy,
        what=what,
    )
    expires = _number(data.get("clientSecretExpiresAt"), 0.0)
    return ClientRegistration(
        client_id=_required_str(data, "clientId", what),
        client_secret=_required_str(data, "clientSecret", what),
        expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
    )


async def start_device_authorization(
    session: aiohttp.ClientSession,
    endpoints: Endpoints,
    settings: UpstreamSettings,
    registration: ClientRegistration,
    *,
    start_url: str = BUILDER_ID_START_URL,
    proxy: str | None = None,
) -> DeviceAuthorization:
    """StartDeviceAuthorization; ``start_url`` is Builder ID's unless an IdC portal is given."""
    what = "starting the device authorization"
    body = {
        "clientId": registration.client_id,
        "clientSecret": registration.client_secret,
        "startUrl": start_url,
    }
    data = await _call(
        session,
        endpoints.oidc_device_authorization(),
        body,
        headers=oidc_headers(settings),
        proxy=proxy,
        what=what,
    )
    complete = data.get("verificationUriComplete")
    return DeviceAuthorization(
        device_code=_required_str(data, "deviceCode", what),
        user_code=_required_str(data, "userCode", what),
        verification_uri=_required_str(data, "verificationUri", what),
        verification_uri_complete=complete if isinstance(complete, str) else None,
        expires_in=_number(data.get("expiresIn"), 600.0),
        interval=_number(data.get("interval"), DEFAULT_POLL_INTERVAL),
    )


async def poll_device_token(
    session: aiohttp.ClientSession,
    endpoints: Endpoints,
    settings: UpstreamSettings,
    registration: ClientRegistration,
    authorization: DeviceAuthorization,
    *,
    region: str,
    start_url: str = BUILDER_ID_START_URL,
    on_pending: OnPending | None = None,
    max_wait: float | None = None,
    proxy: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    clock: Clock = utcnow,
) -> Credential:
    """Poll CreateToken until the user approves; the result is a new IdC credential.

    ``on_pending(state, remaining_seconds)`` is called after each unfinished poll with
    ``authorization_pending``, ``slow_down`` or ``retrying``. Raises :class:`LoginFailed` on
    ``expired_token``, ``access_denied``, any other error, or when the deadline (the device
    code's ``expiresIn``, or ``max_wait`` if shorter) passes.
    """
    interval = authorization.interval
    lifetime = (
        authorization.expires_in if max_wait is None else min(max_wait, authorization.expires_in)
    )
    deadline = monotonic() + lifetime
    body = {
        "clientId": registration.client_id,
        "clientSecret": registration.client_secret,
        "deviceCode": authorization.device_code,
        "grantType": DEVICE_CODE_GRANT,
    }
    while True:
        try:
            status, data, text = await _post_json(
                session,
                endpoints.oidc_token(),
                body,
                headers=oidc_headers(settings),
                proxy=proxy,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("device login poll failed, retrying: %s", exc)
            state = "retrying"
        else:
            if status == 200 and data is not None:
                return _device_credential(
                    data, registration, region=region, start_url=start_url, now=clock()
                )
            error = (data or {}).get("error")
            if error == "authorization_pending":
                state = "authorization_pending"
            elif error == "slow_down":
                interval += SLOW_DOWN_STEP
                state = "slow_down"
            elif error == "expired_token":
                raise LoginFailed(
                    "the device code expired before the login was approved", outcome="expired"
                )
            elif error == "access_denied":
                raise LoginFailed("the login was denied in the browser", outcome="denied")
            elif status >= 500:
                log.warning("device login poll: %s, retrying", _describe_error(status, data, text))
                state = "retrying"
            else:
                raise LoginFailed(f"device login failed: {_describe_error(status, data, text)}")
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise LoginFailed(
                f"the login was not approved within {lifetime:.0f}s", outcome="expired"
            )
        if on_pending is not None:
            result = on_pending(state, remaining)
            if inspect.isawaitable(result):
                await result
        await sleep(min(interval, remaining))
        if deadline - monotonic() <= 0:
            raise LoginFailed(
                f"the login was not approved within {lifetime:.0f}s", outcome="expired"
            )


def _expiry(data: dict[str, Any], now: datetime) -> datetime:
    return now + timedelta(seconds=_number(data.get("expiresIn"), DEFAULT_EXPIRES_IN))


def _device_credential(
    data: dict[str, Any],
    registration: ClientRegistration,
    *,
    region: str,
    start_url: str,
    now: datetime,
) -> Credential:
    what = "device login"
    return Credential(
        auth_method=AuthMethod.IDC,
        access_token=_required_str(data, "accessToken", what),
        refresh_token=_required_str(data, "refreshToken", what),
        expires_at=_expiry(data, now),
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        region=region,
        provider="BuilderId" if start_url == BUILDER_ID_START_URL else "Enterprise",
    )


# ---------------------------------------------------------------- social PKCE


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str = field(repr=False)
    challenge: str
    state: str


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def make_pkce() -> Pkce:
    """A fresh verifier (32 random bytes), its S256 challenge and a state (16 random bytes)."""
    verifier = _b64url(secrets.token_bytes(32))
    challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return Pkce(verifier=verifier, challenge=challenge, state=_b64url(secrets.token_bytes(16)))


def _canonical_idp(idp: str) -> str:
    canonical = SOCIAL_IDPS.get(idp.lower())
    if canonical is None:
        raise LoginFailed(f"unknown identity provider {idp!r}: use Google or Github")
    return canonical


def social_login_url(
    endpoints: Endpoints, idp: str, redirect_uri: str, challenge: str, state: str
) -> str:
    """The Kiro login page for ``idp`` (Google or Github) with an S256 PKCE challenge."""
    query = urlencode(
        {
            "idp": _canonical_idp(idp),
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
        },
        quote_via=quote,
        safe="",
    )
    return f"{endpoints.social_login()}?{query}"


def code_from_redirect(url: str, *, state: str) -> str:
    """The ``code`` of the redirect URL the browser ended on, after checking ``state``."""
    params = parse_qs(urlsplit(url).query)
    if "error" in params:
        detail = params.get("error_description", params["error"])[0]
        raise LoginFailed(f"the login failed in the browser: {detail}")
    if params.get("state", [""])[0] != state:
        raise LoginFailed("the redirect's state does not match this login; start again")
    code = params.get("code", [""])[0]
    if not code:
        raise LoginFailed("the redirect URL has no code")
    return code


async def exchange_social_code(
    session: aiohttp.ClientSession,
    endpoints: Endpoints,
    code: str,
    verifier: str,
    redirect_uri: str,
    *,
    settings: UpstreamSettings | None = None,
    idp: str | None = None,
    region: str = "us-east-1",
    proxy: str | None = None,
    clock: Clock = utcnow,
) -> Credential:
    """Trade an authorization code at ``/oauth/token`` for a new social credential."""
    what = "exchanging the login code"
    body = {"code": code, "code_verifier": verifier, "redirect_uri": redirect_uri}
    headers = social_refresh_headers(settings or UpstreamSettings(), machine_id=None)
    data = await _call(
        session, endpoints.social_token(), body, headers=headers, proxy=proxy, what=what
    )
    profile_arn = data.get("profileArn")
    return Credential(
        auth_method=AuthMethod.SOCIAL,
        access_token=_required_str(data, "accessToken", what),
        refresh_token=_required_str(data, "refreshToken", what),
        expires_at=_expiry(data, clock()),
        profile_arn=profile_arn if isinstance(profile_arn, str) and profile_arn else None,
        region=region,
        provider=_canonical_idp(idp) if idp else None,
    )

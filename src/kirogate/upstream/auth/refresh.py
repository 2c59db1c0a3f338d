"""Token refresh: the social, IdC and external-IdP calls, and the manager that runs them once.

Error mapping (auth spec §2.3): HTTP 400 with ``invalid_grant`` is permanent
(:class:`InvalidGrant`); everything else — other 4xx, 5xx, network errors, timeouts, unusable
bodies — is :class:`RefreshFailed` and may pass. kiro.rs also requires the description
``Invalid refresh token provided``; we treat the ``invalid_grant`` code alone as permanent, since
OAuth defines it as "the refresh token is invalid, expired or revoked" whatever the wording.

:class:`TokenManager` refreshes a credential when its token is missing or expires within
``settings.refresh_skew`` (kiro.rs: 10 minutes), one refresh per credential at a time. The
refresh runs in a task of its own: a client that disconnects does not cancel it, because a
refresh that rotated the token upstream but was dropped here would lose the credential.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
from yarl import URL

from kirogate.errors import CredentialUnusable, InvalidGrant, KirogateError, RefreshFailed
from kirogate.metrics import METRICS
from kirogate.settings import UpstreamSettings
from kirogate.tasks import spawn
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.endpoints import Endpoints, resolve_endpoints
from kirogate.upstream.identity import machine_id_for, oidc_headers, social_refresh_headers

log = logging.getLogger(__name__)

REFRESH_TIMEOUT = 60.0  # kiro.rs
DEFAULT_EXPIRES_IN = 3600  # when the response has no expiresIn (AIClient-2-API)
MAX_REFRESH_FAILURES = 3  # consecutive transient failures before a credential is disabled
REFRESH_BACKOFF_JITTER = 0.25  # up to a quarter more than settings.refresh_backoff·2^(n-1)

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]
SessionProvider = Callable[[Credential], tuple[aiohttp.ClientSession, URL | None]]
WriteBack = Callable[[Credential], Awaitable[object]]


class RefreshCoordinatorLike(Protocol):
    """Cross-process exclusion around a refresh (``kirogate.cluster.RefreshCoordinator``).

    ``run`` returns a usable token: one another process stored meanwhile (fresh, and not
    ``rejected`` when ``force``), or the result of ``refresh()``.
    """

    async def run(
        self,
        credential: Credential,
        *,
        force: bool,
        rejected: str | None,
        skew: float,
        refresh: Callable[[], Awaitable[str]],
    ) -> str: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class TokenUpdate:
    """What a refresh returned; ``None`` fields keep the credential's current value."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    profile_arn: str | None

    def apply(self, credential: Credential) -> None:
        """Adopt the new tokens; a rotated refresh token replaces the old one."""
        credential.access_token = self.access_token
        credential.expires_at = self.expires_at
        if self.refresh_token:
            credential.refresh_token = self.refresh_token
        if self.profile_arn:
            credential.profile_arn = self.profile_arn


# ---------------------------------------------------------------- HTTP calls


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    proxy: URL | None,
    settings: UpstreamSettings,
    what: str,
) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=REFRESH_TIMEOUT, sock_connect=settings.connect_timeout)
    try:
        async with session.post(
            url, data=body, headers=headers, proxy=proxy, timeout=timeout
        ) as response:
            raw = await response.read()
            return response.status, raw.decode("utf-8", errors="replace")
    except TimeoutError as exc:
        raise RefreshFailed(f"{what}: no answer within {REFRESH_TIMEOUT:.0f}s") from exc
    except aiohttp.ClientError as exc:
        # The library's exception text is for the operator's log; a client may see the message.
        log.warning("%s: %s: %s", what, type(exc).__name__, exc)
        raise RefreshFailed(f"{what}: the connection to the token service failed") from exc
    except ValueError as exc:
        # A header (machine id) or URL (region) of the credential the HTTP client refuses. The
        # kind goes to the log only (its text may quote the field); a client may see the message.
        log.warning("%s: the HTTP client refused the request (%s)", what, type(exc).__name__)
        raise CredentialUnusable(
            f"{what}: the HTTP client refused to build the request; check the credential's fields"
        ) from exc


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _error_summary(text: str) -> tuple[str | None, str]:
    """The OAuth/AWS error code and a short, secret-free description of an error body."""
    data = _json_object(text)
    if data is None:
        return None, (text.strip()[:200] or "(empty body)")
    code = data.get("error") or data.get("__type") or data.get("reason")
    description = data.get("error_description") or data.get("message") or data.get("Message")
    parts = [str(part) for part in (code, description) if part]
    return (str(code) if code else None), (": ".join(parts)[:200] or "(no error message)")


def _check_status(status: int, text: str, what: str) -> dict[str, Any]:
    if 200 <= status < 300:
        data = _json_object(text)
        if data is None:
            raise RefreshFailed(f"{what}: HTTP {status} with a body that is not a JSON object")
        return data
    code, summary = _error_summary(text)
    log.debug("%s: HTTP %d body %s", what, status, text[:2000])
    if status == 400 and (code == "invalid_grant" or '"invalid_grant"' in text):
        raise InvalidGrant(summary)
    raise RefreshFailed(f"{what}: HTTP {status} {summary}", status=status)


def _token_update(
    data: dict[str, Any], *, status: int, what: str, now: datetime, snake: bool = False
) -> TokenUpdate:
    keys = ("access_token", "refresh_token", "expires_in") if snake else None
    access_key, refresh_key, expires_key = keys or ("accessToken", "refreshToken", "expiresIn")
    access = data.get(access_key)
    if not isinstance(access, str) or not access:
        raise RefreshFailed(f"{what}: HTTP {status} without {access_key}", status=status)
    refresh = data.get(refresh_key)
    expires_in = data.get(expires_key)
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        expires_in = DEFAULT_EXPIRES_IN
    profile_arn = data.get("profileArn")
    return TokenUpdate(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=now + timedelta(seconds=expires_in),
        profile_arn=profile_arn if isinstance(profile_arn, str) and profile_arn else None,
    )


def _require_refresh_token(credential: Credential) -> str:
    if not credential.refresh_token:
        raise InvalidGrant(f"credential {credential.label} has no refresh token")
    return credential.refresh_token


async def refresh_social(
    session: aiohttp.ClientSession,
    credential: Credential,
    settings: UpstreamSettings,
    *,
    endpoints: Endpoints,
    proxy: URL | None,
    clock: Clock = utcnow,
) -> TokenUpdate:
    """``POST {social_auth}/refreshToken`` with ``{"refreshToken"}`` (auth spec §2.1)."""
    body = orjson.dumps({"refreshToken": _require_refresh_token(credential)})
    headers = social_refresh_headers(settings, machine_id=machine_id_for(credential, settings))
    what = f"social refresh of {credential.label}"
    status, text = await _post(
        session,
        endpoints.social_refresh(),
        body=body,
        headers=headers,
        proxy=proxy,
        settings=settings,
        what=what,
    )
    data = _check_status(status, text, what)
    return _token_update(data, status=status, what=what, now=clock())


async def refresh_idc(
    session: aiohttp.ClientSession,
    credential: Credential,
    settings: UpstreamSettings,
    *,
    endpoints: Endpoints,
    proxy: URL | None,
    clock: Clock = utcnow,
) -> TokenUpdate:
    """SSO-OIDC CreateToken: JSON camelCase, ``grantType: refresh_token`` (auth spec §2.2)."""
    refresh_token = _require_refresh_token(credential)
    if not credential.client_id or not credential.client_secret:
        raise InvalidGrant(f"IdC credential {credential.label} has no clientId/clientSecret")
    body = orjson.dumps(
        {
            "clientId": credential.client_id,
            "clientSecret": credential.client_secret,
            "refreshToken": refresh_token,
            "grantType": "refresh_token",
        }
    )
    what = f"IdC refresh of {credential.label}"
    status, text = await _post(
        session,
        endpoints.oidc_token(),
        body=body,
        headers=oidc_headers(settings),
        proxy=proxy,
        settings=settings,
        what=what,
    )
    data = _check_status(status, text, what)
    return _token_update(data, status=status, what=what, now=clock())


async def refresh_external_idp(
    session: aiohttp.ClientSession,
    credential: Credential,
    settings: UpstreamSettings,
    *,
    proxy: URL | None,
    clock: Clock = utcnow,
) -> TokenUpdate:
    """Standard OAuth2 form refresh at the credential's ``tokenEndpoint`` (auth spec §2.4)."""
    refresh_token = _require_refresh_token(credential)
    url = credential.token_endpoint or ""
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise InvalidGrant(
            f"external IdP credential {credential.label}: tokenEndpoint must be https"
        )
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if credential.client_id:
        form["client_id"] = credential.client_id
    scopes = credential.extra.get("scopes")
    if isinstance(scopes, list) and scopes:
        form["scope"] = " ".join(str(scope) for scope in scopes)
    what = f"external IdP refresh of {credential.label}"
    status, text = await _post(
        session,
        url,
        body=urlencode(form).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        proxy=proxy,
        settings=settings,
        what=what,
    )
    data = _check_status(status, text, what)
    return _token_update(data, status=status, what=what, now=clock(), snake=True)


async def refresh_credential(
    session: aiohttp.ClientSession,
    credential: Credential,
    settings: UpstreamSettings,
    *,
    endpoints: Endpoints,
    proxy: URL | None,
    clock: Clock = utcnow,
) -> TokenUpdate:
    """Refresh by the credential's auth method; API keys are never refreshed."""
    match credential.auth_method:
        case AuthMethod.SOCIAL:
            return await refresh_social(
                session, credential, settings, endpoints=endpoints, proxy=proxy, clock=clock
            )
        case AuthMethod.IDC:
            return await refresh_idc(
                session, credential, settings, endpoints=endpoints, proxy=proxy, clock=clock
            )
        case AuthMethod.EXTERNAL_IDP:
            return await refresh_external_idp(
                session, credential, settings, proxy=proxy, clock=clock
            )
        case _:
            raise ValueError(f"{credential.auth_method.value} credentials are not refreshed")


# ---------------------------------------------------------------- manager


class TokenManager:
    """Hands out usable bearer tokens, refreshing each credential at most once at a time.

    Failure handling (kiro.rs): ``invalid_grant`` disables the credential at once with reason
    ``InvalidRefreshToken: <message>``; other failures are counted per credential and the
    ``MAX_REFRESH_FAILURES``-th in a row disables it with ``TooManyRefreshFailures``. A success
    resets the count. Both errors still propagate to every waiting caller.

    With a ``coordinator`` (several processes sharing a store), the refresh task also runs
    under the coordinator's cross-process lock, which may hand back a token another
    process has just stored instead of refreshing again.
    """

    def __init__(
        self,
        settings: UpstreamSettings,
        sessions: SessionProvider,
        *,
        write_back: WriteBack | None = None,
        clock: Clock = utcnow,
        max_refresh_failures: int = MAX_REFRESH_FAILURES,
        coordinator: RefreshCoordinatorLike | None = None,
        monotonic: Monotonic = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        # Public so a gateway can attach it once its store is open (several processes).
        self.coordinator = coordinator
        self._sessions = sessions
        self._write_back = write_back
        self._clock = clock
        self._max_failures = max_refresh_failures
        self._inflight: dict[int, asyncio.Task[str]] = {}
        self._failures: dict[int, int] = {}
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        # Per credential: failed refreshes in a row (for the delay) and when the next may run.
        self._backoff: dict[int, tuple[int, float]] = {}

    def refresh_failures(self, credential: Credential) -> int:
        """Consecutive failed refreshes of this credential."""
        return self._failures.get(id(credential), 0)

    def reset(self, credential: Credential) -> None:
        """Forget the failure count and backoff (e.g. when an admin re-enables the credential)."""
        self._failures.pop(id(credential), None)
        self._backoff.pop(id(credential), None)

    def backoff_remaining(self, credential: Credential) -> float:
        """Seconds before the credential's next refresh may run (0: it may run now)."""
        entry = self._backoff.get(id(credential))
        return 0.0 if entry is None else max(entry[1] - self._monotonic(), 0.0)

    def _back_off(self, key: int) -> float:
        failures = self._backoff.get(key, (0, 0.0))[0] + 1
        base, cap = self._settings.refresh_backoff, self._settings.refresh_backoff_max
        delay = min(base * 2.0 ** (failures - 1), cap)
        delay += self._rng.uniform(0.0, delay * REFRESH_BACKOFF_JITTER)
        self._backoff[key] = (failures, self._monotonic() + delay)
        return delay

    async def ensure_fresh(
        self, credential: Credential, *, force: bool = False, rejected: str | None = None
    ) -> str:
        """A bearer token for the credential, refreshed first if it expires within the skew.

        ``force`` refreshes anyway (joining a refresh already running). Pass the token the
        upstream refused as ``rejected``: if another caller has replaced it meanwhile, the
        new one is returned without a second refresh.
        """
        if credential.is_api_key:
            if not credential.kiro_api_key:
                raise InvalidGrant(f"API-key credential {credential.label} has no kiroApiKey")
            return credential.kiro_api_key
        key = id(credential)
        task = self._inflight.get(key)
        if task is None:
            if force and rejected is not None and credential.access_token not in (None, rejected):
                force = False
            expiring = credential.expires_within(self._settings.refresh_skew, now=self._clock())
            if not force and not expiring and credential.access_token:
                return credential.access_token
            wait = self.backoff_remaining(credential)
            if wait > 0:
                # A refresh failed lately: no new call before the backoff ends. A token that
                # is only near its expiry still serves; one that is gone cannot.
                if not force and not credential.expires_within(0, now=self._clock()):
                    return credential.access_token or ""
                failures = self._backoff[key][0]
                raise RefreshFailed(
                    f"refresh of {credential.label} backs off for {wait:.0f}s after "
                    f"{failures} failure(s)",
                    retry_after=wait,
                )
            # Without an explicit one, the token held now is the one found wanting.
            refused = rejected if rejected is not None else credential.access_token
            task = spawn(
                self._refresh(credential, key, force, refused),
                name=f"refresh {credential.label}",
                awaited=True,
            )
            self._inflight[key] = task
            task.add_done_callback(_mark_retrieved)
        # shield: a cancelled caller must not cancel the refresh the others are waiting for.
        return await asyncio.shield(task)

    async def aclose(self) -> None:
        """Cancel refreshes still running (at shutdown) and wait for them to end."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _refresh(
        self, credential: Credential, key: int, force: bool, rejected: str | None
    ) -> str:
        try:
            if self.coordinator is None:
                return await self._refresh_once(credential, key)
            return await self.coordinator.run(
                credential,
                force=force,
                rejected=rejected,
                skew=self._settings.refresh_skew,
                refresh=lambda: self._refresh_once(credential, key),
            )
        finally:
            self._inflight.pop(key, None)

    async def _refresh_once(self, credential: Credential, key: int) -> str:
        session, proxy = self._sessions(credential)
        endpoints = resolve_endpoints(
            self._settings,
            api_region=credential.api_region,
            auth_region=credential.effective_auth_region,
        )
        log.info("refreshing %s (%s)", credential.label, credential.auth_method.value)
        try:
            update = await refresh_credential(
                session,
                credential,
                self._settings,
                endpoints=endpoints,
                proxy=proxy,
                clock=self._clock,
            )
        except InvalidGrant as exc:
            METRICS.refresh("invalid_grant")
            self._failures.pop(key, None)
            credential.disabled = True
            credential.disabled_reason = f"InvalidRefreshToken: {exc.message}"
            log.warning("%s disabled: refresh token rejected (%s)", credential.label, exc.message)
            raise
        except RefreshFailed as exc:
            METRICS.refresh("failed")
            exc.retry_after = self._back_off(key)
            count = self._failures[key] = self._failures.get(key, 0) + 1
            if count >= self._max_failures:
                credential.disabled = True
                credential.disabled_reason = "TooManyRefreshFailures"
                log.warning(
                    "%s disabled after %d failed refreshes: %s", credential.label, count, exc
                )
            else:
                log.warning(
                    "refresh %d of %s failed: %s; next try in %.1fs",
                    count,
                    credential.label,
                    exc,
                    exc.retry_after,
                )
            raise
        METRICS.refresh("ok")
        self._failures.pop(key, None)
        self._backoff.pop(key, None)
        rotated = bool(update.refresh_token and update.refresh_token != credential.refresh_token)
        if rotated and credential.machine_id is None:
            # The default machine id hashes the refresh token; pin it before the token rotates
            # so the device fingerprint stays the same (written back to kiro.rs files).
            credential.machine_id = machine_id_for(credential, self._settings)
        update.apply(credential)
        log.info(
            "refreshed %s, valid until %s%s",
            credential.label,
            update.expires_at.isoformat(timespec="seconds"),
            ", refresh token rotated" if rotated else "",
        )
        if self._write_back is not None:
            try:
                await self._write_back(credential)
            except (OSError, KirogateError) as exc:
                # The new tokens are in memory and the request can go on; a rotated refresh
                # token is lost at restart unless the operator fixes the file.
                log.error("could not write back tokens of %s: %s", credential.label, exc)
        assert credential.access_token is not None
        return credential.access_token


def _mark_retrieved(task: asyncio.Task[str]) -> None:
    # Every caller may have gone (cancelled); read the outcome so asyncio does not warn.
    if not task.cancelled():
        task.exception()

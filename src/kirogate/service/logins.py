"""Logins an operator starts through the admin API: the SSO-OIDC device flow (AWS Builder ID
or IAM Identity Center) and the Kiro social PKCE flow (Google, GitHub).

The wire steps are :mod:`kirogate.upstream.auth.oidc`'s, the same the command line's
``kirogate login`` runs; this module keeps the logins in flight. A device login is polled
in the background by the instance that started it (``slow_down`` adds 5 s to the interval
for good, ``authorization_pending`` waits one more interval). A social login waits for the
address the browser ended on: pasted to ``/complete``, or brought by the browser itself to
the callback route, found by the SHA-256 of its state. Either way the new credential goes
through :meth:`Operations.add` (stored, in this pool at once, the other instances told),
with its e-mail when the usage query gives it.

Status lives in the store's ``logins`` table when there is a store, so every instance
answers for every login, and in this process otherwise. A login that is never completed
expires (device: the code's ``expiresIn``; social: :data:`SOCIAL_TTL`), its secret wiped
and its task ended; its status row goes :data:`RESULT_TTL` later. Every end publishes
``login.finished`` on the event bus, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kirogate.errors import InvalidRequest, KirogateError, LoginFailed, NotFound
from kirogate.service.login_book import PENDING, LoginBook, LoginRecord, MemoryLoginBook
from kirogate.service.login_checks import (
    check_provider,
    check_redirect_uri,
    check_region,
    check_start_url,
    redirect_params,
    state_hash,
    valid_login_id,
)
from kirogate.tasks import spawn, stop_task
from kirogate.upstream.auth import oidc
from kirogate.upstream.endpoints import Endpoints, resolve_endpoints

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

    from kirogate.service.operations import Operations
    from kirogate.settings import Settings
    from kirogate.store import Store
    from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

DEVICE = "device"
SOCIAL = "social"
STATUSES = ("pending", "complete", "expired", "denied", "failed")
SOCIAL_TTL = 600.0  # seconds a social login waits for the browser
RESULT_TTL = 600.0  # seconds a finished login's status stays readable
SWEEP_INTERVAL = 30.0
EMAIL_TIMEOUT = 15.0

SessionFor = Callable[[Any], "tuple[aiohttp.ClientSession, URL | None]"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DeviceStart:
    """What the operator shows the user: ``user_code`` at ``verification_uri``."""

    login_id: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class SocialStart:
    login_id: str
    provider: str
    authorize_url: str
    redirect_uri: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class LoginStatus:
    login_id: str
    kind: str
    status: str
    expires_at: datetime
    provider: str | None = None
    credential_id: int | None = None
    error: str | None = None


# ---------------------------------------------------------------- the logins in flight


class Logins:
    """Starts, tracks and finishes operator logins; one per gateway (``operations.logins``)."""

    def __init__(
        self,
        operations: Operations,
        settings: Callable[[], Settings],
        session_for: SessionFor,
        *,
        store: Callable[[], Store | None],
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._operations = operations
        self._settings = settings
        self._session_for = session_for
        self._store = store
        self._memory = MemoryLoginBook()
        self.clock = clock
        self.sleep = sleep  # between device polls (tests move the emulator's clock)
        self.sweep_interval = SWEEP_INTERVAL
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._janitor: asyncio.Task[None] | None = None
        self._closed = False

    def _book(self) -> LoginBook:
        store = self._store()
        return store if store is not None else self._memory

    def _default_region(self) -> str:
        upstream = self._settings().upstream
        return upstream.auth_region or upstream.region

    def _endpoints(self, region: str) -> Endpoints:
        return resolve_endpoints(self._settings().upstream, auth_region=region)

    def _session(self) -> tuple[aiohttp.ClientSession, str | None]:
        session, proxy = self._session_for(None)
        return session, str(proxy) if proxy else None

    # ------------------------------------------------------------ device flow

    async def start_device(self, *, start_url: object = None, region: object = None) -> DeviceStart:
        """Register a client and start a device authorization; polling starts at once."""
        start = check_start_url(start_url)
        auth_region = check_region(region, self._default_region())
        upstream = self._settings().upstream
        endpoints = self._endpoints(auth_region)
        session, proxy = self._session()
        registration = await oidc.register_client(session, endpoints, upstream, proxy=proxy)
        authorization = await oidc.start_device_authorization(
            session, endpoints, upstream, registration, start_url=start, proxy=proxy
        )
        now = self.clock()
        record = LoginRecord(
            id=_new_id(),
            kind=DEVICE,
            status=PENDING,
            region=auth_region,
            created_at=now,
            expires_at=now + timedelta(seconds=authorization.expires_in),
            provider="BuilderId" if start == oidc.BUILDER_ID_START_URL else "Enterprise",
        )
        await self._book().add_login(asdict(record))
        poll = self._poll(record, endpoints, registration, authorization, start)
        task = spawn(poll, name=f"kirogate device login {record.id}")
        self._polls[record.id] = task
        task.add_done_callback(lambda _: self._polls.pop(record.id, None))
        self._watch()
        log.info("device login %s started (%s, %s)", record.id, record.provider, auth_region)
        return DeviceStart(
            login_id=record.id,
            user_code=authorization.user_code,
            verification_uri=authorization.verification_uri,
            verification_uri_complete=authorization.verification_uri_complete,
            expires_in=round(authorization.expires_in),
            interval=round(authorization.interval),
        )

    async def _poll(
        self,
        record: LoginRecord,
        endpoints: Endpoints,
        registration: oidc.ClientRegistration,
        authorization: oidc.DeviceAuthorization,
        start_url: str,
    ) -> None:
        session, proxy = self._session()
        try:
            credential = await oidc.poll_device_token(
                session, endpoints, self._settings().upstream, registration, authorization,
                region=record.region, start_url=start_url, proxy=proxy, sleep=self.sleep,
            )  # fmt: skip
        except LoginFailed as exc:
            await self._finish(record.id, exc.outcome, error=exc.message)
            return
        except Exception as exc:  # a bug or an HTTP pool closing: the login ends, said so
            log.exception("device login %s: polling failed", record.id)
            await self._finish(record.id, "failed", error=f"polling failed: {type(exc).__name__}")
            return
        await self._land(record, credential)

    # ------------------------------------------------------------ social flow

    async def start_social(
        self, *, provider: object, region: object = None, redirect_uri: object = None
    ) -> SocialStart:
        """The Kiro login page's address for ``provider``, with a fresh S256 challenge."""
        idp = check_provider(provider)
        auth_region = check_region(region, self._default_region())
        redirect = check_redirect_uri(redirect_uri)
        pkce = oidc.make_pkce()
        url = oidc.social_login_url(
            self._endpoints(auth_region), idp, redirect, pkce.challenge, pkce.state
        )
        now = self.clock()
        record = LoginRecord(
            id=_new_id(),
            kind=SOCIAL,
            status=PENDING,
            region=auth_region,
            created_at=now,
            expires_at=now + timedelta(seconds=SOCIAL_TTL),
            provider=idp,
            redirect_uri=redirect,
            state_hash=state_hash(pkce.state),
            secret={"verifier": pkce.verifier},
        )
        await self._book().add_login(asdict(record))
        self._watch()
        log.info("social login %s started (%s)", record.id, idp)
        return SocialStart(
            login_id=record.id,
            provider=idp,
            authorize_url=url,
            redirect_uri=redirect,
            expires_in=round(SOCIAL_TTL),
        )

    async def complete(self, login_id: str, url: object) -> LoginStatus:
        """Finish a social login with the address the browser ended on (state checked)."""
        record = await self._get(login_id)
        if record.kind != SOCIAL:
            raise InvalidRequest(
                f"login {login_id} is a device login: it completes once approved", param="login_id"
            )
        params = redirect_params(url)
        if not hmac.compare_digest(state_hash(params["state"]), record.state_hash or ""):
            raise InvalidRequest(
                "field 'url': its state does not match this login (is it from another login?)",
                param="url",
            )
        return await self._complete_social(record, params)

    async def callback(self, params: Mapping[str, str]) -> LoginStatus:
        """Finish the social login whose state the browser brings back (the callback route)."""
        state = params.get("state")
        if not state:
            raise InvalidRequest("the address has no state", param="state")
        record = LoginRecord.of(await self._book().login_by_state(state_hash(state)))
        if record is None or record.kind != SOCIAL:
            raise NotFound("no login waits for this address (it expired, or it is not ours)")
        return await self._complete_social(record, dict(params))

    async def _complete_social(self, record: LoginRecord, params: dict[str, str]) -> LoginStatus:
        record = await self._current(record)
        if record.status != PENDING:
            return _status(record)  # ended already: its outcome, as a GET would say
        error = params.get("error")
        if error:
            detail = params.get("error_description") or error
            status = "denied" if error == "access_denied" else "failed"
            await self._finish(
                record.id, status, error=f"the login failed in the browser: {detail}"
            )
            return await self.status(record.id)
        code = params.get("code")
        if not code:
            raise InvalidRequest("field 'url': the address has no code", param="url")
        secret = await self._book().claim_login_secret(record.id)
        if not secret or not isinstance(secret.get("verifier"), str):
            return await self.status(record.id)  # another request is completing it
        session, proxy = self._session()
        try:
            credential = await oidc.exchange_social_code(
                session, self._endpoints(record.region), code, secret["verifier"],
                record.redirect_uri or oidc.KIRO_REDIRECT_URI, settings=self._settings().upstream,
                idp=record.provider, region=record.region, proxy=proxy,
            )  # fmt: skip
        except LoginFailed as exc:
            await self._finish(record.id, "failed", error=exc.message)
        else:
            await self._land(record, credential)
        return await self.status(record.id)

    # ------------------------------------------------------------ both

    async def status(self, login_id: str) -> LoginStatus:
        return _status(await self._current(await self._get(login_id)))

    async def _get(self, login_id: str) -> LoginRecord:
        row = await self._book().get_login(login_id) if valid_login_id(login_id) else None
        record = LoginRecord.of(row)
        if record is None:
            raise NotFound(
                f"no login {login_id[:60]!r}: unknown, or ended more than "
                f"{RESULT_TTL / 60:.0f} minutes ago",
                param="login_id",
            )
        return record

    async def _current(self, record: LoginRecord) -> LoginRecord:
        """``record``, expired first if its time is up."""
        if record.status == PENDING and record.expires_at <= self.clock():
            await self._expire(record.id)
            return LoginRecord.of(await self._book().get_login(record.id)) or record
        return record

    async def _expire(self, login_id: str) -> None:
        task = self._polls.get(login_id)
        if task is not None and not task.done():
            return  # this process polls it: the poll ends it at the code's expiry, or lands it
        await self._finish(login_id, "expired", error="the login was not completed in time")

    async def _land(self, record: LoginRecord, credential: Credential) -> None:
        """Add the new credential through the one door, learn its e-mail, end the login."""
        try:
            stored, _created = await self._operations.add(credential)
        except KirogateError as exc:
            await self._finish(record.id, "failed", error=f"storing the credential: {exc.message}")
            return
        if stored.id is not None and not stored.email:
            # The usage query names the account (isEmailRequired); a login never waits long
            # for it, and the background usage job learns it later anyway.
            try:
                async with asyncio.timeout(EMAIL_TIMEOUT):
                    await self._operations.balance(stored.id)
            except (KirogateError, TimeoutError) as exc:
                log.info(
                    "login %s: no e-mail for credential #%s yet: %s", record.id, stored.id, exc
                )
        # The credential exists: that is the outcome, even if the login was marked expired
        # while the code was being exchanged.
        await self._finish(record.id, "complete", credential_id=stored.id, overriding=("expired",))

    async def _finish(
        self,
        login_id: str,
        status: str,
        *,
        credential_id: int | None = None,
        error: str | None = None,
        overriding: tuple[str, ...] = (),
    ) -> bool:
        ended = await self._book().finish_login(
            login_id,
            status,
            at=self.clock(),
            credential_id=credential_id,
            error=error,
            overriding=overriding,
        )
        if ended:
            if status == "complete":
                log.info("login %s complete: credential #%s", login_id, credential_id)
            else:
                log.info("login %s %s: %s", login_id, status, error)
            self._operations.events.publish(
                "login.finished", login_id=login_id, status=status, credential_id=credential_id
            )
        return ended

    # ------------------------------------------------------------ housekeeping

    async def sweep(self) -> None:
        """Expire the logins whose time is up and drop the rows of long-finished ones."""
        book = self._book()
        now = self.clock()
        for login_id in await book.expired_logins(now):
            await self._expire(login_id)
        await book.purge_logins(now - timedelta(seconds=RESULT_TTL))

    def _watch(self) -> None:
        if self._janitor is None or self._janitor.done():
            self._janitor = spawn(self._run_janitor(), name="kirogate login janitor")

    async def _run_janitor(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
                if not self._polls and await self._book().count_logins() == 0:
                    return
            except KirogateError as exc:  # the store is away: next round
                log.warning("login janitor: %s", exc.message)

    async def close(self) -> None:
        """Stop polling (the logins in flight end as failed) and the janitor."""
        self._closed = True
        if self._janitor is not None:
            await stop_task(self._janitor)
        for login_id, task in list(self._polls.items()):
            await stop_task(task)
            with contextlib.suppress(KirogateError):
                await self._finish(login_id, "failed", error="kirogate stopped during the login")


def _new_id() -> str:
    return "login_" + secrets.token_hex(12)


def _status(record: LoginRecord) -> LoginStatus:
    return LoginStatus(
        login_id=record.id,
        kind=record.kind,
        status=record.status,
        expires_at=record.expires_at,
        provider=record.provider,
        credential_id=record.credential_id,
        error=record.error,
    )

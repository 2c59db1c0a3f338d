"""The stored credentials: those out of rotation, and those whose token refresh fails.

Each stored credential the pool cannot use gets a line with the fix. When no gateway runs on
the data directory, every enabled credential's token is refreshed once (as ``accounts verify``
does; new tokens are saved to the store and to the source file, since a refresh may rotate the
refresh token); with a gateway running, a refresh here could race its own, so the failures it
recorded are reported instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kirogate.doctor.checks import Check, Status
from kirogate.errors import InvalidGrant, KirogateError
from kirogate.pool.state import CredentialState, DisableReason
from kirogate.pool.status import state_text
from kirogate.settings import Settings
from kirogate.upstream.credentials import Credential

if TYPE_CHECKING:
    from kirogate.store import Store

# Disables that need someone to act: a new token, a new login, a fixed definition.
_BROKEN = frozenset(
    {
        DisableReason.INVALID_REFRESH_TOKEN,
        DisableReason.TOO_MANY_REFRESH_FAILURES,
        DisableReason.INVALID_CONFIG,
    }
)
RELOGIN_HINT = (
    "fix: log in again (`kirogate login`, or the Kiro IDE then `kirogate accounts import "
    "~/.aws/sso/cache/kiro-auth-token.json`); or delete it: kirogate accounts remove {id}"
)


def _name(cred: Credential) -> str:
    who = f"#{cred.id}" + (f" {cred.email}" if cred.email else "")
    return f"stored credential {who}"


def disabled_check(cred: Credential, state: CredentialState, now: datetime) -> Check | None:
    """A line for a credential out of rotation (disabled), else ``None``."""
    reason = state.disabled_reason
    if reason is None:
        return None
    summary = f"[{cred.auth_method.value}] {state_text(state, now)}"
    if reason in _BROKEN:
        return Check(_name(cred), Status.FAIL, summary, [RELOGIN_HINT.format(id=cred.id)])
    fix = f"fix: kirogate accounts enable {cred.id} (when it should serve again)"
    return Check(_name(cred), Status.WARN, summary, [fix])


def recorded_check(cred: Credential, state: CredentialState) -> Check | None:
    """A line for failures a running gateway recorded against an enabled credential."""
    if not state.failure_count or not state.last_error:
        return None
    when = f" at {state.last_error_at:%Y-%m-%d %H:%M} UTC" if state.last_error_at else ""
    summary = (
        f"[{cred.auth_method.value}] {state.failure_count} failure(s) in a row, "
        f"the last{when}: {state.last_error}"
    )
    return Check(_name(cred), Status.WARN, summary, ["check it with: kirogate accounts verify"])


async def refresh_check(store: Store, settings: Settings, cred: Credential, limit: float) -> Check:
    """Refresh ``cred``'s token once; the new tokens are saved, a rejected token is a failure."""
    from kirogate.upstream.auth.refresh import TokenManager
    from kirogate.upstream.auth.writeback import write_back_async
    from kirogate.upstream.http import HttpPool

    async def save(credential: Credential) -> None:
        await store.save_tokens(credential)
        await write_back_async(credential)

    kind = cred.auth_method.value
    async with HttpPool(settings.upstream) as pool:
        tokens = TokenManager(settings.upstream, pool.session_for, write_back=save)
        try:
            async with asyncio.timeout(limit):
                await tokens.ensure_fresh(cred, force=True)
        except InvalidGrant as exc:
            return Check(
                _name(cred),
                Status.FAIL,
                f"[{kind}] the refresh token was rejected: {exc}",
                [RELOGIN_HINT.format(id=cred.id)],
            )
        except TimeoutError:
            return Check(_name(cred), Status.FAIL, f"[{kind}] refresh: no answer within {limit:g}s")
        except (KirogateError, ValueError) as exc:
            return Check(_name(cred), Status.FAIL, f"[{kind}] refresh failed: {exc}")
        finally:
            await tokens.aclose()
    return Check(_name(cred), Status.OK, f"[{kind}] refreshed the token")


async def stored_checks(
    store: Store,
    settings: Settings,
    credentials: Sequence[Credential],
    states: Mapping[int, CredentialState],
    *,
    refresh: bool,
    limit: float,
) -> list[Check]:
    """One line per stored credential that needs attention (all of them, with ``refresh``)."""
    now = datetime.now(UTC)
    checks: list[Check] = []
    for cred in credentials:
        state = states.get(cred.id or -1) or CredentialState(cred.id or 0)
        line = disabled_check(cred, state, now)
        if line is None and not cred.is_api_key:
            if refresh:
                line = await refresh_check(store, settings, cred, limit)
            else:
                line = recorded_check(cred, state)
        if line is not None:
            checks.append(line)
    return checks


async def check_stored_credentials(
    settings: Settings, *, refresh: bool, limit: float
) -> list[Check]:
    """:func:`stored_checks` on the configured store; nothing when it does not exist yet."""
    from kirogate.doctor.network import sqlite_file
    from kirogate.store import Store

    path = sqlite_file(settings)
    if path is not None and not path.exists():
        return []  # not created here
    store = await Store.open(
        database_url=settings.database_url,
        data_dir=settings.data_path,
        secret_key=settings.secret_key,
    )
    try:
        credentials = await store.list_credentials()
        states = {state.id: state for state in await store.load_states()}
        return await stored_checks(
            store, settings, credentials, states, refresh=refresh, limit=limit
        )
    finally:
        await store.close()

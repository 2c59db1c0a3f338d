"""Operator actions on many credentials at once: import, export, refresh, verify, enable or
disable all, delete the failed ones. A mixin of :class:`~kirogate.service.operations.Operations`.

The import is all or nothing: the items were read first
(:mod:`~kirogate.service.credential_import`), and the valid ones are stored in one store
transaction before the pool takes any of them; when that write fails nothing is added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kirogate.errors import InvalidRequest, KirogateError
from kirogate.pool.state import CooldownReason, DisableReason
from kirogate.service.credential_import import ImportItem, export_entry
from kirogate.service.operator_jobs import Job
from kirogate.upstream.credentials import Credential, mask_secret
from kirogate.upstream.usage import Balance

if TYPE_CHECKING:
    from kirogate.pool.credential_pool import CredentialPool
    from kirogate.pool.state import CredentialState
    from kirogate.service.operator_jobs import OperatorJobs
    from kirogate.store import Store

log = logging.getLogger(__name__)

VERIFY_CONCURRENCY = 4
# Disabled for a reason only an operator's fix undoes: the ones delete-failed removes.
FAILED_REASONS = frozenset(
    {
        DisableReason.INVALID_REFRESH_TOKEN,
        DisableReason.TOO_MANY_FAILURES,
        DisableReason.TOO_MANY_REFRESH_FAILURES,
        DisableReason.INVALID_CONFIG,
    }
)


def _secrets(credential: Credential) -> list[str]:
    values = (
        credential.refresh_token,
        credential.access_token,
        credential.client_secret,
        credential.kiro_api_key,
        credential.proxy_password,
    )
    return [value for value in values if value and len(value) >= 4]


def scrubbed(text: str, credential: Credential) -> str:
    """``text`` with the credential's secrets masked (an upstream error may quote one)."""
    for secret in sorted(_secrets(credential), key=len, reverse=True):
        text = text.replace(secret, mask_secret(secret) or "***")
    return text


def balance_summary(balance: Balance) -> dict[str, Any]:
    """Used / limit and the reset date: what a verify result shows of the balance."""
    public = balance.to_public()
    keys = ("currentUsage", "usageLimit", "remaining", "nextResetAt", "subscriptionTitle")
    return {key: public[key] for key in keys}


class CredentialBatchOperations:
    """Mixed into ``Operations``; ``self`` is the operations (module docstring)."""

    if TYPE_CHECKING:  # what the mixin uses of Operations
        _pool: Callable[[], CredentialPool | None]
        _store: Callable[[], Store | None]
        operator_jobs: OperatorJobs

        def _live(self) -> CredentialPool: ...
        def _stored(self) -> Store: ...
        async def _notify(self) -> None: ...
        async def verify(self, credential: Credential) -> None: ...
        async def fetch_balance(self, credential: Credential) -> Balance: ...
        def note_balance(self, credential: Credential, balance: Balance) -> None: ...
        async def stored_credentials(self) -> list[Credential]: ...
        async def stored_states(self) -> dict[int, CredentialState]: ...
        async def set_disabled(
            self, credential_id: int, disabled: bool, *, reason: str | None = None
        ) -> Credential: ...
        async def remove(self, credential_id: int, *, confirmed: bool = False) -> Credential: ...
        async def audit_event(
            self,
            action: str,
            target: str | int | None = None,
            detail: dict[str, Any] | None = None,
        ) -> None: ...

    # ------------------------------------------------------------ import, export

    async def import_batch(self, items: Sequence[ImportItem]) -> list[dict[str, Any]]:
        """One result per item, in order: ``added`` (``id``), ``duplicate`` (``id`` of the
        credential it repeats) or ``invalid`` (``reason`` naming the field)."""
        results: list[dict[str, Any]] = [
            {"index": item.index, "status": "invalid", "field": item.field, "reason": item.reason}
            for item in items
        ]
        pool = self._pool()
        store = self._store()
        if pool is None and store is None:
            self._stored()  # raises: there is nowhere to add them
        known: dict[str, Credential] = {}
        if pool is not None:
            known = {credential.fingerprint(): credential for credential in pool.credentials()}
        first: dict[str, int] = {}  # fingerprint -> position in ``fresh``
        fresh: list[Credential] = []
        repeats: list[tuple[int, str]] = []  # (result position, fingerprint)
        for position, item in enumerate(items):
            credential = item.credential
            if credential is None:
                continue
            fingerprint = credential.fingerprint()
            if fingerprint in known or fingerprint in first:
                repeats.append((position, fingerprint))
                continue
            first[fingerprint] = position
            fresh.append(credential)
        stored: list[tuple[Credential, bool]]
        if store is not None:
            stored = await store.add_credentials(fresh)  # all or nothing
        else:
            stored = [(credential, True) for credential in fresh]
        added = 0
        for credential, created in stored:
            fingerprint = credential.fingerprint()
            position = first[fingerprint]
            known[fingerprint] = credential
            if not created:
                results[position] = {"index": items[position].index, "status": "duplicate",
                                     "id": credential.id}  # fmt: skip
                continue
            if pool is not None and credential.id not in {c.id for c in pool.credentials()}:
                if store is None:
                    credential.id = None  # the pool gives it the next free one
                pool.add(credential)
            added += 1
            results[position] = {"index": items[position].index, "status": "added",
                                 "id": credential.id, "email": credential.email}  # fmt: skip
        for position, fingerprint in repeats:
            results[position] = {"index": items[position].index, "status": "duplicate",
                                 "id": known[fingerprint].id}  # fmt: skip
        if added:
            log.info("admin import: %d credential(s) added", added)
            await self._notify()
        return results

    async def export_credentials(self, *, secrets: bool) -> list[dict[str, Any]]:
        """Every credential as :func:`~kirogate.service.credential_import.export_entry`
        writes it; with ``secrets`` the action is recorded in the audit trail first."""
        if secrets:
            await self.audit_event("credentials.export_secrets", target=None)
            log.warning("admin API: credentials exported WITH their secrets")
        pool = self._pool()
        if pool is not None:
            rows = [(c, pool.state_of(c.id).disabled_reason) for c in pool.credentials() if c.id]
        else:
            states = await self.stored_states()
            rows = [
                (c, states[c.id].disabled_reason if c.id in states else None)
                for c in await self.stored_credentials()
            ]
        return [
            export_entry(c, disabled_reason=reason.value if reason else None, secrets=secrets)
            for c, reason in rows
        ]

    # ------------------------------------------------------------ refresh, verify

    async def refresh_now(self, credential_id: int) -> Credential:
        """Refresh the credential's token now (a rejected refresh token disables it)."""
        credential = self._live().get(credential_id)
        if credential.is_api_key:
            raise InvalidRequest(
                f"credential #{credential_id} is a Kiro API key: it has no token to refresh"
            )
        await self.verify(credential)
        return credential

    def verify_targets(self, ids: Iterable[int] | None) -> list[int]:
        """The ids to verify: ``ids`` (each must exist: 400 naming it) or every credential."""
        pool = self._live()
        present = [c.id for c in pool.credentials() if c.id is not None]
        if ids is None:
            return present
        wanted = list(dict.fromkeys(ids))
        missing = [cid for cid in wanted if cid not in present]
        if missing:
            raise InvalidRequest(f"no credential #{missing[0]}", param="ids")
        return wanted

    def start_verify(self, ids: Iterable[int] | None) -> Job:
        """Refresh and query the usage of each credential in the background (a job)."""
        targets = self.verify_targets(ids)
        return self.operator_jobs.start(
            "verify", targets, self._verify_one, concurrency=VERIFY_CONCURRENCY
        )

    async def _verify_one(self, credential_id: int) -> dict[str, Any]:
        try:
            credential = self._live().get(credential_id)
        except KirogateError as exc:
            return {"id": credential_id, "ok": False, "error": exc.message}
        try:
            if not credential.is_api_key:
                await self.verify(credential)
            balance = await self.fetch_balance(credential)
            self.note_balance(credential, balance)
        except KirogateError as exc:
            return {"id": credential_id, "ok": False, "error": scrubbed(exc.message, credential)}
        return {"id": credential_id, "ok": True, "balance": balance_summary(balance)}

    # ------------------------------------------------------------ all at once

    async def set_all_disabled(self, disabled: bool) -> list[dict[str, Any]]:
        """Disable (or enable) every credential that is not already; what changed, per id."""
        pool = self._live()
        changed: list[dict[str, Any]] = []
        for credential in pool.credentials():
            if credential.id is None:
                continue
            state = pool.state_of(credential.id)
            if state.disabled == disabled:
                continue
            was = state.disabled_reason.value if state.disabled_reason else "enabled"
            reason = "disabled by an operator (disable-all)" if disabled else None
            await self.set_disabled(credential.id, disabled, reason=reason)
            changed.append({"id": credential.id, "was": was,
                            "now": "disabled" if disabled else "enabled"})  # fmt: skip
        return changed

    async def delete_failed(self, *, include_suspended: bool = False) -> list[dict[str, Any]]:
        """Delete the credentials disabled for good (:data:`FAILED_REASONS`); with
        ``include_suspended`` also those cooling down for a suspended account."""
        pool = self._live()
        deleted: list[dict[str, Any]] = []
        for credential in pool.credentials():
            if credential.id is None:
                continue
            state = pool.state_of(credential.id)
            reason: str | None = None
            if state.disabled_reason in FAILED_REASONS:
                reason = state.disabled_reason.value if state.disabled_reason else None
            elif include_suspended and state.cooldown_reason is CooldownReason.SUSPENDED:
                reason = CooldownReason.SUSPENDED.value
            if reason is None:
                continue
            await self.remove(credential.id, confirmed=True)
            deleted.append({"id": credential.id, "reason": reason})
        return deleted

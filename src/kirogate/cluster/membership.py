"""Keep this process's pool in step with the credentials stored by every process.

Another process may add a credential (admin API, ``kirogate accounts add``) or delete one.
:func:`sync_membership` adds the stored credentials the pool lacks and removes the ones no
longer stored; credentials in both are left alone (their state syncs through
:class:`~kirogate.cluster.state.SharedPoolState`, their tokens through the refresh
coordinator). Every credential in the pool is expected to be a stored row.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kirogate.pool.credential_pool import CredentialPool
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)


class CredentialStore(Protocol):
    """The part of :class:`kirogate.store.Store` membership sync uses."""

    async def list_credentials(self) -> list[Credential]: ...


def _pool_ids(pool: CredentialPool) -> set[int]:
    return {cred.id for cred in pool.credentials() if cred.id is not None}


async def sync_membership(
    pool: CredentialPool, store: CredentialStore
) -> tuple[list[int], list[int]]:
    """Add stored credentials missing from ``pool`` and remove pooled ones no longer stored.

    Returns ``(added_ids, removed_ids)``. A credential this process adds or removes while
    the listing is read is left as this process made it, since the listing may predate it.
    """
    before = _pool_ids(pool)
    stored = await store.list_credentials()
    after = _pool_ids(pool)
    stored_ids = {cred.id for cred in stored if cred.id is not None}
    removed_meanwhile = before - after
    added: list[int] = []
    for cred in stored:
        cid = cred.id
        if cid is None or cid in after or cid in removed_meanwhile:
            continue
        pool.add(cred)
        added.append(cid)
        log.info("credential %s added by another process joins the pool", cred.label)
    removed = sorted((before & after) - stored_ids)
    for cid in removed:
        label = pool.get(cid).label
        pool.remove(cid)
        log.info("credential %s deleted by another process leaves the pool", label)
    return sorted(added), removed

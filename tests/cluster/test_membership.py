from __future__ import annotations

from kirogate.cluster.membership import sync_membership
from kirogate.pool.credential_pool import CredentialPool
from kirogate.upstream.credentials import Credential
from tests.cluster.fakes import FakeStore, credential


def ids(pool: CredentialPool) -> list[int | None]:
    return [cred.id for cred in pool.credentials()]


async def test_credentials_added_elsewhere_join_and_deleted_ones_leave(store: FakeStore) -> None:
    for cid in (1, 2):
        store.add_credential(credential(cid))
    pool = CredentialPool([credential(1), credential(2)])
    store.add_credential(credential(3))
    del store.credentials[1]
    assert await sync_membership(pool, store) == ([3], [1])
    assert ids(pool) == [2, 3]


async def test_kept_credentials_are_left_alone(store: FakeStore) -> None:
    store.add_credential(credential(1))
    mine = credential(1)
    pool = CredentialPool([mine])
    pool.disable(1, "ops")
    assert await sync_membership(pool, store) == ([], [])
    assert pool.get(1) is mine
    assert pool.state_of(1).disabled


class RacingStore(FakeStore):
    """While the listing is read, this process adds one credential and removes another."""

    def __init__(self, pool: CredentialPool, added: Credential, removed: int) -> None:
        super().__init__()
        self.pool = pool
        self.added = added
        self.removed = removed

    async def list_credentials(self) -> list[Credential]:
        listing = await super().list_credentials()  # read before the changes below commit
        self.pool.add(self.added)
        self.pool.remove(self.removed)
        return listing


async def test_changes_made_here_during_the_listing_are_not_undone() -> None:
    pool = CredentialPool([credential(1), credential(2)])
    store = RacingStore(pool, credential(5), removed=2)
    store.add_credential(credential(1))
    store.add_credential(credential(2))  # deleted here, but the listing still has it
    assert await sync_membership(pool, store) == ([], [])
    assert ids(pool) == [1, 5]

from __future__ import annotations

from kirogate.pool.lease import Lease
from kirogate.upstream.credentials import AuthMethod, Credential


def credential() -> Credential:
    return Credential(auth_method=AuthMethod.SOCIAL, id=3, email="a@example.com")


def test_release_calls_back_exactly_once() -> None:
    released: list[Lease] = []
    lease = Lease(credential(), released.append)
    lease.release_nowait()
    lease.release_nowait()
    assert released == [lease]
    assert lease.released


async def test_leaving_the_block_releases_the_lease() -> None:
    released: list[Lease] = []
    async with Lease(credential(), released.append, model="m", session_id="s") as lease:
        assert not lease.released
        assert (lease.id, lease.model, lease.session_id) == (3, "m", "s")
    assert released == [lease]


async def test_release_after_the_block_does_not_call_back_again() -> None:
    released: list[Lease] = []
    async with Lease(credential(), released.append) as lease:
        pass
    await lease.release()
    assert len(released) == 1


def test_a_new_lease_has_no_history() -> None:
    lease = Lease(credential(), lambda _: None)
    assert (lease.failures, lease.refreshed) == (0, False)


def test_repr_names_the_credential_and_state_only() -> None:
    lease = Lease(credential(), lambda _: None)
    assert repr(lease) == "<Lease a@example.com held>"
    lease.release_nowait()
    assert repr(lease) == "<Lease a@example.com released>"

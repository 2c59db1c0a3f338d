import asyncio

import pytest
import sqlalchemy as sa

from kirogate.errors import InvalidRequest, KirogateError, StoreLockTimeout
from kirogate.store.locks import advisory_key


def test_advisory_key_is_stable_signed_64_bit():
    assert advisory_key("refresh:1") == advisory_key("refresh:1")
    assert advisory_key("refresh:1") != advisory_key("refresh:2")
    assert -(2**63) <= advisory_key("x") < 2**63


async def test_exclusive_serialises_holders_in_one_store(store):
    inside = 0
    most = 0

    async def body():
        nonlocal inside, most
        async with store.exclusive("job"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(body() for _ in range(8)))
    assert most == 1


async def test_different_names_do_not_exclude_each_other(store):
    async with store.exclusive("a"), store.exclusive("b", timeout=1):
        pass


async def test_timeout_is_a_timeout_error(store):
    async with store.exclusive("busy"):
        with pytest.raises(StoreLockTimeout) as caught:
            async with store.exclusive("busy", timeout=0.2):
                pass
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, KirogateError)
    assert "'busy'" in str(caught.value)


async def test_lock_is_released_when_the_body_raises(store):
    with pytest.raises(RuntimeError):
        async with store.exclusive("boom"):
            raise RuntimeError("body failed")
    async with store.exclusive("boom", timeout=1):
        pass


async def test_cancelled_waiter_leaves_the_lock_usable(store):
    async with store.exclusive("c"):
        waiter = asyncio.ensure_future(store.exclusive("c", timeout=5).__aenter__())
        await asyncio.sleep(0.1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with store.exclusive("c", timeout=1):
        pass


async def test_bad_arguments_are_refused(store):
    with pytest.raises(InvalidRequest):
        store.exclusive("")
    with pytest.raises(InvalidRequest):
        store.exclusive("x", timeout=0)


async def test_exclusive_excludes_across_engines_on_postgres(open_pg_store):
    one = await open_pg_store()
    two = await open_pg_store()
    order = []
    entered = asyncio.Event()

    async def first():
        async with one.exclusive("shared"):
            order.append("one in")
            entered.set()
            await asyncio.sleep(0.3)
            order.append("one out")

    async def second():
        await entered.wait()
        with pytest.raises(StoreLockTimeout):
            async with two.exclusive("shared", timeout=0.1):
                pass
        async with two.exclusive("shared", timeout=5):
            order.append("two in")

    await asyncio.gather(first(), second())
    assert order == ["one in", "one out", "two in"]


async def test_postgres_lock_dies_with_its_holder(open_pg_store):
    one = await open_pg_store()
    two = await open_pg_store()
    holder = one.exclusive("orphan")
    await holder.__aenter__()
    # Kill the holder's session the way a crashed process would lose it.
    async with two.engine.connect() as conn:
        await conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    async with two.exclusive("orphan", timeout=5):
        pass
    # Releasing on the dead connection is logged, not raised: the server already let go.
    await holder.__aexit__(None, None, None)


async def test_crowd_waiting_for_one_name_uses_one_connection(open_pg_store):
    one = await open_pg_store()
    two = await open_pg_store()
    done = []

    async def waiter(n):
        async with two.exclusive("crowd", timeout=10):
            done.append(n)

    async with one.exclusive("crowd"):
        waiters = [asyncio.ensure_future(waiter(n)) for n in range(20)]
        await asyncio.sleep(0.3)
        assert two.engine.pool.checkedout() == 1
        assert done == []
    await asyncio.gather(*waiters)
    assert sorted(done) == list(range(20))


async def test_timeout_names_the_whole_budget_on_postgres(open_pg_store):
    one = await open_pg_store()
    two = await open_pg_store()
    async with one.exclusive("budget"):
        with pytest.raises(StoreLockTimeout, match=r"after 0\.3s"):
            async with two.exclusive("budget", timeout=0.3):
                pass

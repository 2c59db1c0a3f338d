import asyncio

from kirogate.caller import CALLER, Caller, current_caller


async def test_the_caller_is_per_request_and_inherited_by_its_tasks():
    assert current_caller() is None

    async def request(key_id: int) -> tuple[int | None, int | None]:
        CALLER.set(Caller(key_id, "team", group="red", address="10.0.0.1"))

        async def child() -> int | None:
            caller = current_caller()
            return caller.key_id if caller else None

        inner = await asyncio.create_task(child())
        caller = current_caller()
        return (caller.key_id if caller else None), inner

    assert await asyncio.gather(request(1), request(2)) == [(1, 1), (2, 2)]
    assert current_caller() is None

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kirogate.errors import InvalidRequest
from kirogate.store.base import utcnow
from kirogate.store.schema import memories


async def test_memories_round_trip_and_other_processes_read_them(store, open_store):
    other = await open_store()
    await store.keep_memories("response", [("resp_1", {"a": [1, 2]}), ("resp_2", "text")])
    assert await other.recall_memories("response", ["resp_1", "resp_2", "resp_9"]) == {
        "resp_1": {"a": [1, 2]},
        "resp_2": "text",
    }
    assert await other.recall_memories("item", ["resp_1"]) == {}


async def test_keeping_again_replaces_and_the_value_is_encrypted(store):
    await store.keep_memories("truncation", [("tool_1", {"size": 1})])
    await store.keep_memories("truncation", [("tool_1", {"size": 2})])
    assert await store.recall_memories("truncation", ["tool_1"]) == {"tool_1": {"size": 2}}
    async with store.engine.connect() as conn:
        stored = (await conn.execute(sa.select(memories.c.value))).scalar_one()
    assert "size" not in stored


async def test_many_keys_go_in_batches(store):
    entries = [(f"item_{n}", n) for n in range(450)]
    await store.keep_memories("item", entries)
    found = await store.recall_memories("item", [key for key, _ in entries] + ["x" * 300])
    assert found == dict(entries)


async def test_old_memories_are_forgotten(store):
    await store.keep_memories("item", [("old", 1)])
    assert await store.forget_memories(utcnow() - timedelta(hours=1)) == 0
    assert await store.forget_memories(utcnow() + timedelta(seconds=1)) == 1
    assert await store.recall_memories("item", ["old"]) == {}


async def test_bad_kinds_and_keys_are_refused(store):
    with pytest.raises(ValueError, match="unknown memory kind"):
        await store.keep_memories("nope", [("k", 1)])
    with pytest.raises(ValueError, match="unknown memory kind"):
        await store.recall_memories("nope", ["k"])
    with pytest.raises(InvalidRequest, match="longer than 200"):
        await store.keep_memories("item", [("k" * 201, 1)])

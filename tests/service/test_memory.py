"""Truncation and Responses API memory: bounded, newest last."""

from __future__ import annotations

import asyncio

import orjson

from kirogate.convert.ir import Conversation, Text, ToolCall, ToolCallStop, ToolResult, Turn
from kirogate.convert.ir_json import to_json
from kirogate.convert.kiro import TruncatedCall
from kirogate.service import memory as memory_module
from kirogate.service.memory import ResponseMemory, SharedMemory, TruncationMemory

CONV = Conversation("claude-sonnet-4.5", (Turn("user", (Text("hi"),)),))


def cut(call_id: str, reason: str | None) -> ToolCallStop:
    return ToolCallStop(call_id, {}, truncated=True, truncation_reason=reason)


def test_a_cut_call_is_remembered_with_the_size_the_assembler_names() -> None:
    memory = TruncationMemory()
    memory.remember(cut("t1", "truncated at 69 bytes: an unterminated string"))
    assert memory.calls() == {
        "t1": TruncatedCall(size_bytes=69, reason="truncated at 69 bytes: an unterminated string")
    }


def test_a_cut_call_without_a_reason_gets_the_generic_one() -> None:
    memory = TruncationMemory()
    memory.remember(cut("t1", None))
    assert memory.calls()["t1"] == TruncatedCall(0, "the input JSON was incomplete")


def test_truncation_memory_drops_the_oldest_past_its_limit() -> None:
    memory = TruncationMemory(limit=2)
    for call_id in ("a", "b", "c"):
        memory.remember(cut(call_id, None))
    assert list(memory.calls()) == ["b", "c"]
    assert len(memory) == 2


def test_a_kept_response_is_found_with_its_items() -> None:
    memory = ResponseMemory()
    item = {"id": "msg_1", "type": "message"}
    memory.keep("resp_1", CONV, {"id": "resp_1"}, [item, {"type": "no id"}])
    assert memory.get("resp_1") == (CONV, {"id": "resp_1"})
    assert dict(memory.items) == {"msg_1": item}
    assert memory.get("resp_2") is None


def test_response_memory_drops_the_oldest_responses_and_items() -> None:
    memory = ResponseMemory(limit=1, items_limit=1)
    memory.keep("resp_1", CONV, {}, [{"id": "a"}])
    memory.keep("resp_2", CONV, {}, [{"id": "b"}])
    assert memory.get("resp_1") is None
    assert list(memory.items) == ["b"]


# ---------------------------------------------------------------- shared through the store


class FakeStore:
    """The store's memory table in a dict; ``failing`` makes every call raise."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], object] = {}
        self.recalls: list[tuple[str, list[str]]] = []
        self.failing = False
        self.pruned = 0
        self.gate: asyncio.Event | None = None

    async def keep_memories(self, kind, entries):
        if self.failing:
            raise ConnectionError("database away")
        for key, value in entries:
            self.rows[(kind, key)] = orjson.loads(orjson.dumps(value))

    async def recall_memories(self, kind, keys):
        self.recalls.append((kind, list(keys)))
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise ConnectionError("database away")
        return {key: self.rows[(kind, key)] for key in keys if (kind, key) in self.rows}

    async def forget_memories(self, older_than):
        if self.failing:
            raise ConnectionError("database away")
        self.pruned += 1
        return 0


TOOL_TURNS = (
    Turn("assistant", (ToolCall("t1", "Write", {}),)),
    Turn("user", (ToolResult("t1", "error: no input"), ToolResult("t2", "ok"))),
)


async def test_a_cut_call_seen_by_one_instance_is_known_to_another() -> None:
    store = FakeStore()
    first = TruncationMemory(shared=SharedMemory(store))
    first.remember(cut("t1", "truncated at 9 bytes: x"))
    await first.shared.close()
    second = TruncationMemory(shared=SharedMemory(store))
    await second.load(Conversation("m", TOOL_TURNS))
    assert second.calls() == {"t1": TruncatedCall(9, "truncated at 9 bytes: x")}
    # t2 was never cut: asked once, then known to be absent and not asked again.
    await second.load(Conversation("m", TOOL_TURNS))
    assert store.recalls == [("truncation", ["t1", "t2"])]


async def test_without_a_store_nothing_is_looked_up() -> None:
    memory = TruncationMemory()
    await memory.load(Conversation("m", TOOL_TURNS))
    assert memory.calls() == {}
    responses = ResponseMemory()
    await responses.load("resp_1", ["a"])
    assert responses.get("resp_1") is None


async def test_a_response_kept_by_one_instance_continues_on_another() -> None:
    store = FakeStore()
    conv = Conversation("m", (Turn("user", (Text("hi"),)),), tools=(), metadata={"k": [1]})
    first = ResponseMemory(shared=SharedMemory(store))
    first.keep("resp_1", conv, {"id": "resp_1", "status": "completed"}, [{"id": "msg_1"}])
    await first.shared.flush()
    second = ResponseMemory(shared=SharedMemory(store))
    await second.load("resp_1", ["msg_1", "msg_9"])
    assert second.get("resp_1") == (conv, {"id": "resp_1", "status": "completed"})
    assert dict(second.items) == {"msg_1": {"id": "msg_1"}}
    await second.load("resp_1", ["msg_1"])  # held now: no second lookup
    assert store.recalls == [("response", ["resp_1"]), ("item", ["msg_1", "msg_9"])]


async def test_an_unreadable_stored_response_is_ignored(caplog) -> None:
    store = FakeStore()
    store.rows[("response", "resp_1")] = {"conversation": {"@": "Turn"}, "response": {}}
    store.rows[("response", "resp_2")] = {"conversation": to_json(CONV), "response": "text"}
    memory = ResponseMemory(shared=SharedMemory(store))
    await memory.load("resp_1")
    await memory.load("resp_2")
    assert memory.get("resp_1") is None
    assert memory.get("resp_2") is None
    assert "stored response resp_1 is unreadable" in caplog.text


async def test_a_store_that_is_away_costs_lookups_nothing_until_it_answers(caplog) -> None:
    store = FakeStore()
    store.failing = True
    shared = SharedMemory(store)
    assert await shared.recall("item", ["a"]) == {}
    assert await shared.recall("item", ["b"]) == {}  # skipped: the store failed just now
    assert len(store.recalls) == 1
    assert "memory store: looking up failed" in caplog.text


async def test_a_frozen_store_is_waited_for_only_briefly() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()  # never set: the lookup hangs
    shared = SharedMemory(store, timeout=0.01)
    assert await shared.recall("item", ["a"]) == {}


async def test_writes_that_fail_or_overflow_are_counted_and_old_rows_pruned() -> None:
    store = FakeStore()
    shared = SharedMemory(store, queue_limit=2)
    for key in ("a", "b", "c"):
        shared.keep("item", key, {"id": key})
    assert shared.dropped == 1
    await shared.close()
    assert set(store.rows) == {("item", "a"), ("item", "b")}
    assert store.pruned == 1
    store.failing = True
    shared = SharedMemory(store)
    shared.keep("item", "d", {})
    await shared.flush()
    assert shared.dropped == 1
    await shared.close()


async def test_what_cannot_be_written_at_shutdown_is_said(caplog, monkeypatch) -> None:
    monkeypatch.setattr(memory_module, "CLOSE_TIMEOUT", 0.01)
    store = FakeStore()
    shared = SharedMemory(store)
    shared.keep("item", "a", {})

    async def hang(kind, entries):
        await asyncio.Event().wait()

    store.keep_memories = hang  # type: ignore[method-assign]
    await shared.close()  # the writer task is stopped; the last flush times out
    assert "1 memories not written at shutdown" in caplog.text


async def test_a_missing_response_is_asked_again_briefly_for_a_late_write() -> None:
    store = FakeStore()
    memory = ResponseMemory(shared=SharedMemory(store))
    await memory.load("resp_late")
    assert [keys for _, keys in store.recalls] == [["resp_late"]] * 4
    store.failing = True
    store.recalls.clear()
    await memory.load("resp_late")  # the store is away: asked once, not waited for
    assert len(store.recalls) == 1

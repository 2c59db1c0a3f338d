"""Truncation and Responses API memory: bounded, newest last."""

from __future__ import annotations

from kirogate.convert.ir import Conversation, Text, ToolCallStop, Turn
from kirogate.convert.kiro import TruncatedCall
from kirogate.service.memory import ResponseMemory, TruncationMemory

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

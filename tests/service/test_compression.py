"""Context compression: where it cuts, what it asks the upstream, what it caches."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Instruction,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    Turn,
)
from kirogate.convert.openai_fields import SOURCES_KEY, TurnSource
from kirogate.convert.openai_in import chat_to_ir
from kirogate.service.compression import (
    SUMMARY_ACK,
    SUMMARY_SYSTEM,
    Compressor,
    chunk_texts,
    compressed_conversation,
    compressed_turns,
    is_safe_split,
    needs_compression,
    prefix_digests,
    render_turn,
    split_index,
    summary_request,
)
from kirogate.settings import CompressionSettings

ON = CompressionSettings(enabled=True, max_tokens=10**9, max_messages=6, keep_last=2)


def user(text: str) -> Turn:
    return Turn("user", (Text(text),))


def assistant(text: str) -> Turn:
    return Turn("assistant", (Text(text),))


def chat(count: int, session: str | None = "s1") -> Conversation:
    """``count`` alternating turns, user first: u0, a1, u2, ..."""
    turns = tuple(user(f"u{i}") if i % 2 == 0 else assistant(f"a{i}") for i in range(count))
    return Conversation("claude-sonnet-4-6", turns, system="sys", session_id=session)


class Upstream:
    """A fake ``summarise``: records each request, answers ``summary-N``."""

    def __init__(self, *, fail: bool = False, answer: str | None = None) -> None:
        self.requests: list[Conversation] = []
        self.fail = fail
        self.answer = answer

    async def __call__(self, request: Conversation) -> str:
        self.requests.append(request)
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("upstream down")
        return self.answer if self.answer is not None else f"summary-{len(self.requests)}"

    def prompt(self, index: int = -1) -> str:
        part = self.requests[index].turns[0].parts[0]
        assert isinstance(part, Text)
        return part.text


def summary_text(conv: Conversation) -> str:
    part = conv.turns[0].parts[0]
    assert isinstance(part, Text)
    return part.text


# ---------------------------------------------------------------- deciding and cutting


def test_needs_compression_by_turn_count() -> None:
    assert not needs_compression(chat(6), ON)
    assert needs_compression(chat(7), ON)


def test_needs_compression_by_estimated_tokens() -> None:
    settings = CompressionSettings(enabled=True, max_tokens=50)
    assert not needs_compression(chat(2), settings)
    assert needs_compression(Conversation("m", (user("word " * 200),)), settings)


def test_zero_max_messages_means_no_turn_limit() -> None:
    assert not needs_compression(chat(99), CompressionSettings(enabled=True, max_messages=0))


def test_split_keeps_the_last_turns() -> None:
    assert split_index(chat(9).turns, 2) == 7
    assert split_index(chat(9).turns, 0) == 8  # the current message always stays


def test_split_with_nothing_old_enough_is_zero() -> None:
    assert split_index(chat(3).turns, 3) == 0
    assert split_index(chat(3).turns, 10) == 0


def test_split_never_separates_a_tool_call_from_its_result() -> None:
    turns = (
        user("u0"),
        Turn("assistant", (Text("look"), ToolCall("t1", "Read", {"p": "a"}))),
        Turn("user", (ToolResult("t1", "content"),)),
        Turn("assistant", (ToolCall("t2", "Read", {"p": "b"}),)),
        Turn("user", (ToolResult("t2", "more"),)),
        assistant("done"),
        user("next"),
    )
    # keep_last=3 would cut before turns[4], whose result answers turns[3]'s call.
    assert split_index(turns, 3) == 3
    assert not is_safe_split(turns, 4)
    assert not is_safe_split(turns, 2)
    assert is_safe_split(turns, 1)


def test_orphan_results_do_not_block_a_cut() -> None:
    turns = (user("u0"), assistant("a1"), Turn("user", (ToolResult("gone", "x"),)))
    assert is_safe_split(turns, 2)


def test_cut_points_outside_the_turns_are_unsafe() -> None:
    turns = chat(4).turns
    assert not is_safe_split(turns, 0)
    assert not is_safe_split(turns, 4)


# ---------------------------------------------------------------- composing


def test_compressed_turns_add_an_ack_before_a_kept_user_turn() -> None:
    turns = compressed_turns("S", (user("u4"),), 4)
    assert [turn.role for turn in turns] == ["user", "assistant", "user"]
    assert turns[1] == assistant(SUMMARY_ACK)
    text = summary_text(Conversation("m", turns))
    assert "compressed the 4 earliest messages" in text
    assert "<summary>\nS\n</summary>" in text


def test_compressed_turns_before_a_kept_assistant_turn_need_no_ack() -> None:
    turns = compressed_turns("S", (assistant("a3"), user("u4")), 3)
    assert [turn.role for turn in turns] == ["user", "assistant", "user"]
    assert turns[1] == assistant("a3")


def test_compressed_conversation_keeps_everything_but_the_turns() -> None:
    conv = chat(5)
    out = compressed_conversation(conv, "S", 3, cached=False)
    assert (out.system, out.model, out.session_id) == (conv.system, conv.model, conv.session_id)
    assert out.turns[1:] == conv.turns[3:]
    assert out.metadata["compression"] == {"summarised_turns": 3, "cached": False}


def test_sources_follow_the_kept_turns() -> None:
    conv = chat_to_ir(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "u1"},
                {"role": "assistant", "content": "a2"},
                {"role": "user", "content": "u3"},
            ],
        }
    )
    out = compressed_conversation(conv, "S", 2, cached=False)
    assert out.metadata[SOURCES_KEY] == (TurnSource(), TurnSource(), TurnSource(("messages[3]",)))


def test_sources_of_one_turn_per_message_requests_are_made_up() -> None:
    image = Image("image/png", "AAAA")
    conv = Conversation("m", (user("u0"), assistant("a1"), Turn("user", (image,))))
    out = compressed_conversation(conv, "S", 2, cached=False)
    assert out.metadata[SOURCES_KEY][-1] == TurnSource(("messages[2]",), ("messages[2].content",))


# ---------------------------------------------------------------- the summary request


def test_render_turn_covers_every_part() -> None:
    turn = Turn(
        "assistant",
        (
            Thinking("secret plan"),
            Text("I will read it."),
            ToolCall("t1", "Read", {"path": "src/app.py"}),
            ToolResult("t0", "boom", is_error=True),
            ToolResult("t9", "ok"),
            Image("image/png", "AAAA"),
            Document("text/plain", "doc body", "notes.txt"),
            Document("application/pdf", "JVBER", None),
        ),
    )
    text = render_turn(turn)
    assert "secret plan" not in text
    assert text.startswith("[assistant]\nI will read it.\n")
    assert '[tool call Read id=t1]\n{"path":"src/app.py"}' in text
    assert "[tool error for t0]\nboom" in text and "[tool result for t9]\nok" in text
    assert "[image: image/png]" in text
    assert "[document: notes.txt]\ndoc body" in text
    assert text.endswith("[document: application/pdf]")


def test_render_turn_keeps_a_system_instruction() -> None:
    text = render_turn(Turn("user", (Instruction("be terse"),)))
    assert text == "[user]\n[system instruction]\nbe terse"


def test_huge_integers_in_tool_input_do_not_break_compression() -> None:
    turns = (Turn("assistant", (ToolCall("t1", "Calc", {"n": 2**70}),)),)
    assert str(2**70) in render_turn(turns[0])
    assert len(prefix_digests(turns)) == 2


def test_render_turn_of_nothing_says_empty() -> None:
    assert render_turn(Turn("user", (Text(""),))) == "[user]\n(empty)"


def test_long_tool_results_keep_head_and_tail() -> None:
    text = render_turn(Turn("user", (ToolResult("t", "H" * 3000 + "T" * 3000),)))
    assert "H" * 1500 in text and "T" * 1500 in text
    assert "[... 3000 characters left out ...]" in text
    assert len(text) < 3200


def test_chunk_texts_respects_the_budget() -> None:
    assert chunk_texts(["a" * 40, "b" * 40, "c" * 40], 100) == [["a" * 40, "b" * 40], ["c" * 40]]
    assert chunk_texts([], 100) == []


def test_a_text_over_the_budget_is_cut() -> None:
    (group,) = chunk_texts(["é" * 1000], 400)
    (text,) = group
    assert len(text.encode()) <= 400 + 100
    assert "characters left out" in text


def test_summary_request_asks_for_a_bounded_summary() -> None:
    request = summary_request("m", ["[user]\nhi"], None, 500)
    assert request.system == SUMMARY_SYSTEM
    assert (request.max_tokens, request.stream, request.tools) == (500, False, ())
    prompt = summary_text(request)
    assert "<conversation>\n[user]\nhi\n</conversation>" in prompt
    assert "previous_summary" not in prompt and "500 tokens" in prompt


def test_summary_request_with_a_previous_summary_asks_to_merge() -> None:
    prompt = summary_text(summary_request("m", ["[user]\nmore"], "OLD", 500))
    assert "<previous_summary>\nOLD\n</previous_summary>" in prompt
    assert "merging the previous summary" in prompt


def test_the_summary_system_prompt_asks_to_keep_what_matters() -> None:
    for words in ("decisions", "file path", "code identifier", "open tasks"):
        assert words in SUMMARY_SYSTEM.lower()


def test_prefix_digests_identify_prefixes() -> None:
    first, second = prefix_digests(chat(4).turns), prefix_digests(chat(6).turns)
    assert len(first) == 5 and first == second[:5]
    assert len(set(second)) == 7
    changed = (user("other"), *chat(4).turns[1:])
    assert prefix_digests(changed)[1] != first[1]


# ---------------------------------------------------------------- the compressor


async def test_small_conversations_pass_untouched() -> None:
    upstream = Upstream()
    conv = chat(5)
    assert await Compressor(ON, upstream).apply(conv) is conv
    assert upstream.requests == []


async def test_disabled_compression_never_summarises() -> None:
    upstream = Upstream()
    conv = chat(40)
    settings = CompressionSettings(enabled=False, max_messages=2)
    assert await Compressor(settings, upstream).apply(conv) is conv
    assert upstream.requests == []


async def test_old_turns_are_summarised_and_the_last_kept() -> None:
    upstream = Upstream()
    conv = chat(9)
    out = await Compressor(ON, upstream).apply(conv)
    assert len(upstream.requests) == 1
    prompt = upstream.prompt()
    assert "[user]\nu0" in prompt and "[assistant]\na5" in prompt and "u6" in prompt
    assert "a7" not in prompt and "u8" not in prompt
    assert out.turns[1:] == conv.turns[7:]
    assert "<summary>\nsummary-1\n</summary>" in summary_text(out)
    assert upstream.requests[0].max_tokens == ON.summary_max_tokens


async def test_the_next_request_reuses_the_cached_summary() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream)
    await compressor.apply(chat(9))
    # One more exchange: the cached summary plus the four newer turns fits the limit.
    out = await compressor.apply(chat(11))
    assert len(upstream.requests) == 1
    assert out.metadata["compression"] == {"summarised_turns": 7, "cached": True}
    assert out.turns[1:] == chat(11).turns[7:]


async def test_a_kept_user_turn_follows_an_acknowledgement() -> None:
    out = await Compressor(ON, Upstream()).apply(chat(10))
    assert [turn.role for turn in out.turns] == ["user", "assistant", "user", "assistant"]
    assert out.turns[1] == assistant(SUMMARY_ACK)
    assert out.turns[2:] == chat(10).turns[8:]


async def test_growth_past_the_limit_summarises_incrementally() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream)
    await compressor.apply(chat(9))
    out = await compressor.apply(chat(15))  # summary + 8 newer turns: still too many
    assert len(upstream.requests) == 2
    prompt = upstream.prompt()
    assert "<previous_summary>\nsummary-1\n</previous_summary>" in prompt
    assert "u0" not in prompt and "[user]\nu8" in prompt and "u12" in prompt
    assert "a13" not in prompt
    assert "summary-2" in summary_text(out)
    assert out.turns[1:] == chat(15).turns[13:]


async def test_summaries_are_kept_apart_per_session() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream)
    await compressor.apply(chat(9, session="a"))
    await compressor.apply(chat(9, session="b"))
    assert len(upstream.requests) == 2


async def test_a_changed_history_is_summarised_again() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream)
    await compressor.apply(chat(9))
    edited = chat(9)
    edited = Conversation(edited.model, (user("edited"), *edited.turns[1:]), session_id="s1")
    await compressor.apply(edited)
    assert len(upstream.requests) == 2


async def test_a_failed_summary_leaves_the_conversation_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conv = chat(9)
    with caplog.at_level(logging.WARNING, logger="kirogate.service.compression"):
        out = await Compressor(ON, Upstream(fail=True)).apply(conv)
    assert out is conv
    assert "ConnectionError" in caplog.text and "uncompressed" in caplog.text


async def test_an_empty_summary_counts_as_a_failure() -> None:
    conv = chat(9)
    assert await Compressor(ON, Upstream(answer="  ")).apply(conv) is conv


async def test_a_failed_incremental_summary_keeps_the_earlier_one() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream)
    await compressor.apply(chat(9))
    upstream.fail = True
    out = await compressor.apply(chat(15))
    assert out.metadata["compression"] == {"summarised_turns": 7, "cached": True}
    assert "summary-1" in summary_text(out)


async def test_summary_tags_in_the_answer_are_unwrapped() -> None:
    out = await Compressor(ON, Upstream(answer="<summary>\nS\n</summary>")).apply(chat(9))
    assert "<summary>\nS\n</summary>" in summary_text(out)


async def test_kept_turns_alone_over_the_limit_go_as_they_are() -> None:
    settings = CompressionSettings(enabled=True, max_tokens=10, keep_last=6)
    conv = chat(5)
    upstream = Upstream()
    assert await Compressor(settings, upstream).apply(conv) is conv
    assert upstream.requests == []


async def test_concurrent_requests_of_a_conversation_share_one_summary() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream)
    first, second = await asyncio.gather(compressor.apply(chat(9)), compressor.apply(chat(9)))
    assert len(upstream.requests) == 1
    assert first.turns == second.turns


async def test_long_histories_are_folded_a_chunk_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("kirogate.service.compression.SUMMARY_INPUT_BYTES", 4_000)
    settings = CompressionSettings(enabled=True, max_messages=6, keep_last=2, summary_max_tokens=1)
    turns = tuple(user("x" * 1500) if i % 2 == 0 else assistant("y" * 1500) for i in range(9))
    upstream = Upstream()
    out = await Compressor(settings, upstream).apply(Conversation("m", turns))
    assert len(upstream.requests) == 4  # seven aged turns, two per request
    assert "previous_summary" not in upstream.prompt(0)
    for index in range(1, 4):
        assert f"<previous_summary>\nsummary-{index}\n" in upstream.prompt(index)
    assert "summary-4" in summary_text(out)


async def test_the_cache_is_bounded() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream, cache_size=1)
    await compressor.apply(chat(9, session="a"))
    await compressor.apply(chat(9, session="b"))
    await compressor.apply(chat(9, session="a"))
    assert len(upstream.requests) == 3


async def test_a_zero_cache_summarises_every_time() -> None:
    upstream = Upstream()
    compressor = Compressor(ON, upstream, cache_size=0)
    await compressor.apply(chat(9))
    await compressor.apply(chat(9))
    assert len(upstream.requests) == 2


async def test_cancellation_is_not_swallowed() -> None:
    async def hang(_: Conversation) -> str:
        await asyncio.sleep(60)
        return "never"

    task = asyncio.ensure_future(Compressor(ON, hang).apply(chat(9)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

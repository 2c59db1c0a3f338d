from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest

from kirogate.convert.ir import (
    Finish,
    OutEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingStop,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
    UsageUpdate,
)
from kirogate.convert.stream import StreamAssembler, diagnose_truncation
from kirogate.errors import MalformedAnswer, UpstreamStreamException
from kirogate.protocol.events import (
    AssistantText,
    CodeReference,
    ContextUsage,
    FollowupPrompt,
    InitialResponse,
    InvalidState,
    KiroEvent,
    MalformedEvent,
    MessageMetadata,
    Metering,
    ReasoningRedacted,
    ReasoningSignature,
    ReasoningText,
    StreamException,
    SupplementaryWebLinks,
    TokenUsage,
    ToolUseFragment,
    UnknownEvent,
)
from tests.convert.vectors import VECTORS, WINDOW, split, transcript


def make(**kw: Any) -> StreamAssembler:
    args: dict[str, Any] = {
        "thinking_enabled": False,
        "tool_names": {},
        "context_window": WINDOW,
        "input_tokens_estimate": 7,
    }
    args.update(kw)
    return StreamAssembler(**args)


def run(events: Iterable[KiroEvent], **kw: Any) -> list[OutEvent]:
    asm = make(**kw)
    out: list[OutEvent] = []
    for event in events:
        out.extend(asm.feed(event))
    out.extend(asm.finish())
    return out


def finish_of(out: list[OutEvent]) -> Finish:
    assert isinstance(out[-1], Finish)
    assert sum(isinstance(e, Finish) for e in out) == 1
    return out[-1]


def frag(tool_id: str, text: str = "", stop: bool = False, name: str = "Bash") -> ToolUseFragment:
    return ToolUseFragment(tool_id, name, text, stop)


# ---------------------------------------------------------------- text


def test_plain_text_passes_through() -> None:
    out = run([AssistantText("Hello"), AssistantText(", world!")])
    assert out[:2] == [TextDelta("Hello"), TextDelta(", world!")]
    assert finish_of(out) == Finish("end_turn", input_tokens=7, output_tokens=4)


def test_duplicate_text_chunks_are_kept() -> None:
    out = run([AssistantText(" done."), AssistantText(" done.")])
    assert out[:2] == [TextDelta(" done."), TextDelta(" done.")]


def test_empty_text_is_ignored() -> None:
    assert run([AssistantText("")]) == [Finish("end_turn", 7, 1)]


def test_noise_events_are_ignored() -> None:
    noise: list[KiroEvent] = [
        Metering(0.01),
        CodeReference(()),
        FollowupPrompt("more"),
        SupplementaryWebLinks(()),
        MessageMetadata("c", "u"),
        InvalidState("R", "m"),
        InitialResponse(None),
        TokenUsage(1, 2, 3),
        ReasoningRedacted("x"),
        UnknownEvent("newEvent", b"{}"),
    ]
    asm = make()
    assert all(asm.feed(e) == [] for e in noise)


def test_text_bypasses_the_parser_when_thinking_is_off() -> None:
    out = run([AssistantText("<thinking>\nx</thinking>\n\nA")])
    assert out[0] == TextDelta("<thinking>\nx</thinking>\n\nA")


def test_thinking_tags_are_parsed_when_enabled() -> None:
    out = run([AssistantText("<thinking>\nx</thinking>\n\nA")], thinking_enabled=True)
    assert out[:3] == [ThinkingDelta("x"), ThinkingStop(), TextDelta("A")]
    assert finish_of(out).reasoning_tokens == 1


def test_held_text_is_released_at_the_end() -> None:
    out = run([AssistantText("Hi <thin")], thinking_enabled=True)
    assert [e for e in out if isinstance(e, TextDelta)] == [TextDelta("Hi "), TextDelta("<thin")]


def test_thinking_only_gets_a_space_and_max_tokens() -> None:
    out = run([AssistantText("<thinking>\nplanning")], thinking_enabled=True)
    assert out[-3:-1] == [ThinkingStop(), TextDelta(" ")]
    assert finish_of(out).stop_reason == "max_tokens"


def test_thinking_only_yields_to_a_full_context_window() -> None:
    out = run([AssistantText("<thinking>\nx"), ContextUsage(100.0)], thinking_enabled=True)
    assert finish_of(out).stop_reason == "model_context_window_exceeded"


# ---------------------------------------------------------------- tool calls


def test_tool_call_streams_fragments_and_parses_input() -> None:
    out = run(
        [
            frag("t1", ""),
            frag("t1", '{"comm'),
            frag("t1", 'and": "ls"}'),
            frag("t1", stop=True),
        ]
    )
    assert out[:4] == [
        ToolCallStart("t1", "Bash"),
        ToolCallDelta('{"comm'),
        ToolCallDelta('and": "ls"}'),
        ToolCallStop("t1", {"command": "ls"}),
    ]
    assert finish_of(out).stop_reason == "tool_use"


def test_shortened_tool_names_are_mapped_back() -> None:
    out = run([frag("t1", "{}", True, name="short_1")], tool_names={"short_1": "mcp__long"})
    assert out[0] == ToolCallStart("t1", "mcp__long")


def test_new_id_closes_the_previous_call() -> None:
    out = run([frag("a", '{"x":1}'), frag("b", '{"y":2}', True)])
    assert out[:5] == [
        ToolCallStart("a", "Bash"),
        ToolCallDelta('{"x":1}'),
        ToolCallStop("a", {"x": 1}),
        ToolCallStart("b", "Bash"),
        ToolCallDelta('{"y":2}'),
    ]


def test_unfinished_call_is_closed_at_the_end() -> None:
    out = run([frag("a", '{"x":1}')])
    assert out[2] == ToolCallStop("a", {"x": 1})


def test_bare_frames_belong_to_the_open_call() -> None:
    out = run(
        [frag("a", '{"x"'), ToolUseFragment("", "", ":1}"), ToolUseFragment("", "", "", True)]
    )
    assert out[3] == ToolCallStop("a", {"x": 1})


def test_bare_frame_without_an_open_call_is_dropped() -> None:
    assert run([ToolUseFragment("", "", "{}")]) == [Finish("end_turn", 7, 1)]


def test_frames_for_a_finished_call_are_dropped() -> None:
    out = run([frag("a", "{}", True), frag("a", "{}"), frag("a", stop=True)])
    assert out[:3] == [ToolCallStart("a", "Bash"), ToolCallDelta("{}"), ToolCallStop("a", {})]
    assert len(out) == 4


def test_empty_arguments_are_an_empty_object() -> None:
    out = run([frag("a"), frag("a", stop=True)])
    assert out[1] == ToolCallStop("a", {})


def test_text_closes_an_open_call_and_follows_it() -> None:
    out = run([frag("a", "{}"), AssistantText("after")])
    assert out[2:4] == [ToolCallStop("a", {}), TextDelta("after")]


def test_truncated_arguments_are_diagnosed(caplog: pytest.LogCaptureFixture) -> None:
    raw = '{"file_path":"/src/big.py","content":"import os\\ndef main():\\n    pri'
    with caplog.at_level(logging.WARNING):
        out = run([frag("w", raw, name="Write")])
    stop = out[2]
    assert stop == ToolCallStop(
        "w",
        {},
        truncated=True,
        truncation_reason=(
            "truncated at 69 bytes: missing 1 closing brace(s), unterminated string"
        ),
    )
    assert "tool call w (Write) unusable" in caplog.text


MISSING_1 = "missing 1 closing brace(s), unterminated string"


def test_a_cut_off_call_ends_the_answer_at_max_tokens() -> None:
    # No schema-satisfying fallback (JW's TRUNCATED_BY_API): never arguments the model did
    # not write; max_tokens tells the client the call is not one to run.
    cut = '{"file_path":"a'
    for name in ("Write", "Edit", "Bash"):
        out = run([frag("w", cut, name=name)])
        assert out[2] == ToolCallStop(
            "w", {}, truncated=True, truncation_reason="truncated at 15 bytes: " + MISSING_1
        )
        finish = out[-1]
        assert isinstance(finish, Finish) and finish.stop_reason == "max_tokens"


def test_malformed_but_complete_json_is_an_error() -> None:
    with pytest.raises(MalformedAnswer, match=r"tool call a \(Bash\) that are malformed JSON"):
        run([frag("a", '{"a":}')])


def test_non_object_arguments_are_an_error() -> None:
    with pytest.raises(MalformedAnswer, match=r"not a JSON object \(6 bytes\)"):
        run([frag("a", "[1, 2]")])
    with pytest.raises(MalformedAnswer, match=r"not a JSON object \(4 bytes\)"):
        run([frag("a", "null")])


def test_malformed_arguments_fail_when_the_next_call_starts() -> None:
    with pytest.raises(MalformedAnswer, match="tool call a"):
        run([frag("a", '{"a":}'), frag("b", "{}")])


def test_diagnosis_is_string_aware() -> None:
    assert diagnose_truncation('{"a":"{[ \\" ') == "missing 1 closing brace(s), unterminated string"
    assert diagnose_truncation('[{"a":1}') == "missing 1 closing bracket(s)"
    assert diagnose_truncation('{"a":[1]}}') is None
    assert diagnose_truncation("") is None


def test_thinking_closes_before_a_tool_call() -> None:
    out = run(
        [AssistantText("<thinking>\nNeed it.\n</thinking>"), frag("c", "{}", True)],
        thinking_enabled=True,
    )
    assert out[:3] == [ThinkingDelta("Need it.\n"), ThinkingStop(), ToolCallStart("c", "Bash")]


# ---------------------------------------------------------------- native reasoning


def test_native_reasoning_with_signature() -> None:
    out = run([ReasoningText("Let me think."), ReasoningSignature("sig"), AssistantText("A")])
    assert out[:3] == [ThinkingDelta("Let me think."), ThinkingStop("sig"), TextDelta("A")]
    assert finish_of(out).reasoning_tokens == 4


def test_signature_alone_is_an_omitted_block() -> None:
    out = run([ReasoningSignature("sig"), AssistantText("A")])
    assert out[:2] == [ThinkingStop("sig"), TextDelta("A")]


def test_text_tool_or_end_close_native_reasoning() -> None:
    assert run([ReasoningText("r"), AssistantText("A")])[:3] == [
        ThinkingDelta("r"),
        ThinkingStop(),
        TextDelta("A"),
    ]
    assert run([ReasoningText("r"), frag("t", "{}")])[:3] == [
        ThinkingDelta("r"),
        ThinkingStop(),
        ToolCallStart("t", "Bash"),
    ]
    assert run([ReasoningText("r")])[:3] == [ThinkingDelta("r"), ThinkingStop(), TextDelta(" ")]


def test_reasoning_closes_an_open_tool_call_and_flushes_text() -> None:
    out = run(
        [AssistantText("x <thi"), ReasoningText("r"), frag("t", "{}"), ReasoningSignature("s")],
        thinking_enabled=True,
    )
    assert out[:7] == [
        TextDelta("x "),
        TextDelta("<thi"),
        ThinkingDelta("r"),
        ThinkingStop(),
        ToolCallStart("t", "Bash"),
        ToolCallDelta("{}"),
        ToolCallStop("t", {}),
    ]
    assert out[7] == ThinkingStop("s")


def test_reasoning_chunks_join_one_block_after_a_tool_call() -> None:
    out = run([frag("t", "{}"), ReasoningText("a"), ReasoningText("b")])
    assert out[2:6] == [
        ToolCallStop("t", {}),
        ThinkingDelta("a"),
        ThinkingDelta("b"),
        ThinkingStop(),
    ]


def test_stop_sequence_released_by_the_parser_ends_before_reasoning() -> None:
    for late in (ReasoningText("r"), ReasoningSignature("s")):
        asm = make(thinking_enabled=True, stop_sequences=["<th"])
        asm.feed(AssistantText("x <th"))
        assert asm.feed(late) == []
        assert asm.done


def test_empty_reasoning_text_is_ignored() -> None:
    assert make().feed(ReasoningText("")) == []


# ---------------------------------------------------------------- usage, exceptions


def test_context_usage_sets_input_tokens() -> None:
    out = run([AssistantText("Hi"), ContextUsage(1.234)])
    assert out[1] == UsageUpdate(2468)
    assert finish_of(out).input_tokens == 2468


def test_full_context_window_wins_over_tool_use() -> None:
    out = run([frag("a", "{}", True), ContextUsage(100.0)])
    assert finish_of(out).stop_reason == "model_context_window_exceeded"
    assert finish_of(out).input_tokens == WINDOW


def test_output_limit_exception_is_max_tokens() -> None:
    out = run(
        [
            AssistantText("long"),
            ContextUsage(100.0),
            StreamException("ContentLengthExceededException", "limit"),
        ]
    )
    assert finish_of(out).stop_reason == "max_tokens"


def test_other_exceptions_raise() -> None:
    asm = make()
    with pytest.raises(UpstreamStreamException) as info:
        asm.feed(StreamException("ThrottlingException", "Rate exceeded"))
    assert info.value.exception_type == "ThrottlingException"
    assert info.value.message == "ThrottlingException: Rate exceeded"


def test_output_tokens_count_text_thinking_and_tool_input() -> None:
    out = run(
        [ReasoningText("a" * 8), AssistantText("b" * 8), frag("t", '{"k":"' + "c" * 10 + '"}')]
    )
    finish = finish_of(out)
    assert (finish.output_tokens, finish.reasoning_tokens) == (9, 2)


# ---------------------------------------------------------------- stop sequences, max_tokens


def test_stop_sequence_cuts_and_ends_the_stream() -> None:
    asm = make(stop_sequences=["STOP"])
    assert asm.feed(AssistantText("Hello ST")) == [TextDelta("Hello ")]
    assert asm.feed(AssistantText("OP rest")) == []
    assert asm.done
    assert asm.feed(AssistantText("more")) == []
    assert asm.feed(frag("t", "{}")) == []
    assert asm.feed(ReasoningText("r")) == []
    assert asm.feed(ReasoningSignature("s")) == []
    assert asm.feed(StreamException("ThrottlingException", "late")) == []
    assert asm.finish() == [
        Finish("stop_sequence", 7, 2, stop_sequence="STOP"),
    ]


def test_held_stop_prefix_is_released_before_a_tool_call() -> None:
    out = run([AssistantText("a ST"), frag("t", "{}", True)], stop_sequences=["STOP"])
    assert out[:3] == [TextDelta("a "), TextDelta("ST"), ToolCallStart("t", "Bash")]


def test_stop_sequences_apply_to_text_after_thinking_only() -> None:
    out = run(
        [AssistantText("<thinking>\nEND inside\n</thinking>\n\nbefore END after")],
        thinking_enabled=True,
        stop_sequences=["END"],
    )
    assert out[:3] == [ThinkingDelta("END inside\n"), ThinkingStop(), TextDelta("before ")]
    assert finish_of(out).stop_sequence == "END"


def test_stop_sequence_in_text_held_by_the_parser_is_found_at_a_tool_call() -> None:
    asm = make(thinking_enabled=True, stop_sequences=["<th"])
    assert asm.feed(AssistantText("x <th")) == [TextDelta("x ")]  # "<th" may open a tag
    assert asm.feed(frag("t", "{}")) == []
    assert asm.done
    assert finish_of(asm.finish()).stop_reason == "stop_sequence"


def test_held_stop_prefix_is_flushed_before_thinking() -> None:
    out = run(
        [AssistantText("Hi S"), ReasoningText("r"), AssistantText("TOP")],
        stop_sequences=["STOP"],
    )
    assert out[:4] == [TextDelta("Hi "), TextDelta("S"), ThinkingDelta("r"), ThinkingStop()]
    assert out[4] == TextDelta("TOP")


def test_max_tokens_cuts_text() -> None:
    asm = make(max_tokens=3)
    assert asm.feed(AssistantText("abcdefgh")) == [TextDelta("abcdefgh")]
    assert asm.feed(AssistantText("ijklmnopqrst")) == [TextDelta("ijkl")]
    assert asm.done
    finish = finish_of(asm.finish())
    assert (finish.stop_reason, finish.output_tokens) == ("max_tokens", 3)


def test_max_tokens_cuts_thinking_and_closes_the_block() -> None:
    out = run([ReasoningText("a" * 10)], max_tokens=2)
    assert out[:2] == [ThinkingDelta("a" * 8), ThinkingStop()]
    assert finish_of(out).stop_reason == "max_tokens"


def test_max_tokens_cut_inside_a_chunk_drops_the_rest_of_it() -> None:
    out = run(
        [AssistantText("<thinking>\naaaaaaaa</thinking>\n\nbbb")],
        thinking_enabled=True,
        max_tokens=1,
    )
    assert out[:3] == [ThinkingDelta("aaaa"), ThinkingStop(), TextDelta(" ")]
    assert finish_of(out).stop_reason == "max_tokens"


def test_max_tokens_exhausted_by_earlier_thinking() -> None:
    out = run([ReasoningText("aaaa"), ReasoningText("bbbb")], max_tokens=1)
    assert out[:2] == [ThinkingDelta("aaaa"), ThinkingStop()]


def test_max_tokens_does_not_cut_tool_input() -> None:
    out = run([frag("t", '{"k":"' + "x" * 40 + '"}', True), AssistantText("after")], max_tokens=3)
    assert out[2] == ToolCallStop("t", {"k": "x" * 40})
    assert finish_of(out).stop_reason == "max_tokens"
    assert not any(isinstance(e, TextDelta) and e.text for e in out)


def test_max_tokens_reached_exactly_on_a_chunk_boundary() -> None:
    out = run([AssistantText("abcd"), AssistantText("efgh")], max_tokens=1)
    assert [e for e in out if isinstance(e, TextDelta)] == [TextDelta("abcd")]


def test_max_tokens_with_stop_sequences_and_parser() -> None:
    out = run(
        [AssistantText("<thinking>\nabcd</thinking>\n\nefghijkl")],
        thinking_enabled=True,
        stop_sequences=["zz"],
        max_tokens=2,
    )
    assert out[:3] == [ThinkingDelta("abcd"), ThinkingStop(), TextDelta("efgh")]
    assert finish_of(out).stop_reason == "max_tokens"


# ---------------------------------------------------------------- whole vectors


def test_vector_transcripts_do_not_depend_on_http_chunking() -> None:
    for name in ("tv2", "tv3", "tv4", "tv7", "tv10_reasoning"):
        vector = VECTORS[name]
        body = vector.body
        for dialect in ("anthropic", "openai"):
            expected = transcript(vector, dialect)
            assert transcript(vector, dialect, [bytes([b]) for b in body]) == expected
            for cut in range(0, len(body), 7):
                assert transcript(vector, dialect, split(body, [cut])) == expected


def test_tv3_split_inside_a_multibyte_character() -> None:
    vector = VECTORS["tv3"]
    body = vector.body
    cut = body.index("ä".encode()) + 1
    assert transcript(vector, "anthropic", split(body, [cut])) == transcript(vector, "anthropic")


def test_text_under_max_tokens_passes_chunk_by_chunk() -> None:
    asm = make(max_tokens=25)
    assert asm.feed(AssistantText("abcd")) == [TextDelta("abcd")]
    assert asm.feed(AssistantText("")) == []
    assert asm.feed(AssistantText("efgh" * 20)) == [TextDelta("efgh" * 20)]  # 84 chars: 21
    assert asm.feed(AssistantText("i" * 100)) == [TextDelta("i" * 16)]  # 100 chars: 25
    assert asm.done
    finish = finish_of(asm.finish())
    assert (finish.stop_reason, finish.output_tokens) == ("max_tokens", 25)


@pytest.mark.parametrize("max_tokens", [1, 5, 17, 60, None])
def test_max_tokens_gives_the_same_text_for_every_chunking(max_tokens: int | None) -> None:
    text = "The quick brown fox 你好 jumps over the lazy dog. " * 3
    whole = run([AssistantText(text)], max_tokens=max_tokens)
    for size in (1, 3, 7, 40):
        pieces = [AssistantText(text[i : i + size]) for i in range(0, len(text), size)]
        chunked = run(pieces, max_tokens=max_tokens)
        assert "".join(e.text for e in chunked if isinstance(e, TextDelta)) == "".join(
            e.text for e in whole if isinstance(e, TextDelta)
        )
        assert finish_of(chunked) == finish_of(whole)


# ---------------------------------------------------------------- events that do not decode


def test_a_malformed_event_ends_the_answer_with_an_error() -> None:
    asm = make()
    assert asm.feed(AssistantText("Hello")) == [TextDelta("Hello")]
    bad = MalformedEvent("assistantResponseEvent", "content is a number, not a string")
    with pytest.raises(MalformedAnswer) as caught:
        asm.feed(bad)
    assert caught.value.message == (
        "the upstream sent a assistantResponseEvent that does not decode:"
        " content is a number, not a string"
    )


def test_a_malformed_event_after_the_end_is_ignored() -> None:
    asm = make(stop_sequences=["STOP"])
    asm.feed(AssistantText("a STOP b"))
    assert asm.done
    assert asm.feed(MalformedEvent("meteringEvent", "the payload is not JSON")) == []


def test_an_unknown_event_is_ignored_with_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="kirogate.convert.stream"):
        assert make().feed(UnknownEvent("brandNewEvent", b"{}")) == []
    assert "ignoring an upstream event of unknown type 'brandNewEvent'" in caplog.text


def test_usage_so_far_counts_an_answer_cut_short() -> None:
    asm = make()
    assert asm.usage_so_far == (7, 0)
    asm.feed(AssistantText("Hello there, a few words"))
    asm.feed(ContextUsage(1.234))
    input_tokens, output_tokens = asm.usage_so_far
    assert input_tokens == int(1.234 * WINDOW / 100)
    assert output_tokens > 0

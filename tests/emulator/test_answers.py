from __future__ import annotations

import itertools

import orjson

from kirogate.emulator.answers import (
    clean_content,
    context_percentage,
    credits_for,
    echo_chunk_size,
    echo_text,
    input_tokens,
    paced_chunks,
    split_text,
    tool_call_frames,
)
from kirogate.protocol.eventstream import iter_messages


def test_clean_content_drops_markers_and_thinking_tags() -> None:
    content = (
        "<thinking_mode>enabled</thinking_mode><max_thinking_length>4000</max_thinking_length>\n"
        "[[emu:tv1]] hello"
    )
    assert clean_content(content) == "hello"


def test_echo_falls_back_to_tool_result_texts() -> None:
    assert echo_text("hi", ["ignored"]) == "Echo: hi"
    assert echo_text("  ", ["a", "b"]) == "Echo: a\nb"


def test_split_text_never_repeats_a_piece() -> None:
    assert split_text("abcdefgh", 3) == ["abc", "def", "gh"]
    assert split_text("aaaaaaaa", 2) == ["aa", "aaa", "aa", "a"]
    assert split_text("xyxy", 2) == ["xyxy"]
    assert split_text("xyxyab", 2) == ["xy", "xya", "b"]
    for text in ("a" * 50, "ab" * 40, "abc" * 30):
        pieces = split_text(text, 3)
        assert "".join(pieces) == text
        assert all(a != b for a, b in itertools.pairwise(pieces))
    assert split_text("", 4) == []


def test_echo_chunk_size_caps_the_number_of_events() -> None:
    assert echo_chunk_size("short") == 8
    assert echo_chunk_size("x" * 6400) == 100


def test_paced_chunks_formula() -> None:
    assert paced_chunks(3, 2) == ["ab", "bc", "cd"]
    assert paced_chunks(1, 28) == ["abcdefghijklmnopqrstuvwxyzab"]
    chunks = paced_chunks(30, 26)
    assert chunks[26] == chunks[0]
    assert all(a != b for a, b in itertools.pairwise(chunks))


def test_token_and_credit_formulas() -> None:
    assert input_tokens(0) == 1
    assert input_tokens(401) == 101
    assert context_percentage(800_000, 200_000) == 100.0
    assert context_percentage(4000, 1_000_000) == 0.1
    assert credits_for("x" * 1000) == 0.02


def test_tool_call_frames_carry_name_and_id_on_every_frame() -> None:
    frames = tool_call_frames("Bash", "tooluse_1", '{"command":"ls"}', fragment_chars=5)
    payloads = [orjson.loads(m.payload) for m in iter_messages(b"".join(frames))]
    assert all(p["name"] == "Bash" and p["toolUseId"] == "tooluse_1" for p in payloads)
    assert payloads[0] == {"name": "Bash", "toolUseId": "tooluse_1", "input": ""}
    assert list(payloads[1]) == ["input", "name", "toolUseId"]
    assert "".join(p.get("input", "") for p in payloads) == '{"command":"ls"}'
    assert payloads[-1] == {"name": "Bash", "stop": True, "toolUseId": "tooluse_1"}

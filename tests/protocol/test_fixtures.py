"""The recorded spec §9 test vectors in tests/fixtures/frames decode to the expected events."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from kirogate.protocol.events import (
    AssistantText,
    CodeReference,
    ContextUsage,
    FollowupPrompt,
    KiroEvent,
    MessageMetadata,
    Metering,
    ReasoningSignature,
    ReasoningText,
    StreamException,
    SupplementaryWebLinks,
    ToolUseFragment,
    parse_event,
)
from kirogate.protocol.eventstream import iter_messages

FRAMES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "frames"
TOOL_Q = "tooluse_Q1w2E3r4T5y6U7i8O9p0As"
ESSAY = [AssistantText("Here is a very long essay..."), AssistantText(" and it continues")]

EXPECTED: dict[str, list[KiroEvent]] = {
    "tv1_plain_text": [
        AssistantText("Hello"),
        AssistantText(", world!"),
        Metering(0.0123),
        ContextUsage(1.234),
    ],
    "tv2_tool_call": [
        AssistantText("I'll list the files."),
        ToolUseFragment(TOOL_Q, "Bash", ""),
        ToolUseFragment(TOOL_Q, "Bash", '{"comm'),
        ToolUseFragment(TOOL_Q, "Bash", 'and": "ls -'),
        ToolUseFragment(TOOL_Q, "Bash", 'la"}'),
        ToolUseFragment(TOOL_Q, "Bash", stop=True),
        Metering(0.02),
        ContextUsage(3.5),
    ],
    "tv3_two_tools_utf8": [
        ToolUseFragment("tooluse_A", "Read", '{"file_path":"/tmp/ä'),
        ToolUseFragment("tooluse_A", "Read", 'ö.txt"}'),
        ToolUseFragment("tooluse_A", "Read", stop=True),
        ToolUseFragment("tooluse_B", "Read", '{"file_path":"/tmp/b.txt"}'),
        ToolUseFragment("tooluse_B", "Read", stop=True),
        ContextUsage(0.9),
    ],
    "tv4_thinking_tags": [
        AssistantText("\n\n<thin"),
        AssistantText("king>\nThe user asks 2+2. Not `</thinking>` yet."),
        AssistantText(" It is 4.\n</thi"),
        AssistantText("nking>"),
        AssistantText("\n\nThe answer is **4**."),
        ContextUsage(0.5),
    ],
    "tv5_thinking_then_tool": [
        AssistantText("<thinking>\nNeed to read the file.\n</thinking>"),
        ToolUseFragment("tooluse_C", "Read", '{"file_path":"a.py"}'),
        ToolUseFragment("tooluse_C", "Read", stop=True),
        ContextUsage(2.0),
    ],
    "tv6_content_length_exceeded": [
        *ESSAY,
        StreamException(
            "ContentLengthExceededException", "Response content length exceeded the limit."
        ),
    ],
    "tv6_throttling": [*ESSAY, StreamException("ThrottlingException", "Rate exceeded")],
    "tv6_internal_error": [
        *ESSAY,
        StreamException(
            "InternalServerException",
            "Encountered an unexpected error when processing the request, please try again.",
        ),
    ],
    "tv7_truncated_tool_call": [
        AssistantText("Writing the file now."),
        ToolUseFragment("tooluse_W", "Write", '{"file_path":"/src/big.py","content":"import os\\n'),
        ToolUseFragment("tooluse_W", "Write", "def main():\\n    pri"),
    ],
    "tv8_context_full": [AssistantText("Ok."), ContextUsage(100.0)],
    "tv10_noise_events": [
        AssistantText("Answer"),
        FollowupPrompt("Tell me more", "SUGGEST_ALTERNATE_IMPLEMENTATION"),
        CodeReference(()),
        SupplementaryWebLinks(({"url": "https://example.com", "title": "Ex"},)),
        MessageMetadata("c1", "u1"),
        AssistantText(" done."),
        AssistantText(" done."),
        Metering(0.01),
        ContextUsage(0.25),
    ],
    "tv10_native_reasoning": [
        ReasoningText("Let me think."),
        ReasoningSignature("sig_abc"),
        AssistantText("Answer"),
        AssistantText(" done."),
        ContextUsage(0.25),
    ],
}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("frames_generate", FRAMES_DIR / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_recorded_file_has_expected_events() -> None:
    assert {path.stem for path in FRAMES_DIR.glob("*.bin")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_file_decodes_to_expected_events(name: str) -> None:
    data = (FRAMES_DIR / f"{name}.bin").read_bytes()
    assert [parse_event(message) for message in iter_messages(data)] == EXPECTED[name]


def test_recorded_files_match_the_generator() -> None:
    rendered = _load_generator().render()
    for file_name, body in rendered.items():
        assert (FRAMES_DIR / file_name).read_bytes() == body, file_name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payloads_are_compact_json(name: str) -> None:
    for message in iter_messages((FRAMES_DIR / f"{name}.bin").read_bytes()):
        if message.payload:
            text = message.payload.decode()
            assert json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False) == text


def test_tv2_fragments_concatenate_to_the_arguments() -> None:
    data = (FRAMES_DIR / "tv2_tool_call.bin").read_bytes()
    fragments = [parse_event(m) for m in iter_messages(data)]
    joined = "".join(f.input for f in fragments if isinstance(f, ToolUseFragment))
    assert json.loads(joined) == {"command": "ls -la"}


def test_tv7_fragments_are_truncated_json_of_69_bytes() -> None:
    data = (FRAMES_DIR / "tv7_truncated_tool_call.bin").read_bytes()
    fragments = [parse_event(m) for m in iter_messages(data)]
    joined = "".join(f.input for f in fragments if isinstance(f, ToolUseFragment))
    assert len(joined.encode()) == 69
    with pytest.raises(json.JSONDecodeError):
        json.loads(joined)

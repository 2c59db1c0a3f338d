"""The test vectors of spec data §9, byte for byte (payload key order as printed there)."""

from __future__ import annotations

from typing import Any, Final

from kirogate.emulator.replies import Chunks, Step, frames
from kirogate.protocol.events import error_frame, event_frame, exception_frame

_TV2_ID: Final = "tooluse_Q1w2E3r4T5y6U7i8O9p0As"


def _text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


def _tool(payload: dict[str, Any]) -> bytes:
    return event_frame("toolUseEvent", payload)


def _metering(usage: float) -> bytes:
    return event_frame("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": usage})


def _context(percentage: float) -> bytes:
    return event_frame("contextUsageEvent", {"contextUsagePercentage": percentage})


def tv1() -> tuple[Step, ...]:
    return frames(_text("Hello"), _text(", world!"), _metering(0.0123), _context(1.234))


def tv2() -> tuple[Step, ...]:
    return frames(
        _text("I'll list the files."),
        _tool({"name": "Bash", "toolUseId": _TV2_ID, "input": ""}),
        _tool({"input": '{"comm', "name": "Bash", "toolUseId": _TV2_ID}),
        _tool({"input": 'and": "ls -', "name": "Bash", "toolUseId": _TV2_ID}),
        _tool({"input": 'la"}', "name": "Bash", "toolUseId": _TV2_ID}),
        _tool({"name": "Bash", "stop": True, "toolUseId": _TV2_ID}),
        _metering(0.02),
        _context(3.5),
    )


def _tv3_frames() -> list[bytes]:
    return [
        _tool({"name": "Read", "toolUseId": "tooluse_A", "input": '{"file_path":"/tmp/ä'}),
        _tool({"input": 'ö.txt"}', "name": "Read", "toolUseId": "tooluse_A"}),
        _tool({"name": "Read", "stop": True, "toolUseId": "tooluse_A"}),
        _tool({"name": "Read", "toolUseId": "tooluse_B", "input": '{"file_path":"/tmp/b.txt"}'}),
        _tool({"name": "Read", "stop": True, "toolUseId": "tooluse_B"}),
        _context(0.9),
    ]


def tv3() -> tuple[Step, ...]:
    return frames(*_tv3_frames())


def tv3_split() -> tuple[Step, ...]:
    """TV3 as two HTTP chunks whose boundary falls between the two UTF-8 bytes of ``ä``."""
    body = b"".join(_tv3_frames())
    cut = body.index("ä".encode()) + 1
    return (Chunks((body[:cut], body[cut:])),)


def tv4() -> tuple[Step, ...]:
    return frames(
        _text("\n\n<thin"),
        _text("king>\nThe user asks 2+2. Not `</thinking>` yet."),
        _text(" It is 4.\n</thi"),
        _text("nking>"),
        _text("\n\nThe answer is **4**."),
        _context(0.5),
    )


def tv5() -> tuple[Step, ...]:
    return frames(
        _text("<thinking>\nNeed to read the file.\n</thinking>"),
        _tool({"name": "Read", "toolUseId": "tooluse_C", "input": '{"file_path":"a.py"}'}),
        _tool({"name": "Read", "stop": True, "toolUseId": "tooluse_C"}),
        _context(2.0),
    )


def _tv6_prefix() -> list[bytes]:
    return [_text("Here is a very long essay..."), _text(" and it continues")]


def tv6() -> tuple[Step, ...]:
    return frames(
        *_tv6_prefix(),
        exception_frame(
            "ContentLengthExceededException",
            {"message": "Response content length exceeded the limit."},
        ),
    )


def tv6_throttle() -> tuple[Step, ...]:
    return frames(
        *_tv6_prefix(), exception_frame("ThrottlingException", {"message": "Rate exceeded"})
    )


def tv6_error() -> tuple[Step, ...]:
    return frames(
        *_tv6_prefix(),
        error_frame(
            "InternalServerException",
            "Encountered an unexpected error when processing the request, please try again.",
        ),
    )


def tv7() -> tuple[Step, ...]:
    return frames(
        _text("Writing the file now."),
        _tool(
            {
                "name": "Write",
                "toolUseId": "tooluse_W",
                "input": '{"file_path":"/src/big.py","content":"import os\\n',
            }
        ),
        _tool({"input": "def main():\\n    pri", "name": "Write", "toolUseId": "tooluse_W"}),
    )


def tv8() -> tuple[Step, ...]:
    return frames(_text("Ok."), _context(100.0))


def _tv10_noise() -> list[bytes]:
    return [
        event_frame(
            "followupPromptEvent",
            {
                "followupPrompt": {
                    "content": "Tell me more",
                    "userIntent": "SUGGEST_ALTERNATE_IMPLEMENTATION",
                }
            },
        ),
        event_frame("codeReferenceEvent", {"references": []}),
        event_frame(
            "supplementaryWebLinksEvent",
            {"supplementaryWebLinks": [{"url": "https://example.com", "title": "Ex"}]},
        ),
        event_frame("messageMetadataEvent", {"conversationId": "c1", "utteranceId": "u1"}),
    ]


def _tv10_tail() -> list[bytes]:
    return [_metering(0.01), _context(0.25)]


def tv10() -> tuple[Step, ...]:
    return frames(_text("Answer"), *_tv10_noise(), _text(" done."), *_tv10_tail())


def tv10_dup() -> tuple[Step, ...]:
    """TV10 with the optional repeated chunk (JW drops it, RS keeps it)."""
    return frames(_text("Answer"), *_tv10_noise(), _text(" done."), _text(" done."), *_tv10_tail())


def tv10_reasoning() -> tuple[Step, ...]:
    """The native-reasoning variant: reasoning text and signature, then TV10's text events."""
    return frames(
        event_frame("reasoningContentEvent", {"text": "Let me think."}),
        event_frame("reasoningContentEvent", {"signature": "sig_abc"}),
        _text("Answer"),
        *_tv10_noise(),
        _text(" done."),
        *_tv10_tail(),
    )

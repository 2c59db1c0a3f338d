from __future__ import annotations

import aiohttp
import pytest

from kirogate.emulator.app import RunningEmulator
from kirogate.protocol.events import (
    AssistantText,
    CodeReference,
    ContextUsage,
    FollowupPrompt,
    MessageMetadata,
    Metering,
    ReasoningSignature,
    ReasoningText,
    StreamException,
    SupplementaryWebLinks,
    ToolUseFragment,
)
from tests.emulator.support import decode_events, generate, social_token


async def _vector(emulator: RunningEmulator, session: aiohttp.ClientSession, name: str) -> bytes:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(session, emulator.url, token, content=f"[[emu:{name}]]")
    assert status == 200
    return data


def _tool_input(events: list[object], tool_use_id: str) -> str:
    return "".join(
        e.input for e in events if isinstance(e, ToolUseFragment) and e.tool_use_id == tool_use_id
    )


def _text(events: list[object]) -> str:
    return "".join(e.content for e in events if isinstance(e, AssistantText))


async def test_tv1_plain_text(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    events = decode_events(await _vector(emulator, session, "tv1"))
    assert events == [
        AssistantText("Hello"),
        AssistantText(", world!"),
        Metering(0.0123),
        ContextUsage(1.234),
    ]


async def test_tv2_payloads_keep_spec_key_order(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    from kirogate.protocol.eventstream import iter_messages

    data = await _vector(emulator, session, "tv2")
    payloads = [m.payload for m in iter_messages(data)]
    assert payloads[1] == (
        b'{"name":"Bash","toolUseId":"tooluse_Q1w2E3r4T5y6U7i8O9p0As","input":""}'
    )
    assert payloads[2].startswith(b'{"input":"{\\"comm","name":"Bash"')
    assert (
        payloads[5] == b'{"name":"Bash","stop":true,"toolUseId":"tooluse_Q1w2E3r4T5y6U7i8O9p0As"}'
    )
    events = decode_events(data)
    assert _tool_input(events, "tooluse_Q1w2E3r4T5y6U7i8O9p0As") == '{"command": "ls -la"}'


async def test_tv3_two_tool_calls_with_split_character(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    events = decode_events(await _vector(emulator, session, "tv3"))
    assert _tool_input(events, "tooluse_A") == '{"file_path":"/tmp/äö.txt"}'
    assert _tool_input(events, "tooluse_B") == '{"file_path":"/tmp/b.txt"}'
    assert events[-1] == ContextUsage(0.9)


async def test_tv3_split_puts_http_chunk_boundary_inside_a_utf8_character(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    async with session.post(
        f"{emulator.url}/generateAssistantResponse",
        json={
            "conversationState": {
                "conversationId": "c",
                "currentMessage": {
                    "userInputMessage": {"content": "[[emu:tv3-split]]", "modelId": "auto"}
                },
            },
            "profileArn": emulator.state.config.social_profile_arn,
        },
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        chunks = [chunk async for chunk, _ in resp.content.iter_chunks()]
    assert chunks[0].endswith(b"\xc3")
    assert chunks[1].startswith(b"\xa4")
    assert decode_events(b"".join(chunks)) == decode_events(await _vector(emulator, session, "tv3"))


async def test_tv4_thinking_tags_split_across_chunks(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    events = decode_events(await _vector(emulator, session, "tv4"))
    assert [e.content for e in events if isinstance(e, AssistantText)][:2] == [
        "\n\n<thin",
        "king>\nThe user asks 2+2. Not `</thinking>` yet.",
    ]
    assert _text(events).endswith("</thinking>\n\nThe answer is **4**.")


async def test_tv5_thinking_then_tool_call(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    events = decode_events(await _vector(emulator, session, "tv5"))
    assert events[0] == AssistantText("<thinking>\nNeed to read the file.\n</thinking>")
    assert _tool_input(events, "tooluse_C") == '{"file_path":"a.py"}'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "tv6",
            StreamException(
                "ContentLengthExceededException", "Response content length exceeded the limit."
            ),
        ),
        ("tv6-throttle", StreamException("ThrottlingException", "Rate exceeded")),
        (
            "tv6-error",
            StreamException(
                "InternalServerException",
                "Encountered an unexpected error when processing the request, please try again.",
            ),
        ),
    ],
)
async def test_tv6_exception_after_text(
    emulator: RunningEmulator, session: aiohttp.ClientSession, name: str, expected: object
) -> None:
    events = decode_events(await _vector(emulator, session, name))
    assert events[:2] == [
        AssistantText("Here is a very long essay..."),
        AssistantText(" and it continues"),
    ]
    assert events[2:] == [expected]


async def test_tv6_error_variant_is_an_error_frame(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    from kirogate.protocol.eventstream import iter_messages

    last = list(iter_messages(await _vector(emulator, session, "tv6-error")))[-1]
    assert last.message_type == "error"
    assert last.headers[":error-code"] == "InternalServerException"


async def test_tv7_truncated_tool_input_has_no_stop_and_no_metering(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    events = decode_events(await _vector(emulator, session, "tv7"))
    arguments = _tool_input(events, "tooluse_W")
    assert arguments == '{"file_path":"/src/big.py","content":"import os\\ndef main():\\n    pri'
    assert len(arguments.encode()) == 69
    assert not any(isinstance(e, ToolUseFragment) and e.stop for e in events)
    assert not any(isinstance(e, Metering | ContextUsage) for e in events)


async def test_tv8_context_full(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    events = decode_events(await _vector(emulator, session, "tv8"))
    assert events == [AssistantText("Ok."), ContextUsage(100.0)]


async def test_tv10_noise_events(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    events = decode_events(await _vector(emulator, session, "tv10"))
    assert [type(e) for e in events] == [
        AssistantText,
        FollowupPrompt,
        CodeReference,
        SupplementaryWebLinks,
        MessageMetadata,
        AssistantText,
        Metering,
        ContextUsage,
    ]
    assert _text(events) == "Answer done."


async def test_tv10_dup_repeats_the_last_chunk(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    events = decode_events(await _vector(emulator, session, "tv10-dup"))
    assert _text(events) == "Answer done. done."


async def test_tv10_reasoning_variant(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    events = decode_events(await _vector(emulator, session, "tv10-reasoning"))
    assert events[:2] == [ReasoningText("Let me think."), ReasoningSignature("sig_abc")]
    assert _text(events) == "Answer done."

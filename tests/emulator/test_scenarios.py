from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from kirogate.emulator.app import RunningEmulator
from kirogate.emulator.context import Context, parse_spec
from kirogate.emulator.scenarios import SCENARIOS, select
from kirogate.errors import CorruptFrame
from kirogate.protocol.events import (
    AssistantText,
    ContextUsage,
    MalformedEvent,
    Metering,
    ReasoningRedacted,
    ReasoningSignature,
    ReasoningText,
    StreamException,
    ToolUseFragment,
)
from kirogate.protocol.eventstream import FrameDecoder
from tests.emulator.support import (
    MODEL,
    decode_events,
    events_for,
    generate,
    request_body,
    social_refresh,
    social_token,
)


def _text(events: list[object]) -> str:
    return "".join(e.content for e in events if isinstance(e, AssistantText))


def _calls(events: list[object]) -> dict[str, tuple[str, str, bool]]:
    calls: dict[str, tuple[str, str, bool]] = {}
    for e in events:
        if isinstance(e, ToolUseFragment):
            name, args, stop = calls.get(e.tool_use_id, (e.name, "", False))
            calls[e.tool_use_id] = (name, args + e.input, stop or e.stop)
    return calls


# ---------------------------------------------------------------- selection


def test_marker_args_support_quotes_and_newlines() -> None:
    name, args = parse_spec('[[emu:write path=/tmp/x.txt content="two words\\nline"]]')
    assert name == "write"
    assert args == {"path": "/tmp/x.txt", "content": "two words\nline"}
    assert parse_spec("throttle retry_after=2") == ("throttle", {"retry_after": "2"})


def test_default_scenario_is_echo_or_paced() -> None:
    from kirogate.emulator.config import Pacing

    assert select(Context(request_body("hi")))[0].name == "echo"
    paced = Context(request_body("hi"), pacing=Pacing(chunk_count=3))
    assert select(paced)[0].name == "paced"


def test_history_marker_is_reused_only_for_multi_turn_scenarios() -> None:
    history = [
        {"userInputMessage": {"content": "[[emu:tv2]]", "modelId": "auto"}},
        {"assistantResponseMessage": {"content": "x"}},
    ]
    results = [{"toolUseId": "t", "content": [{"text": "ok"}], "status": "success"}]
    ctx = Context(request_body("", tool_results=results, history=history))
    assert select(ctx)[0].name == "echo"
    history[0]["userInputMessage"]["content"] = "[[emu:write path=/a]]"
    assert select(ctx) == (SCENARIOS["write"], {"path": "/a"})


def test_every_scenario_has_a_summary() -> None:
    assert all(s.summary for s in SCENARIOS.values())
    assert {"tv1", "tv2", "tv3", "tv3-split", "tv4", "tv5", "tv6", "tv6-throttle"} <= set(SCENARIOS)
    assert {"tv6-error", "tv7", "tv8", "tv10", "tv10-dup", "tv10-reasoning"} <= set(SCENARIOS)


async def test_unknown_marker_names_the_known_scenarios(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    events = await events_for(session, emulator.url, token, "[[emu:nope]]")
    assert "Unknown emulator scenario 'nope'" in _text(events)


async def test_bad_marker_argument_is_400(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(session, emulator.url, token, content="[[emu:paced count=x]]")
    assert status == 400
    assert b"not an integer" in data


# ---------------------------------------------------------------- tool calls


async def test_write_scenario_is_a_two_step_agent_loop(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    marker = '[[emu:write path=/tmp/x.txt content="hello world"]]'
    events = await events_for(session, emulator.url, token, marker, tools=["write", "Read"])
    calls = _calls(events)
    assert len(calls) == 1
    ((tool_use_id, (name, arguments, stop)),) = calls.items()
    assert name == "write"  # the request's own spelling
    assert orjson.loads(arguments) == {"file_path": "/tmp/x.txt", "content": "hello world"}
    assert stop
    assert tool_use_id.startswith("tooluse_") and len(tool_use_id) == 30
    history = [
        {"userInputMessage": {"content": marker, "modelId": "claude-sonnet-4.5"}},
        {
            "assistantResponseMessage": {
                "content": "Writing.",
                "toolUses": [{"toolUseId": tool_use_id, "name": "write", "input": {}}],
            }
        },
    ]
    results = [{"toolUseId": tool_use_id, "content": [{"text": "ok"}], "status": "success"}]
    events = await events_for(
        session, emulator.url, token, "", tools=["write"], tool_results=results, history=history
    )
    assert _text(events) == "Done: wrote /tmp/x.txt"
    assert not _calls(events)
    results[0]["status"] = "error"
    events = await events_for(
        session, emulator.url, token, "", tools=["write"], tool_results=results, history=history
    )
    assert _text(events) == "Write failed: ok"


async def test_tool_scenario_streams_several_calls_in_fragments(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    marker = """[[emu:tool name=bash input='{"command":"ls -la /tmp/ü"}' n=2 frag=3]]"""
    events = await events_for(session, emulator.url, token, marker, tools=["Bash"])
    calls = _calls(events)
    assert len(calls) == 2
    for name, arguments, stop in calls.values():
        assert (name, arguments, stop) == ("Bash", '{"command":"ls -la /tmp/ü"}', True)
    fragments = [e for e in events if isinstance(e, ToolUseFragment) and e.input]
    assert all(len(f.input) <= 3 for f in fragments)
    assert _text(events) == "Calling Bash."


async def test_say_scenario_answers_with_the_given_text_in_pieces(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    marker = """[[emu:say size=4 text='```json\\n{"title": "Fix it"}\\n```']] name it"""
    events = await events_for(session, emulator.url, token, marker)
    pieces = [e.content for e in events if isinstance(e, AssistantText)]
    assert "".join(pieces) == '```json\n{"title": "Fix it"}\n```'
    assert max(len(piece) for piece in pieces) <= 5
    assert isinstance(events[-1], ContextUsage)


async def test_tool_scenario_calls_again_until_rounds_are_done(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    marker = """[[emu:tool name=bash input='{"command":"ls"}' rounds=2]]"""
    call = {"toolUseId": "t1", "name": "Bash", "input": {"command": "ls"}}
    history = [
        {"userInputMessage": {"content": marker, "modelId": MODEL, "origin": "AI_EDITOR"}},
        {"assistantResponseMessage": {"content": "Calling Bash.", "toolUses": [call]}},
    ]
    result = {"toolUseId": "t1", "status": "success", "content": [{"text": "a.txt"}]}
    again = await events_for(
        session, emulator.url, token, "", tools=["Bash"], tool_results=[result], history=history
    )
    assert [name for name, _, _ in _calls(again).values()] == ["Bash"]
    context = {"toolResults": [result]}
    history += [
        {
            "userInputMessage": {
                "content": "",
                "modelId": MODEL,
                "origin": "AI_EDITOR",
                "userInputMessageContext": context,
            }
        },
        {
            "assistantResponseMessage": {
                "content": "Again.",
                "toolUses": [{**call, "toolUseId": "t2"}],
            }
        },
    ]
    second = {**result, "toolUseId": "t2"}
    done = await events_for(
        session, emulator.url, token, "", tools=["Bash"], tool_results=[second], history=history
    )
    assert _calls(done) == {}
    assert _text(done) == "Tool result: a.txt"


# ---------------------------------------------------------------- reasoning


async def test_reasoning_scenario_sends_text_then_signature(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    events = await events_for(session, emulator.url, token, "[[emu:reasoning signature=s1]] hi")
    reasoning = [e for e in events if isinstance(e, ReasoningText)]
    assert "".join(r.text for r in reasoning) == "Thinking about: hi"
    first_text = next(i for i, e in enumerate(events) if isinstance(e, AssistantText))
    assert events[first_text - 1] == ReasoningSignature("s1")
    assert _text(events) == "Echo: hi"
    events = await events_for(session, emulator.url, token, "[[emu:reasoning redacted]] hi")
    assert isinstance(events[0], ReasoningRedacted)


async def test_native_reasoning_request_gets_reasoning_events(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    extra = {"additionalModelRequestFields": {"thinking": {"type": "adaptive"}}}
    events = await events_for(session, emulator.url, token, "hi", extra=extra)
    assert isinstance(events[0], ReasoningText)
    assert any(isinstance(e, ReasoningSignature) for e in events)
    assert _text(events) == "Echo: hi"


# ---------------------------------------------------------------- faults inside the stream


async def test_exception_scenario_ends_with_the_exception_frame(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    content = "[[emu:exception type=ValidationException message=nope]] some words to echo here"
    events = await events_for(session, emulator.url, token, content)
    assert isinstance(events[0], AssistantText)
    assert events[-1] == StreamException("ValidationException", "nope")


async def test_drop_closes_connection_without_terminating_chunk(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(
            f"{emulator.url}/generateAssistantResponse",
            json=request_body("[[emu:drop after=1]] a long enough message to split"),
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 200
            async for chunk in resp.content.iter_any():
                received += chunk
    events = decode_events(received)
    assert len(events) == 1
    assert isinstance(events[0], AssistantText)


@pytest.mark.parametrize(("kind", "message"), [("message", "message CRC"), ("prelude", "prelude")])
async def test_corrupt_frame_has_a_bad_crc(
    emulator: RunningEmulator, session: aiohttp.ClientSession, kind: str, message: str
) -> None:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(
        session, emulator.url, token, content=f"[[emu:corrupt kind={kind} at=1]] abcdefghijklmnop"
    )
    assert status == 200
    decoder = FrameDecoder()
    with pytest.raises(CorruptFrame, match=message):
        decoder.feed(data)


async def test_stall_sends_nothing_for_the_given_time(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    started = time.monotonic()
    async with session.post(
        f"{emulator.url}/generateAssistantResponse",
        json=request_body("[[emu:stall seconds=0.4]] hi"),
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        headers_at = time.monotonic() - started
        assert resp.status == 200
        first = await resp.content.readany()
        first_at = time.monotonic() - started
        rest = await resp.read()
    assert headers_at < 0.3
    assert first_at >= 0.38
    assert _text(decode_events(first + rest)) == "Echo: hi"


async def test_stall_before_headers_times_out_a_client(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            f"{emulator.url}/generateAssistantResponse",
            json=request_body("[[emu:stall seconds=0.5 headers=0]] hi"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ) as resp:
            await resp.read()


async def test_slow_scenario_spaces_events(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    started = time.monotonic()
    events = await events_for(session, emulator.url, token, "[[emu:slow delay=0.05]] hi")
    assert time.monotonic() - started >= 0.05 * len(events)


# ---------------------------------------------------------------- HTTP errors


HTTP_CASES = [
    ("malformed", 400, {"message": "Improperly formed request.", "reason": None}),
    (
        "too-long",
        400,
        {"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"},
    ),
    (
        "invalid-model",
        400,
        {
            "message": "Invalid model. Please select a different model to continue.",
            "reason": "INVALID_MODEL_ID",
        },
    ),
    ("quota", 402, {"message": "You have reached the limit.", "reason": "MONTHLY_REQUEST_COUNT"}),
    ("bad-token", 403, {"message": "The bearer token included in the request is invalid."}),
    ("throttle", 429, {"message": "Rate exceeded", "__type": "ThrottlingException"}),
    (
        "server-error",
        500,
        {
            "message": (
                "Encountered an unexpected error when processing the request, please try again."
            )
        },
    ),
]


@pytest.mark.parametrize(("name", "status", "body"), HTTP_CASES)
async def test_http_error_scenario_bodies(
    emulator: RunningEmulator,
    session: aiohttp.ClientSession,
    name: str,
    status: int,
    body: dict[str, object],
) -> None:
    token = await social_token(session, emulator.url)
    got, data, _ = await generate(session, emulator.url, token, content=f"[[emu:{name}]]")
    assert got == status
    assert orjson.loads(data) == body


async def test_suspended_and_unavailable_scenarios(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(session, emulator.url, token, content="[[emu:suspended]]")
    assert status == 403
    assert orjson.loads(data)["reason"] == "TEMPORARILY_SUSPENDED"
    assert b"temporarily is suspended" in data
    status, data, _ = await generate(session, emulator.url, token, content="[[emu:unavailable]]")
    assert status == 503


async def test_throttle_retry_after_and_reset_timestamp(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    content = "[[emu:throttle retry_after=3 reason=USER_REQUEST_RATE_EXCEEDED reset=1767225600]]"
    status, data, resp = await generate(session, emulator.url, token, content=content)
    assert status == 429
    assert resp.headers["Retry-After"] == "3"
    body = orjson.loads(data)
    assert body["reason"] == "USER_REQUEST_RATE_EXCEEDED"
    assert body["quota_reset_timestamp"] == 1767225600.0


async def test_generic_http_scenario(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    content = '[[emu:http status=502 message="high load"]]'
    status, data, _ = await generate(session, emulator.url, token, content=content)
    assert status == 502
    assert orjson.loads(data) == {"message": "high load", "reason": None}


# ---------------------------------------------------------------- credential scenarios


async def test_credential_scenario_with_count_fails_then_succeeds(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorFlaky", scenario="throttle", count=2)
    token = (await social_refresh(session, emulator.url, "aorFlaky"))["accessToken"]
    statuses = [(await generate(session, emulator.url, token))[0] for _ in range(3)]
    assert statuses == [429, 429, 200]


async def test_credential_scenario_wins_over_marker(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorTv1", scenario="tv1")
    token = (await social_refresh(session, emulator.url, "aorTv1"))["accessToken"]
    events = await events_for(session, emulator.url, token, "[[emu:tv8]]")
    assert _text(events) == "Hello, world!"


async def test_credential_scenario_via_control_endpoint(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{emulator.url}/_emulator/credentials"
    body = {"refreshToken": "aorCtl", "scenario": "http status=500", "count": 1}
    async with session.post(url, json=body) as resp:
        assert resp.status == 200
        account = await resp.json()
    assert account["scenario"] == "http"
    assert account["remaining"] == 1
    token = (await social_refresh(session, emulator.url, "aorCtl"))["accessToken"]
    assert (await generate(session, emulator.url, token))[0] == 500
    assert (await generate(session, emulator.url, token))[0] == 200
    async with session.post(url, json={"refreshToken": "x", "scenario": "nope"}) as resp:
        assert resp.status == 400


async def test_paced_marker_sets_count_and_size(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    events = await events_for(session, emulator.url, token, "[[emu:paced count=3 size=4]]")
    assert [e.content for e in events if isinstance(e, AssistantText)] == ["abcd", "bcde", "cdef"]
    assert isinstance(events[-2], Metering) and isinstance(events[-1], ContextUsage)


async def test_write_without_a_write_tool_is_an_echo(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    events = await events_for(session, emulator.url, token, "[[emu:write path=/x]] title?")
    assert _text(events) == "Echo: title?"
    assert not _calls(events)
    events = await events_for(session, emulator.url, token, "[[emu:tool]] title?")
    assert _text(events) == "Echo: title?"


async def test_scenario_set_on_an_account_found_by_id(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    account_id = emulator.state.access_tokens[token].account.id
    url = f"{emulator.url}/_emulator/credentials"
    async with session.post(url, json={"id": account_id, "scenario": "tv8"}) as resp:
        assert (await resp.json())["id"] == account_id
    assert _text(await events_for(session, emulator.url, token, "hi")) == "Ok."
    async with session.post(url, json={"id": account_id, "scenario": ""}) as resp:
        assert (await resp.json())["scenario"] is None
    async with session.post(url, json={"id": "acct-9999"}) as resp:
        assert resp.status == 400


async def test_metadata_and_invalid_state_scenarios(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    from kirogate.protocol.events import InvalidState, TokenUsage

    token = await social_token(session, emulator.url)
    events = await events_for(session, emulator.url, token, "[[emu:metadata]] hi")
    usage = events[-1]
    assert isinstance(usage, TokenUsage)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    events = await events_for(session, emulator.url, token, "[[emu:invalid-state]] hi")
    assert InvalidState("INVALID_TASK_ASSIST_PLAN", "Invalid state") in events
    assert _text(events) == "Echo: hi"


# ---------------------------------------------------------------- malformed answers


async def test_empty_body_is_a_200_without_bytes(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(session, emulator.url, token, content="[[emu:empty-body]]")
    assert (status, data) == (200, b"")


async def test_bad_json_frame_sits_among_the_echo(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    content = "[[emu:bad-json-frame at=0 event=contextUsageEvent]] hello"
    events = await events_for(session, emulator.url, token, content)
    assert events[0] == MalformedEvent("contextUsageEvent", "the payload is not JSON")
    assert "hello" in _text(events[1:])


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ("assistantResponseEvent", "content is a number, not a string"),
        ("toolUseEvent", "toolUseId is a number, not a string"),
        ("reasoningContentEvent", "text is an array, not a string"),
        ("contextUsageEvent", "contextUsagePercentage is a string, not a number"),
        ("meteringEvent", "usage is a string, not a number"),
        ("codeReferenceEvent", "content is a number, not a string"),
    ],
)
async def test_wrong_type_frame_has_a_field_of_the_wrong_type(
    emulator: RunningEmulator, session: aiohttp.ClientSession, event: str, problem: str
) -> None:
    token = await social_token(session, emulator.url)
    content = f"[[emu:wrong-type-frame event={event}]] hello"
    events = await events_for(session, emulator.url, token, content)
    malformed = [e for e in events if isinstance(e, MalformedEvent)]
    if event == "codeReferenceEvent":  # no wrong payload of its own: the text one is sent
        assert malformed == []
        return
    assert malformed == [MalformedEvent(event, problem)]
    assert isinstance(events[0], AssistantText)  # at=1 by default


async def test_bad_tool_input_sends_complete_arguments_that_are_not_json(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    events = await events_for(
        session, emulator.url, token, "[[emu:bad-tool-input]]", tools=["Bash"]
    )
    [(name, arguments, stop)] = _calls(events).values()
    assert (name, arguments, stop) == ("Bash", '{"command": ls}', True)
    plain = await events_for(session, emulator.url, token, "[[emu:bad-tool-input]] hi")
    assert _calls(plain) == {}  # no tools in the request: an echo

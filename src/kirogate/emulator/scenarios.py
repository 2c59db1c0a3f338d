"""The scenario registry: every scripted upstream behaviour, selected by name.

A request picks its scenario (see :func:`select`) from, in order:

1. the credential's scenario, set through ``POST /_emulator/credentials`` (optionally only
   for its first ``count`` requests), because it models account state;
2. a marker in the current user message, ``[[emu:NAME key=value key2="two words"]]``
   (shell quoting; ``\\n`` in a value is a newline). When the current message carries tool
   results and no marker, a multi-turn scenario's marker in an earlier user turn is reused,
   so an agent loop (``write``, ``tool``) can finish;
3. ``paced`` when the config sets ``chunk_count``/``chunk_size``, else ``echo``.

Add a scenario with ``@scenario("name", "summary")`` on a ``Context -> Reply`` function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import orjson

from kirogate.emulator import answers, replies, vectors
from kirogate.emulator.catalogue import context_window
from kirogate.emulator.context import Context
from kirogate.emulator.replies import Drop, Frame, Reply, Stall, Step, StreamReply
from kirogate.protocol.events import event_frame, exception_frame

Kind = Literal["stream", "http"]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    build: Callable[[Context], Reply]
    kind: Kind = "stream"
    multi_turn: bool = False


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, summary: str, *, kind: Kind = "stream", multi_turn: bool = False
) -> Callable[[Callable[[Context], Reply]], Callable[[Context], Reply]]:
    def register(build: Callable[[Context], Reply]) -> Callable[[Context], Reply]:
        SCENARIOS[name] = Scenario(name, summary, build, kind, multi_turn)
        return build

    return register


def select(ctx: Context) -> tuple[Scenario, dict[str, str]]:
    """The marker-chosen scenario (or the default) for a request; credential plans come first."""
    marker = ctx.current_marker()
    if marker is None and ctx.tool_results:
        found = ctx.history_marker()
        if found and (known := SCENARIOS.get(found[0])) and known.multi_turn:
            marker = found
    if marker is not None:
        name, args = marker
        if name in SCENARIOS:
            return SCENARIOS[name], args
        return SCENARIOS["unknown"], {"name": name}
    return SCENARIOS["paced" if ctx.pacing.benchmark else "echo"], {}


# ---------------------------------------------------------------- helpers


def _finish(ctx: Context, text_frames: list[bytes], text: str) -> StreamReply:
    """Text frames, then metering and context usage as the real service ends a turn."""
    credits = answers.credits_for(text)
    pct = answers.context_percentage(ctx.raw_size, context_window(ctx.model_id))
    steps = [*text_frames, answers.metering_frame(credits), answers.context_frame(pct)]
    return StreamReply(tuple(Frame(item) for item in steps), credits=credits)


def _vector(steps: tuple[Step, ...]) -> StreamReply:
    return StreamReply(steps, credits=0.01)


def _echo_parts(ctx: Context) -> tuple[list[bytes], str]:
    text = answers.echo_text(ctx.content, ctx.tool_result_texts())
    said = text.removeprefix("Echo: ")
    prefix: list[bytes] = []
    if ctx.native_reasoning:
        thought = f"The user said: {said[:80]}"
        signature = "sig_" + hashlib.sha256(thought.encode()).hexdigest()[:40]
        prefix = answers.reasoning_frames(thought, signature)
    elif ctx.thinking_tags:
        text = f"<thinking>\nThe user said: {said[:80]}\n</thinking>\n\n{text}"
    pieces = answers.split_text(text, answers.echo_chunk_size(text))
    return [*prefix, *answers.text_frames(pieces)], text


# ---------------------------------------------------------------- generated replies


@scenario("echo", "default: 'Echo: <content>' in chunks, then metering and context usage")
def _echo(ctx: Context) -> Reply:
    return _finish(ctx, *_echo_parts(ctx))


@scenario("paced", "benchmark text: count=N chunks of size=S deterministic characters")
def _paced(ctx: Context) -> Reply:
    count = ctx.int_arg("count", ctx.pacing.chunk_count or 16)
    size = ctx.int_arg("size", ctx.pacing.chunk_size or 16)
    pieces = answers.paced_chunks(count, size)
    return _finish(ctx, answers.text_frames(pieces), "".join(pieces))


@scenario("say", "answer with text= as written (no ']'; \\n is a newline) in size=N pieces")
def _say(ctx: Context) -> Reply:
    text = ctx.arg("text", "")
    return _finish(ctx, answers.text_frames(answers.split_text(text, ctx.int_arg("size", 8))), text)


@scenario("unknown", "reply naming an unknown marker (not selectable by name)")
def _unknown(ctx: Context) -> Reply:
    text = (
        f"Unknown emulator scenario {ctx.arg('name', '')!r}. Known: {', '.join(sorted(SCENARIOS))}."
    )
    return _finish(ctx, answers.text_frames([text]), text)


@scenario("reasoning", "native reasoning events (text, then signature; redacted=1) then echo")
def _reasoning(ctx: Context) -> Reply:
    text_frames, text = _echo_parts(ctx.with_args({}))
    thought = ctx.arg("text", f"Thinking about: {answers.clean_content(ctx.content)[:80]}")
    if ctx.args.get("redacted"):
        prefix = [event_frame("reasoningContentEvent", {"redactedContent": "cmVkYWN0ZWQ="})]
    else:
        prefix = answers.reasoning_frames(thought, ctx.arg("signature", "sig_emulator"))
    return _finish(ctx, [*prefix, *text_frames], text)


@scenario(
    "tool",
    "call a tool: name= (default: the request's first tool) input=<json> n=<calls> frag=<chars>"
    " rounds=<tool-calling turns before the final text, default 1>; echo when the request has"
    " no tools",
    multi_turn=True,
)
def _tool(ctx: Context) -> Reply:
    if ctx.tool_results and ctx.tool_rounds >= ctx.int_arg("rounds", 1):
        text = "Tool result: " + "\n".join(ctx.tool_result_texts())
        return _finish(ctx, answers.text_frames([text]), text)
    if not ctx.tool_names:
        return _echo(ctx)  # a side request (title, summary) that repeats the marker
    wanted = ctx.arg("name", ctx.tool_names[0])
    name = ctx.tool_named(wanted) or wanted
    arguments = ctx.arg("input", "{}")
    lead = f"Calling {name}."
    out = answers.text_frames([lead])
    for _ in range(ctx.int_arg("n", 1)):
        out += answers.tool_call_frames(
            name, ctx.new_tool_use_id(), arguments, ctx.int_arg("frag", answers.TOOL_FRAGMENT_CHARS)
        )
    return _finish(ctx, out, lead + arguments)


@scenario(
    "write",
    "call the client's Write tool with path= and content=; after its result, say"
    " 'Done: wrote <path>'; echo when the request has no Write tool",
    multi_turn=True,
)
def _write(ctx: Context) -> Reply:
    path = ctx.arg("path", "/tmp/kirogate-emulator.txt")
    if ctx.tool_results:
        if ctx.tool_result_failed:
            text = "Write failed: " + "\n".join(ctx.tool_result_texts())
        else:
            text = f"Done: wrote {path}"
        return _finish(ctx, answers.text_frames(answers.split_text(text, 8)), text)
    name = ctx.tool_named("Write")
    if name is None:
        return _echo(ctx)  # a side request (title, summary) that repeats the marker
    content = ctx.arg("content", "hello from the kirogate emulator\n")
    arguments = answers.json_arguments({"file_path": path, "content": content})
    lead = f"Writing {path}."
    out = [
        *answers.text_frames([lead]),
        *answers.tool_call_frames(name, ctx.new_tool_use_id(), arguments),
    ]
    return _finish(ctx, out, lead + arguments)


@scenario("metadata", "echo, then a metadataEvent with tokenUsage (newer SDK clients)")
def _metadata(ctx: Context) -> Reply:
    reply = _finish(ctx, *_echo_parts(ctx))
    text_len = len(answers.echo_text(ctx.content, ctx.tool_result_texts()))
    usage = {
        "inputTokens": answers.input_tokens(ctx.raw_size),
        "outputTokens": max(1, text_len // 4),
    }
    usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    frame = Frame(event_frame("metadataEvent", {"tokenUsage": usage}))
    return StreamReply((*reply.steps, frame), credits=reply.credits)


@scenario("invalid-state", "an invalidStateEvent (reason=, message=) between echo text")
def _invalid_state(ctx: Context) -> Reply:
    text_frames, text = _echo_parts(ctx)
    payload = {
        "reason": ctx.arg("reason", "INVALID_TASK_ASSIST_PLAN"),
        "message": ctx.arg("message", "Invalid state"),
    }
    return _finish(ctx, [*text_frames, event_frame("invalidStateEvent", payload)], text)


# ---------------------------------------------------------------- faults inside a 200 stream


@scenario("exception", "echo half, then an exception frame: type= message=")
def _exception(ctx: Context) -> Reply:
    text_frames, _ = _echo_parts(ctx)
    half = text_frames[: max(1, len(text_frames) // 2)]
    kind = ctx.arg("type", "ThrottlingException")
    frame = exception_frame(kind, {"message": ctx.arg("message", "Rate exceeded")})
    return StreamReply(tuple(Frame(item) for item in [*half, frame]))


@scenario("drop", "echo, closing the connection abruptly after after=N events (default 2)")
def _drop(ctx: Context) -> Reply:
    reply = _finish(ctx, *_echo_parts(ctx))
    return StreamReply((*reply.steps[: ctx.int_arg("after", 2)], Drop()))


@scenario("corrupt", "echo with a bad-CRC frame at at=N (default 1); kind=message|prelude")
def _corrupt(ctx: Context) -> Reply:
    reply = _finish(ctx, *_echo_parts(ctx))
    steps = list(reply.steps)
    at = min(ctx.int_arg("at", 1), len(steps) - 1)
    frame = steps[at]
    assert isinstance(frame, Frame)
    data = bytearray(frame.data)
    # Flip a bit of the prelude CRC, or of the first payload byte (message CRC now wrong).
    index = 8 if ctx.arg("kind", "message") == "prelude" else len(data) - 5
    data[index] ^= 0x01
    steps[at] = Frame(bytes(data))
    return StreamReply(tuple(steps), credits=reply.credits)


@scenario("empty-body", "200 with an empty body: not a single event")
def _empty_body(ctx: Context) -> Reply:
    return StreamReply(())


# A known event's payload that is not JSON, and one with a field of the wrong type.
_WRONG_TYPES: dict[str, dict[str, object]] = {
    "assistantResponseEvent": {"content": 42},
    "toolUseEvent": {"name": "Bash", "toolUseId": 7, "input": ""},
    "reasoningContentEvent": {"text": ["thought"]},
    "contextUsageEvent": {"contextUsagePercentage": "full"},
    "meteringEvent": {"unit": "credit", "usage": "0.01"},
}


def _bad_frame(ctx: Context, payload: Callable[[str], bytes]) -> Reply:
    reply = _finish(ctx, *_echo_parts(ctx))
    steps = list(reply.steps)
    kind = ctx.arg("event", "assistantResponseEvent")
    at = min(max(ctx.int_arg("at", 1), 0), len(steps))
    steps.insert(at, Frame(event_frame(kind, payload(kind))))
    return StreamReply(tuple(steps), credits=reply.credits)


@scenario(
    "bad-json-frame",
    "echo with an event=TYPE frame (default assistantResponseEvent) whose payload is not JSON,"
    " at at=N (default 1; 0 is the first frame)",
)
def _bad_json_frame(ctx: Context) -> Reply:
    return _bad_frame(ctx, lambda kind: b'{"content": "unterminated')


@scenario(
    "wrong-type-frame",
    "echo with an event=TYPE frame (assistantResponseEvent, toolUseEvent,"
    " reasoningContentEvent, contextUsageEvent, meteringEvent) holding a field of the wrong"
    " JSON type, at at=N (default 1; 0 is the first frame)",
)
def _wrong_type_frame(ctx: Context) -> Reply:
    return _bad_frame(ctx, lambda kind: orjson.dumps(_WRONG_TYPES.get(kind, {"content": 42})))


@scenario(
    "bad-tool-input",
    "call a tool (name=, default the request's first tool) whose complete arguments are not"
    " a JSON object: input= (default '{\"command\": ls}'); echo when the request has no tools",
)
def _bad_tool_input(ctx: Context) -> Reply:
    if not ctx.tool_names:
        return _echo(ctx)
    wanted = ctx.arg("name", ctx.tool_names[0])
    name = ctx.tool_named(wanted) or wanted
    arguments = ctx.arg("input", '{"command": ls}')
    lead = f"Calling {name}."
    out = answers.text_frames([lead])
    out += answers.tool_call_frames(name, ctx.new_tool_use_id(), arguments)
    return _finish(ctx, out, lead + arguments)


@scenario(
    "stall",
    "echo that goes silent for seconds=N (default 5) after after=K events; headers=0 stalls first",
)
def _stall(ctx: Context) -> Reply:
    reply = _finish(ctx, *_echo_parts(ctx))
    seconds = ctx.float_arg("seconds", 5.0)
    if ctx.arg("headers", "1") == "0":
        return StreamReply(reply.steps, reply.credits, stall_before_headers=seconds)
    after = ctx.int_arg("after", 0)
    steps = (*reply.steps[:after], Stall(seconds), *reply.steps[after:])
    return StreamReply(steps, credits=reply.credits)


@scenario("slow", "echo with delay=S seconds (default 0.1) between all events")
def _slow(ctx: Context) -> Reply:
    reply = _finish(ctx, *_echo_parts(ctx))
    delay = Stall(ctx.float_arg("delay", 0.1))
    steps: list[Step] = []
    for step in reply.steps:
        steps += [delay, step]
    return StreamReply(tuple(steps), credits=reply.credits)


# ---------------------------------------------------------------- HTTP errors before the stream


def _http(name: str, summary: str, make: Callable[[Context], Reply]) -> None:
    scenario(name, summary, kind="http")(make)


_http("malformed", "400 Improperly formed request.", lambda ctx: replies.improperly_formed())
_http("too-long", "400 CONTENT_LENGTH_EXCEEDS_THRESHOLD", lambda ctx: replies.input_too_long())
_http("invalid-model", "400 INVALID_MODEL_ID", lambda ctx: replies.invalid_model())
_http("quota", "402 MONTHLY_REQUEST_COUNT", lambda ctx: replies.monthly_quota())
_http("bad-token", "403 invalid bearer token", lambda ctx: replies.invalid_bearer())
_http("suspended", "403 TEMPORARILY_SUSPENDED", lambda ctx: replies.suspended())
_http("server-error", "500 InternalServerException", lambda ctx: replies.internal_error())
_http("unavailable", "503 ServiceUnavailableException", lambda ctx: replies.unavailable())
_http(
    "throttle",
    "429 ThrottlingException; retry_after= (header), reason=, reset= (quota_reset_timestamp)",
    lambda ctx: replies.throttled(
        retry_after=ctx.args.get("retry_after"),
        reason=ctx.args.get("reason"),
        quota_reset_timestamp=ctx.float_arg("reset", 0.0) if "reset" in ctx.args else None,
    ),
)
_http(
    "http",
    "any status: status=N message=TEXT reason=R",
    lambda ctx: replies.HttpReply(
        ctx.int_arg("status", 500),
        {"message": ctx.arg("message", replies.UNEXPECTED_ERROR), "reason": ctx.args.get("reason")},
    ),
)


# ---------------------------------------------------------------- the spec's test vectors

_VECTORS: dict[str, tuple[str, Callable[[], tuple[Step, ...]]]] = {
    "tv1": ("TV1 plain text", vectors.tv1),
    "tv2": ("TV2 text then one tool call over several frames", vectors.tv2),
    "tv3": ("TV3 two tool calls, a character split between fragments", vectors.tv3),
    "tv3-split": (
        "TV3 with an HTTP chunk boundary inside the UTF-8 bytes of 'ä'",
        vectors.tv3_split,
    ),
    "tv4": ("TV4 <thinking> tags split across chunks", vectors.tv4),
    "tv5": ("TV5 thinking, then a tool call without a blank line", vectors.tv5),
    "tv6": ("TV6 ContentLengthExceededException mid-stream", vectors.tv6),
    "tv6-throttle": ("TV6 variant: ThrottlingException frame", vectors.tv6_throttle),
    "tv6-error": ("TV6 variant: InternalServerException error frame", vectors.tv6_error),
    "tv7": ("TV7 truncated tool input, no stop frame", vectors.tv7),
    "tv8": ("TV8 context window full (100%)", vectors.tv8),
    "tv10": ("TV10 noise events to ignore", vectors.tv10),
    "tv10-dup": ("TV10 with a repeated text chunk", vectors.tv10_dup),
    "tv10-reasoning": ("TV10 with native reasoning events first", vectors.tv10_reasoning),
}


def _vector_builder(steps: Callable[[], tuple[Step, ...]]) -> Callable[[Context], Reply]:
    return lambda ctx: _vector(steps())


for _name, (_summary, _steps) in _VECTORS.items():
    scenario(_name, _summary)(_vector_builder(_steps))

# TV9 is the HTTP error family above; ``tv9`` alone answers its first case.
_http(
    "tv9", "TV9 first case: 400 Improperly formed request.", lambda ctx: replies.improperly_formed()
)

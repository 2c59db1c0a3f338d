"""Validate a streamed answer and reassemble its text, for each target the benchmark drives.

Each checker is fed the raw body chunks as they arrive and answers whether a chunk carried
answer text (the load generator timestamps the first such chunk as time to first token).
``finish`` raises :class:`InvalidStream` when the body broke its dialect's grammar:

- Anthropic Messages: ``message_start`` first; blocks opened with consecutive indexes, each
  delta on the open block with the delta type of its block type, closed before the next
  opens; one ``message_delta`` with a known stop reason after the last block; then
  ``message_stop`` and nothing after it. ``ping`` may come anywhere after ``message_start``;
  an ``error`` event is invalid here (the benchmark's upstream never fails).
- OpenAI Chat Completions: every ``data:`` line is a ``chat.completion.chunk`` with the same
  id and model; the first delta has ``role: assistant``; exactly one chunk carries a
  ``finish_reason``, optionally followed by one usage chunk with no choices; then ``[DONE]``
  and nothing after it.
- Kiro event stream (the emulator, driven directly): every frame decodes with good CRCs and
  the body ends on a frame boundary.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from kirogate.protocol.events import AssistantText, parse_event
from kirogate.protocol.eventstream import FrameDecoder

ANTHROPIC_STOP_REASONS: Final = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "model_context_window_exceeded"}
)
OPENAI_FINISH_REASONS: Final = frozenset({"stop", "length", "tool_calls", "content_filter"})
_DELTA_TYPES: Final = {
    "text": frozenset({"text_delta"}),
    "thinking": frozenset({"thinking_delta", "signature_delta"}),
    "tool_use": frozenset({"input_json_delta"}),
}


class InvalidStream(Exception):
    """The body broke the grammar of its dialect."""


class SseSplitter:
    """Cut an SSE body into events: ``(event name or None, data bytes)`` per blank line."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\n\n" not in buf:
            self._buf = buf
            return []
        *blocks, self._buf = buf.split(b"\n\n")
        out: list[tuple[str | None, bytes]] = []
        for block in blocks:
            name: str | None = None
            data: list[bytes] = []
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    data.append(line[5:].removeprefix(b" "))
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode()
                elif line and not line.startswith(b":"):
                    raise InvalidStream(f"unexpected SSE line {line[:80]!r}")
            if name is not None or data:
                out.append((name, b"\n".join(data)))
        return out

    def finish(self) -> None:
        if self._buf.strip():
            raise InvalidStream(f"body ends inside an event: {self._buf[:80]!r}")


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidStream(f"data is not JSON: {data[:80]!r}") from exc
    if not isinstance(value, dict):
        raise InvalidStream(f"data is not a JSON object: {data[:80]!r}")
    return value


class AnthropicChecker:
    """The Messages SSE grammar; ``text`` is the concatenated ``text_delta`` text."""

    def __init__(self) -> None:
        self._sse = SseSplitter()
        self._parts: list[str] = []
        self._started = self._delta_seen = self._stopped = False
        self._next_index = 0
        self._open: str | None = None  # the open block's type

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, chunk: bytes) -> bool:
        saw_text = False
        for name, data in self._sse.feed(chunk):
            saw_text = self._event(name, data) or saw_text
        return saw_text

    def finish(self) -> None:
        self._sse.finish()
        if not self._stopped:
            raise InvalidStream("body ended without message_stop")

    def _event(self, name: str | None, data: bytes) -> bool:
        if self._stopped:
            raise InvalidStream(f"{name} after message_stop")
        body = _json(data)
        kind = body.get("type")
        if name != kind:
            raise InvalidStream(f"event name {name!r} but data type {kind!r}")
        if not self._started:
            if kind != "message_start" or body.get("message", {}).get("role") != "assistant":
                raise InvalidStream(f"first event is {kind!r}, not message_start")
            self._started = True
            return False
        match kind:
            case "ping":
                return False
            case "content_block_start":
                self._block_start(body)
            case "content_block_delta":
                return self._block_delta(body)
            case "content_block_stop":
                self._check_open(body, "content_block_stop")
                self._open = None
            case "message_delta":
                self._message_delta(body)
            case "message_stop":
                if not self._delta_seen:
                    raise InvalidStream("message_stop before message_delta")
                self._stopped = True
            case "error":
                raise InvalidStream(f"error event: {body.get('error')}")
            case _:
                raise InvalidStream(f"unknown event type {kind!r}")
        return False

    def _block_start(self, body: dict[str, Any]) -> None:
        if self._open is not None or self._delta_seen:
            raise InvalidStream("content_block_start while a block is open or after the end")
        if body.get("index") != self._next_index:
            raise InvalidStream(f"block index {body.get('index')}, expected {self._next_index}")
        block_type = body.get("content_block", {}).get("type")
        if block_type not in _DELTA_TYPES:
            raise InvalidStream(f"unknown content block type {block_type!r}")
        self._open = block_type
        self._next_index += 1

    def _check_open(self, body: dict[str, Any], what: str) -> None:
        if self._open is None or body.get("index") != self._next_index - 1:
            raise InvalidStream(f"{what} for index {body.get('index')}, which is not open")

    def _block_delta(self, body: dict[str, Any]) -> bool:
        self._check_open(body, "content_block_delta")
        delta = body.get("delta", {})
        assert self._open is not None
        if delta.get("type") not in _DELTA_TYPES[self._open]:
            raise InvalidStream(f"{delta.get('type')!r} in a {self._open} block")
        if delta["type"] == "text_delta":
            text = delta.get("text")
            if not isinstance(text, str):
                raise InvalidStream("text_delta without text")
            self._parts.append(text)
            return bool(text)
        return False

    def _message_delta(self, body: dict[str, Any]) -> None:
        if self._open is not None or self._delta_seen:
            raise InvalidStream("message_delta while a block is open, or twice")
        if self._next_index == 0:
            raise InvalidStream("message_delta before any content block")
        reason = body.get("delta", {}).get("stop_reason")
        if reason not in ANTHROPIC_STOP_REASONS:
            raise InvalidStream(f"unknown stop_reason {reason!r}")
        if not isinstance(body.get("usage", {}).get("output_tokens"), int):
            raise InvalidStream("message_delta without usage.output_tokens")
        self._delta_seen = True


class ChatChecker:
    """The Chat Completions chunk grammar; ``text`` is the concatenated ``delta.content``."""

    def __init__(self) -> None:
        self._sse = SseSplitter()
        self._parts: list[str] = []
        self._id: object = None
        self._model: object = None
        self._finished = self._usage = self._done = False
        self._first = True

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, chunk: bytes) -> bool:
        saw_text = False
        for name, data in self._sse.feed(chunk):
            if name is not None:
                raise InvalidStream(f"unexpected event name {name!r}")
            saw_text = self._data(data) or saw_text
        return saw_text

    def finish(self) -> None:
        self._sse.finish()
        if not self._done:
            raise InvalidStream("body ended without [DONE]")

    def _data(self, data: bytes) -> bool:
        if self._done:
            raise InvalidStream("data after [DONE]")
        if data == b"[DONE]":
            if not self._finished:
                raise InvalidStream("[DONE] before a finish_reason")
            self._done = True
            return False
        chunk = _json(data)
        if "error" in chunk:
            raise InvalidStream(f"error chunk: {chunk['error']}")
        if chunk.get("object") != "chat.completion.chunk":
            raise InvalidStream(f"object is {chunk.get('object')!r}")
        if self._id is None:
            self._id, self._model = chunk.get("id"), chunk.get("model")
        elif (chunk.get("id"), chunk.get("model")) != (self._id, self._model):
            raise InvalidStream("chunk id or model changed mid-stream")
        choices = chunk.get("choices")
        if self._usage:
            raise InvalidStream("chunk after the usage chunk")
        if choices == []:
            if not self._finished or "usage" not in chunk:
                raise InvalidStream("a chunk without choices must be the usage chunk at the end")
            self._usage = True
            return False
        if not isinstance(choices, list) or len(choices) != 1:
            raise InvalidStream("a chunk must have exactly one choice")
        if self._finished:
            raise InvalidStream("choice chunk after the finish_reason chunk")
        choice = choices[0]
        delta = choice.get("delta", {})
        if self._first:
            if delta.get("role") != "assistant":
                raise InvalidStream("the first chunk's delta has no role: assistant")
            self._first = False
        reason = choice.get("finish_reason")
        if reason is not None:
            if reason not in OPENAI_FINISH_REASONS:
                raise InvalidStream(f"unknown finish_reason {reason!r}")
            self._finished = True
        content = delta.get("content")
        if content:
            if not isinstance(content, str):
                raise InvalidStream("delta.content is not a string")
            self._parts.append(content)
            return True
        return False


class EventStreamChecker:
    """A Kiro event-stream body: frames decode and the body ends on a frame boundary."""

    def __init__(self) -> None:
        self._decoder = FrameDecoder()
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, chunk: bytes) -> bool:
        saw_text = False
        try:
            messages = self._decoder.feed(chunk)
        except Exception as exc:
            raise InvalidStream(f"bad event stream: {exc}") from exc
        for message in messages:
            event = parse_event(message)
            if type(event) is AssistantText and event.content:
                self._parts.append(event.content)
                saw_text = True
        return saw_text

    def finish(self) -> None:
        try:
            self._decoder.finish()
        except Exception as exc:
            raise InvalidStream(f"bad event stream: {exc}") from exc


Checker = AnthropicChecker | ChatChecker | EventStreamChecker

CHECKERS: Final[dict[str, type[Checker]]] = {
    "anthropic": AnthropicChecker,
    "openai": ChatChecker,
    "direct": EventStreamChecker,
}

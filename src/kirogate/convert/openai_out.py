"""Render output events as OpenAI Chat Completions chunks or a body (spec data §8.4).

Every chunk shares one id, ``created`` and model; the bytes up to ``"delta":`` are built once.
Tool calls stream incrementally (AC, K2): the first chunk of call ``k`` carries its id, type
and name with ``arguments:""``, later ones only argument fragments. Thinking goes to
``reasoning_content`` (JW, AC). ``finish_reason`` is ``stop`` (also for a stop sequence),
``tool_calls`` or ``length`` (max_tokens and a full context window); never
``content_filter``. Usage goes in a separate last chunk with ``"choices":[]``, and only
when the client set ``stream_options.include_usage`` (the strict form; JW always appends it).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from kirogate.convert.ir import (
    Finish,
    OutEvent,
    StopReason,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
)
from kirogate.errors import KirogateError

_dumps = orjson.dumps

FINISH_REASONS: Final[dict[StopReason, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}
_DONE: Final = b"data: [DONE]\n\n"
_OPEN_END: Final = b',"finish_reason":null}]}\n\n'


def _usage(finish: Finish) -> dict[str, Any]:
    return {
        "prompt_tokens": finish.input_tokens,
        "completion_tokens": finish.output_tokens,
        "total_tokens": finish.input_tokens + finish.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": finish.reasoning_tokens},
    }


def error_chunk(exc: KirogateError) -> bytes:
    """A last ``data:`` line with an OpenAI error object, then ``[DONE]``."""
    error = {"message": exc.message, "type": exc.openai_type, "code": exc.openai_code}
    return b"data: " + _dumps({"error": error}) + b"\n\n" + _DONE


class ChatStreamRenderer:
    """``chat.completion.chunk`` SSE bytes: ``start()``, then ``feed()`` per event."""

    __slots__ = ("_head", "_include_usage", "_tool", "_tools", "_usage_head")

    def __init__(self, model: str, completion_id: str, created: int, include_usage: bool) -> None:
        common = (
            b'data: {"id":'
            + _dumps(completion_id)
            + b',"object":"chat.completion.chunk","created":'
            + b"%d" % created
            + b',"model":'
            + _dumps(model)
        )
        self._head = common + b',"choices":[{"index":0,"delta":'
        self._usage_head = common + b',"choices":[],"usage":'
        self._include_usage = include_usage
        self._tools = 0  # calls started so far
        self._tool = b""  # '{"tool_calls":[{"index":k,"function":{"arguments":' of the open call

    def start(self) -> bytes:
        return self._head + b'{"role":"assistant","content":""}' + _OPEN_END

    def error(self, exc: KirogateError) -> bytes:
        return error_chunk(exc)

    def render(self, events: list[OutEvent]) -> bytes:
        """``feed`` several events; one bytes object for one write."""
        if len(events) == 1:  # the common case: one upstream chunk, one delta
            return self.feed(events[0])
        return b"".join([self.feed(event) for event in events])

    def feed(self, event: OutEvent) -> bytes:
        if type(event) is TextDelta:
            if not event.text:
                return b""
            return self._head + b'{"content":' + _dumps(event.text) + b"}" + _OPEN_END
        match event:
            case ToolCallDelta(partial_json=partial):
                if not self._tool or not partial:
                    return b""
                return self._head + self._tool + _dumps(partial) + b"}}]}" + _OPEN_END
            case ThinkingDelta(text=text):
                if not text:
                    return b""
                return self._head + b'{"reasoning_content":' + _dumps(text) + b"}" + _OPEN_END
            case ToolCallStart(id=tool_id, name=name):
                k = self._tools
                self._tools += 1
                self._tool = b'{"tool_calls":[{"index":%d,"function":{"arguments":' % k
                call = {
                    "index": k,
                    "id": tool_id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                return self._head + b'{"tool_calls":[' + _dumps(call) + b"]}" + _OPEN_END
            case ToolCallStop():
                self._tool = b""
            case Finish():
                reason = FINISH_REASONS[event.stop_reason].encode()
                out = self._head + b'{},"finish_reason":"' + reason + b'"}]}\n\n'
                if self._include_usage:
                    out += self._usage_head + _dumps(_usage(event)) + b"}\n\n"
                return out + _DONE
        return b""  # ThinkingStop, UsageUpdate: nothing to draw


class ChatAggregator:
    """The non-stream ``chat.completion`` body built from the same events."""

    __slots__ = ("_calls", "_completion_id", "_created", "_finish", "_model", "_reasoning", "_text")

    def __init__(self, model: str, completion_id: str, created: int) -> None:
        self._model = model
        self._completion_id = completion_id
        self._created = created
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._finish: Finish | None = None

    def feed(self, event: OutEvent) -> None:
        match event:
            case TextDelta(text=text):
                self._text.append(text)
            case ThinkingDelta(text=text):
                self._reasoning.append(text)
            case ToolCallStart(id=tool_id, name=name):
                function = {"name": name, "arguments": "{}"}
                self._calls.append({"id": tool_id, "type": "function", "function": function})
            case ToolCallStop(input=data):
                if self._calls:
                    self._calls[-1]["function"]["arguments"] = _dumps(data).decode()
            case Finish():
                self._finish = event

    def feed_all(self, events: list[OutEvent]) -> None:
        for event in events:
            self.feed(event)

    def body(self) -> dict[str, Any]:
        """The response body; call after ``Finish`` was fed."""
        finish = self._finish
        if finish is None:
            raise RuntimeError("ChatAggregator.body() before Finish")
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self._text) or None}
        reasoning = "".join(self._reasoning)
        if reasoning:
            message["reasoning_content"] = reasoning
        if self._calls:
            message["tool_calls"] = self._calls
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": FINISH_REASONS[finish.stop_reason],
        }
        return {
            "id": self._completion_id,
            "object": "chat.completion",
            "created": self._created,
            "model": self._model,
            "choices": [choice],
            "usage": _usage(finish),
        }

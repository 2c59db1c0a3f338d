"""Render output events as OpenAI Chat Completions chunks or a body (spec data §8.4).

Every chunk shares one id, ``created`` and model; the bytes up to ``"delta":`` are built once.
Tool calls stream incrementally (AC, K2): the first chunk of call ``k`` carries its id, type
and name with ``arguments:""``, later ones only argument fragments. Thinking goes to
``reasoning_content`` (JW, AC). ``finish_reason`` is ``stop`` (also for a stop sequence),
``tool_calls`` or ``length`` (max_tokens and a full context window); never
``content_filter``. Usage goes in a separate last chunk with ``"choices":[]``, and only
when the client set ``stream_options.include_usage`` (the strict form; JW always appends it).

Calls of freeform (``custom``) tools are drawn as OpenAI does, ``{"type":"custom",
"custom":{"name","input"}}`` with the raw input: the model answered ``{"input": "..."}``
(see :func:`~kirogate.convert.openai_fields.custom_tool_schema`), so a stream holds the
fragments back and sends the unwrapped input in one delta when the call ends. A request
that offered legacy ``functions`` gets ``function_call`` (``finish_reason``
``"function_call"``) for its first call; further calls are dropped, since that API has
room for one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

import orjson

from kirogate.convert.ir import (
    NO_CACHE,
    CacheUsage,
    Conversation,
    Finish,
    OutEvent,
    StopReason,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
)
from kirogate.convert.openai_fields import LEGACY_FUNCTIONS, custom_tool_input
from kirogate.convert.render import StreamRenderer
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
_TEXT_END: Final = b"}" + _OPEN_END


def _usage(finish: Finish, cache: CacheUsage = NO_CACHE) -> dict[str, Any]:
    return {
        "prompt_tokens": finish.input_tokens,
        "completion_tokens": finish.output_tokens,
        "total_tokens": finish.input_tokens + finish.output_tokens,
        # 0 unless estimated (cache.estimate); a share of prompt_tokens, as OpenAI counts it
        "prompt_tokens_details": {"cached_tokens": max(0, min(cache.read, finish.input_tokens))},
        "completion_tokens_details": {"reasoning_tokens": finish.reasoning_tokens},
    }


def error_chunk(exc: KirogateError) -> bytes:
    """A last ``data:`` line with an OpenAI error object, then ``[DONE]``."""
    error = {"message": exc.message, "type": exc.openai_type, "code": exc.openai_code}
    return b"data: " + _dumps({"error": error}) + b"\n\n" + _DONE


def _finish_reason(stop_reason: StopReason, legacy: bool) -> str:
    reason = FINISH_REASONS[stop_reason]
    return "function_call" if legacy and reason == "tool_calls" else reason


def _style(conv: Conversation) -> tuple[frozenset[str], bool]:
    """The custom tool names and the legacy-functions flag a Conversation asks for."""
    custom = frozenset(tool.name for tool in conv.tools if tool.kind == "custom")
    return custom, bool(conv.metadata.get(LEGACY_FUNCTIONS))


class ChatStreamRenderer(StreamRenderer):
    """``chat.completion.chunk`` SSE bytes: ``start()``, then ``feed()`` per event.

    ``custom_tools`` names the freeform tools, whose calls are drawn as ``type: custom``;
    ``legacy_functions`` draws the first call as ``function_call`` (later ones are dropped:
    the legacy API has room for one).
    """

    __slots__ = (
        "_cache",
        "_calls",
        "_custom",
        "_custom_open",
        "_head",
        "_include_usage",
        "_legacy",
        "_sent",
        "_text_head",
        "_tool",
        "_tool_end",
        "_usage_head",
    )

    def __init__(
        self,
        model: str,
        completion_id: str,
        created: int,
        include_usage: bool,
        *,
        custom_tools: Collection[str] = (),
        legacy_functions: bool = False,
        cache: CacheUsage = NO_CACHE,
    ) -> None:
        self._cache = cache
        common = (
            b'data: {"id":'
            + _dumps(completion_id)
            + b',"object":"chat.completion.chunk","created":'
            + b"%d" % created
            + b',"model":'
            + _dumps(model)
        )
        self._head = common + b',"choices":[{"index":0,"delta":'
        self._text_head = self._head + b'{"content":'
        self._usage_head = common + b',"choices":[],"usage":'
        self._include_usage = include_usage
        self._legacy = legacy_functions
        self._custom = frozenset() if legacy_functions else frozenset(custom_tools)
        self._calls = 0  # calls started so far
        self._tool = b""  # the delta up to the arguments fragment of the open call ...
        self._tool_end = b""  # ... and what closes it
        self._custom_open = -1  # index of the open custom call
        self._sent = False  # whether the open call has streamed any arguments

    @classmethod
    def for_conversation(
        cls, conv: Conversation, completion_id: str, created: int, cache: CacheUsage = NO_CACHE
    ) -> ChatStreamRenderer:
        """A renderer drawing tool calls the way ``conv``'s request asked for them."""
        custom, legacy = _style(conv)
        include_usage = bool(conv.metadata.get("include_usage"))
        return cls(
            conv.model,
            completion_id,
            created,
            include_usage,
            custom_tools=custom,
            legacy_functions=legacy,
            cache=cache,
        )

    def start(self) -> bytes:
        return self._head + b'{"role":"assistant","content":""}' + _OPEN_END

    def error(self, exc: KirogateError) -> bytes:
        return error_chunk(exc)

    def render_text(self, text: str) -> bytes:
        """``render([TextDelta(text)])`` without the event objects (the streaming hot path)."""
        if not text:
            return b""
        return self._text_head + _dumps(text) + _TEXT_END

    def feed(self, event: OutEvent) -> bytes:
        if type(event) is TextDelta:
            if not event.text:
                return b""
            return self._text_head + _dumps(event.text) + _TEXT_END
        match event:
            case ToolCallDelta(partial_json=partial):
                if not self._tool or not partial:
                    return b""
                self._sent = True
                return self._head + self._tool + _dumps(partial) + self._tool_end + _OPEN_END
            case ThinkingDelta(text=text):
                if not text:
                    return b""
                return self._head + b'{"reasoning_content":' + _dumps(text) + b"}" + _OPEN_END
            case ToolCallStart(id=tool_id, name=name):
                return self._start_call(tool_id, name)
            case ToolCallStop(input=data):
                return self._stop_call(data)
            case Finish():
                reason = _finish_reason(event.stop_reason, self._legacy).encode()
                out = self._head + b'{},"finish_reason":"' + reason + b'"}]}\n\n'
                if self._include_usage:
                    out += self._usage_head + _dumps(_usage(event, self._cache)) + b"}\n\n"
                return out + _DONE
        return b""  # ThinkingStop, UsageUpdate: nothing to draw

    def _start_call(self, tool_id: str, name: str) -> bytes:
        k = self._calls
        self._calls += 1
        self._tool = b""
        self._sent = False
        if self._legacy:
            if k > 0:
                return b""
            self._tool, self._tool_end = b'{"function_call":{"arguments":', b"}}"
            legacy = {"name": name, "arguments": ""}
            return self._head + b'{"function_call":' + _dumps(legacy) + b"}" + _OPEN_END
        call: dict[str, Any]
        if name in self._custom:
            self._custom_open = k
            call = {
                "index": k,
                "id": tool_id,
                "type": "custom",
                "custom": {"name": name, "input": ""},
            }
        else:
            self._tool = b'{"tool_calls":[{"index":%d,"function":{"arguments":' % k
            self._tool_end = b"}}]}"
            call = {
                "index": k,
                "id": tool_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
        return self._head + b'{"tool_calls":[' + _dumps(call) + b"]}" + _OPEN_END

    def _stop_call(self, data: dict[str, Any]) -> bytes:
        tool, self._tool = self._tool, b""
        k, self._custom_open = self._custom_open, -1
        if tool and not self._sent:
            # No fragment came (an argument-less call): send the arguments, never "".
            return self._head + tool + _dumps(_dumps(data).decode()) + self._tool_end + _OPEN_END
        value = custom_tool_input(data) if k >= 0 else ""
        if not value:
            return b""
        # The model's {"input": ...} wrapper was held back; the raw input goes at once.
        call = {"index": k, "custom": {"input": value}}
        return self._head + b'{"tool_calls":[' + _dumps(call) + b"]}" + _OPEN_END


class ChatAggregator:
    """The non-stream ``chat.completion`` body built from the same events."""

    __slots__ = (
        "_cache",
        "_calls",
        "_completion_id",
        "_created",
        "_custom",
        "_finish",
        "_legacy",
        "_model",
        "_reasoning",
        "_text",
    )

    def __init__(
        self,
        model: str,
        completion_id: str,
        created: int,
        *,
        custom_tools: Collection[str] = (),
        legacy_functions: bool = False,
        cache: CacheUsage = NO_CACHE,
    ) -> None:
        self._cache = cache
        self._model = model
        self._completion_id = completion_id
        self._created = created
        self._legacy = legacy_functions
        self._custom = frozenset() if legacy_functions else frozenset(custom_tools)
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._finish: Finish | None = None

    @classmethod
    def for_conversation(
        cls, conv: Conversation, completion_id: str, created: int, cache: CacheUsage = NO_CACHE
    ) -> ChatAggregator:
        """An aggregator drawing tool calls the way ``conv``'s request asked for them."""
        custom, legacy = _style(conv)
        return cls(
            conv.model,
            completion_id,
            created,
            custom_tools=custom,
            legacy_functions=legacy,
            cache=cache,
        )

    def feed(self, event: OutEvent) -> None:
        match event:
            case TextDelta(text=text):
                self._text.append(text)
            case ThinkingDelta(text=text):
                self._reasoning.append(text)
            case ToolCallStart(id=tool_id, name=name):
                if name in self._custom:
                    custom = {"name": name, "input": ""}
                    self._calls.append({"id": tool_id, "type": "custom", "custom": custom})
                else:
                    function = {"name": name, "arguments": "{}"}
                    self._calls.append({"id": tool_id, "type": "function", "function": function})
            case ToolCallStop(input=data, truncated=truncated):
                if not self._calls:
                    return
                if truncated:  # cut off: no call to run (finish_reason "length")
                    del self._calls[-1]
                    return
                call = self._calls[-1]
                if call["type"] == "custom":
                    call["custom"]["input"] = custom_tool_input(data)
                else:
                    call["function"]["arguments"] = _dumps(data).decode()
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
        if self._calls and self._legacy:
            message["function_call"] = self._calls[0]["function"]  # the legacy API has one
        elif self._calls:
            message["tool_calls"] = self._calls
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": _finish_reason(finish.stop_reason, self._legacy),
        }
        return {
            "id": self._completion_id,
            "object": "chat.completion",
            "created": self._created,
            "model": self._model,
            "choices": [choice],
            "usage": _usage(finish, self._cache),
        }

"""Render output events as Anthropic Messages SSE or a non-stream body (spec data §8.1, §8.2).

Per delta the stream renderer does one ``orjson.dumps`` of the text and concatenates it with
a byte prefix built when the block opened. Choices, where peers differ:

- Content blocks open lazily, also with thinking off (RS opens an empty text block at once):
  a response that starts with a tool call then has ``tool_use`` at index 0, as the real API
  does. A response with no content at all still gets one empty text block, so ``content`` is
  never empty (RS behaviour; clients index ``content[0]``).
- Thinking blocks start with ``"signature":""`` (the real API's shape; the SDK type requires
  the field). They end with an empty ``thinking_delta`` (RS), then a ``signature_delta`` when
  the upstream sent a signature. With ``thinking_enabled`` false, thinking is not rendered:
  a client that did not ask for it must not get thinking blocks.
- Usage carries ``cache_creation_input_tokens`` and ``cache_read_input_tokens`` as 0, unless
  the renderer is given an estimate (``cache.estimate``, :mod:`.cache_estimate`); then
  ``input_tokens`` is the rest, as Anthropic counts it (input + creation + read = prompt).
  It carries ``server_tool_use.web_search_requests`` when the gateway ran web searches
  (``blocks``).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from kirogate.convert.ir import (
    NO_CACHE,
    CacheUsage,
    Finish,
    OutEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingStop,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
)
from kirogate.convert.render import StreamRenderer
from kirogate.errors import KirogateError

_dumps = orjson.dumps

_START: Final = b'event: content_block_start\ndata: {"type":"content_block_start","index":'
_DELTA: Final = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_STOP: Final = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":'
_TEXT_BLOCK: Final = b',"content_block":{"type":"text","text":""}}\n\n'
_THINKING_BLOCK: Final = b',"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n'
_TEXT_DELTA: Final = b',"delta":{"type":"text_delta","text":'
_THINKING_DELTA: Final = b',"delta":{"type":"thinking_delta","thinking":'
_JSON_DELTA: Final = b',"delta":{"type":"input_json_delta","partial_json":'
_SIGNATURE_DELTA: Final = b',"delta":{"type":"signature_delta","signature":'
_DELTA_END: Final = b"}}\n\n"
_MESSAGE_STOP: Final = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_PING: Final = b'event: ping\ndata: {"type": "ping"}\n\n'

_NONE: Final = 0
_TEXT: Final = 1
_THINKING: Final = 2
_TOOL: Final = 3


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + _dumps(data) + b"\n\n"


def _usage(input_tokens: int, output_tokens: int, cache: CacheUsage = NO_CACHE) -> dict[str, int]:
    read = min(cache.read, input_tokens)
    creation = min(cache.creation, input_tokens - read)
    return {
        "input_tokens": input_tokens - read - creation,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
    }


def _searches(blocks: list[dict[str, Any]]) -> int:
    """The web searches that ran among ``blocks`` (a result list, not an error)."""
    return sum(
        1
        for block in blocks
        if block.get("type") == "web_search_tool_result" and isinstance(block.get("content"), list)
    )


def _with_searches(usage: dict[str, Any], searches: int) -> dict[str, Any]:
    if searches:
        usage["server_tool_use"] = {"web_search_requests": searches, "web_fetch_requests": 0}
    return usage


def error_event(exc: KirogateError) -> bytes:
    """An SSE ``error`` event, for failures after ``message_start`` was sent."""
    body = {"type": "error", "error": {"type": exc.anthropic_type, "message": exc.message}}
    return _event(b"error", body)


class AnthropicStreamRenderer(StreamRenderer):
    """Anthropic SSE bytes for one message: ``start()``, ``feed()`` per event, ``ping()``."""

    __slots__ = (
        "_cache",
        "_index",
        "_input_tokens",
        "_kind",
        "_message_id",
        "_model",
        "_prefix",
        "_searches",
        "_thinking",
    )

    def __init__(
        self,
        model: str,
        message_id: str,
        input_tokens: int,
        thinking_enabled: bool,
        cache: CacheUsage = NO_CACHE,
    ) -> None:
        self._cache = cache
        self._model = model
        self._message_id = message_id
        self._input_tokens = input_tokens
        self._thinking = thinking_enabled
        self._kind = _NONE  # the kind of the open block
        self._index = -1  # the open (or last) block's index
        self._prefix = b""  # the open block's delta event up to its payload
        self._searches = 0  # web searches the gateway ran (see ``blocks``)

    def start(self, input_tokens: int | None = None) -> bytes:
        """``message_start``; ``input_tokens`` overrides the constructor's estimate."""
        tokens = self._input_tokens if input_tokens is None else input_tokens
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self._model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(tokens, 1, self._cache),
        }
        return _event(b"message_start", {"type": "message_start", "message": message})

    def ping(self) -> bytes:
        return _PING

    def error(self, exc: KirogateError) -> bytes:
        return error_event(exc)

    def blocks(self, blocks: list[dict[str, Any]]) -> bytes:
        """Complete content blocks (a served web search's ``server_tool_use`` and result)."""
        self._searches += _searches(blocks)
        out = [self._close()]
        for block in blocks:
            self._index += 1
            start = {"type": "content_block_start", "index": self._index, "content_block": block}
            out.append(_event(b"content_block_start", start))
            out.append(_STOP + self._idx() + b"}\n\n")
        return b"".join(out)

    def render_text(self, text: str) -> bytes:
        """``render([TextDelta(text)])`` without the event objects (the streaming hot path)."""
        if self._kind == _TEXT and text:
            return self._prefix + _dumps(text) + _DELTA_END
        return self.feed(TextDelta(text))

    def feed(self, event: OutEvent) -> bytes:
        if type(event) is TextDelta:
            if not event.text:
                return b""
            if self._kind == _TEXT:
                return self._prefix + _dumps(event.text) + _DELTA_END
            head = self._open(_TEXT, _TEXT_BLOCK, _TEXT_DELTA)
            return head + self._prefix + _dumps(event.text) + _DELTA_END
        match event:
            case ToolCallDelta(partial_json=partial):
                if self._kind != _TOOL or not partial:
                    return b""
                return self._prefix + _dumps(partial) + _DELTA_END
            case ThinkingDelta(text=text):
                if not self._thinking:
                    return b""
                head = self._open_thinking()
                if not text:
                    return head
                return head + self._prefix + _dumps(text) + _DELTA_END
            case ThinkingStop(signature=signature):
                if not self._thinking:
                    return b""
                out = self._open_thinking() + self._prefix + b'""' + _DELTA_END
                if signature:
                    sig = _DELTA + self._idx() + _SIGNATURE_DELTA + _dumps(signature)
                    out += sig + _DELTA_END
                return out + self._close()
            case ToolCallStart(id=tool_id, name=name):
                block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
                tail = b',"content_block":' + _dumps(block) + b"}\n\n"
                return self._open(_TOOL, tail, _JSON_DELTA)
            case ToolCallStop():
                return self._close() if self._kind == _TOOL else b""
            case Finish():
                return self._finish(event)
        return b""  # UsageUpdate: the final numbers arrive with Finish

    def _idx(self) -> bytes:
        return b"%d" % self._index

    def _open(self, kind: int, block_tail: bytes, delta_head: bytes) -> bytes:
        head = self._close()
        self._kind = kind
        self._index += 1
        idx = self._idx()
        self._prefix = _DELTA + idx + delta_head
        return head + _START + idx + block_tail

    def _open_thinking(self) -> bytes:
        if self._kind == _THINKING:
            return b""
        return self._open(_THINKING, _THINKING_BLOCK, _THINKING_DELTA)

    def _close(self) -> bytes:
        if self._kind == _NONE:
            return b""
        self._kind = _NONE
        return _STOP + self._idx() + b"}\n\n"

    def _finish(self, event: Finish) -> bytes:
        out = self._close()
        if self._index < 0:  # nothing was said: still send one (empty) text block
            out += self._open(_TEXT, _TEXT_BLOCK, _TEXT_DELTA) + self._close()
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence},
            "usage": _with_searches(
                _usage(event.input_tokens, event.output_tokens, self._cache), self._searches
            ),
        }
        return out + _event(b"message_delta", delta) + _MESSAGE_STOP


class BufferedAnthropicRenderer(StreamRenderer):
    """RS's ``/cc/v1/messages`` mode (§8.2): hold every event, send all of them at ``Finish``.

    ``message_start`` then carries the contextUsage-derived input tokens, which Claude Code
    uses for its context meter. Only ``ping`` is sent while waiting. An error discards the
    held events and is sent alone.
    """

    __slots__ = ("_inner", "_parts")

    def __init__(
        self,
        model: str,
        message_id: str,
        input_tokens: int,
        thinking_enabled: bool,
        cache: CacheUsage = NO_CACHE,
    ) -> None:
        self._inner = AnthropicStreamRenderer(
            model, message_id, input_tokens, thinking_enabled, cache
        )
        self._parts: list[bytes] = []

    def start(self) -> bytes:
        return b""

    def ping(self) -> bytes:
        return _PING

    def error(self, exc: KirogateError) -> bytes:
        self._parts.clear()
        return error_event(exc)

    def blocks(self, blocks: list[dict[str, Any]]) -> bytes:
        self._parts.append(self._inner.blocks(blocks))
        return b""

    def feed(self, event: OutEvent) -> bytes:
        data = self._inner.feed(event)
        if type(event) is not Finish:
            if data:
                self._parts.append(data)
            return b""
        self._parts.append(data)
        body = self._inner.start(event.input_tokens) + b"".join(self._parts)
        self._parts.clear()
        return body


class AnthropicAggregator:
    """The non-stream Messages body built from the same events (§8.1 item 6)."""

    __slots__ = (
        "_cache",
        "_content",
        "_finish",
        "_message_id",
        "_model",
        "_open",
        "_parts",
        "_searches",
        "_thinking",
    )

    def __init__(
        self,
        model: str,
        message_id: str,
        thinking_enabled: bool = True,
        cache: CacheUsage = NO_CACHE,
    ) -> None:
        self._cache = cache
        self._model = model
        self._message_id = message_id
        self._thinking = thinking_enabled
        self._content: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None  # the text or thinking block being filled
        self._parts: list[str] = []
        self._finish: Finish | None = None
        self._searches = 0

    def feed(self, event: OutEvent) -> None:
        match event:
            case TextDelta(text=text):
                if text:
                    self._block("text").append(text)
            case ThinkingDelta(text=text):
                if self._thinking:
                    self._block("thinking").append(text)
            case ThinkingStop(signature=signature):
                if self._thinking:
                    self._block("thinking")
                    self._content[-1]["signature"] = signature or ""
                    self._seal()
            case ToolCallStart(id=tool_id, name=name):
                self._seal()
                self._content.append({"type": "tool_use", "id": tool_id, "name": name, "input": {}})
            case ToolCallStop(input=data, truncated=truncated):
                if self._content and self._content[-1]["type"] == "tool_use":
                    if truncated:  # cut off: no call to run (the answer stops at max_tokens)
                        del self._content[-1]
                    else:
                        self._content[-1]["input"] = data
            case Finish():
                self._seal()
                self._finish = event

    def feed_all(self, events: list[OutEvent]) -> None:
        for event in events:
            self.feed(event)

    def blocks(self, blocks: list[dict[str, Any]]) -> bytes:
        """Complete content blocks, as :meth:`AnthropicStreamRenderer.blocks` (returns b"")."""
        self._seal()
        self._content.extend(blocks)
        self._searches += _searches(blocks)
        return b""

    def _block(self, kind: str) -> list[str]:
        if self._open is None or self._open["type"] != kind:
            self._seal()
            block: dict[str, Any] = {"type": kind, kind: ""}
            if kind == "thinking":
                block["signature"] = ""
            self._content.append(block)
            self._open = block
        return self._parts

    def _seal(self) -> None:
        if self._open is not None:
            self._open[self._open["type"]] = "".join(self._parts)
            self._open = None
            self._parts = []

    def body(self) -> dict[str, Any]:
        """The response body; call after ``Finish`` was fed."""
        finish = self._finish
        if finish is None:
            raise RuntimeError("AnthropicAggregator.body() before Finish")
        content = self._content or [{"type": "text", "text": ""}]
        return {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": content,
            "stop_reason": finish.stop_reason,
            "stop_sequence": finish.stop_sequence,
            "usage": _with_searches(
                _usage(finish.input_tokens, finish.output_tokens, self._cache), self._searches
            ),
        }

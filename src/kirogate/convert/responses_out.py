"""Render output events as OpenAI Responses API stream events and a final response object.

Event names and fields follow the ``openai`` SDK's ``openai.types.responses`` models. One
response is: ``response.created``, ``response.in_progress``, then per output item
``response.output_item.added`` … ``response.output_item.done``, then
``response.completed`` (or ``response.incomplete`` when the output was cut, or
``response.failed`` on an error). Inside an item:

- message: ``content_part.added``, ``output_text.delta``…, ``output_text.done``,
  ``content_part.done``;
- reasoning (our thinking, shown as a summary): ``reasoning_summary_part.added``,
  ``reasoning_summary_text.delta``…, ``reasoning_summary_text.done``,
  ``reasoning_summary_part.done``;
- function_call: ``function_call_arguments.delta``…, ``function_call_arguments.done``;
- custom_tool_call: the model answered ``{"input": "..."}`` (see :mod:`.responses_in`), so
  the arguments are buffered and the unwrapped string is sent at the end as one
  ``custom_tool_call_input.delta`` and ``custom_tool_call_input.done``;
- web_search_call (a search the gateway ran, see :meth:`ResponsesStreamRenderer.web_search_call`):
  ``web_search_call.in_progress``, ``.searching``, ``.completed``.

A call of a namespaced function (``<namespace>__<name>``, see :mod:`.responses_in`) is
drawn with its own ``name`` and ``namespace``.

Each event is one ``orjson.dumps`` of a small dict; no pydantic per chunk.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection, Mapping
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
    UsageUpdate,
)
from kirogate.convert.openai_fields import custom_tool_input
from kirogate.convert.render import StreamRenderer
from kirogate.errors import KirogateError

_ECHO_DEFAULTS: Final[Mapping[str, Any]] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": None,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}
_INCOMPLETE: Final = frozenset({"max_tokens", "model_context_window_exceeded"})
_PREFIXES: Final = {
    "message": "msg_",
    "reasoning": "rs_",
    "function_call": "fc_",
    "custom_tool_call": "ctc_",
}


_dumps = orjson.dumps
# What _event draws for an output_text.delta, around the sequence number and the text.
_TEXT_DELTA_HEAD: Final = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
    b'"sequence_number":'
)
_TEXT_DELTA_END: Final = b',"logprobs":[]}\n\n'


def _hex_id() -> str:
    return secrets.token_hex(24)


def _unix_now() -> int:
    return int(time.time())


def response_echo(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields a response object repeats, with OpenAI's defaults for absent ones."""
    echo = {key: body.get(key, default) for key, default in _ECHO_DEFAULTS.items()}
    for key in ("metadata", "reasoning", "text", "tool_choice", "tools", "truncation"):
        if echo[key] is None:
            echo[key] = _ECHO_DEFAULTS[key]
    return echo


class _Item:
    """The output item being streamed."""

    __slots__ = ("call_id", "chunks", "id", "index", "kind", "name")

    def __init__(self, kind: str, item_id: str, index: int, call_id: str = "", name: str = ""):
        self.kind = kind
        self.id = item_id
        self.index = index
        self.call_id = call_id
        self.name = name
        self.chunks: list[str] = []


class ResponsesStreamRenderer(StreamRenderer):
    """One Responses API response, drawn from output events.

    Call :meth:`start` once, :meth:`feed` each event (the last is a Finish), or
    :meth:`error` if the stream fails; :meth:`final_response` is the response object at any
    point (for ``stream: false`` and for storing under ``response_id``). ``custom_tools``
    names the freeform tools; ``echo`` is :func:`response_echo` of the request.
    """

    def __init__(
        self,
        model: str,
        response_id: str,
        created_at: int,
        *,
        custom_tools: Collection[str] = (),
        namespaces: Mapping[str, tuple[str, str]] | None = None,
        echo: Mapping[str, Any] | None = None,
        new_id: Callable[[], str] = _hex_id,
        now: Callable[[], int] = _unix_now,
        cache: CacheUsage = NO_CACHE,
    ) -> None:
        self._cache = cache  # 0 unless estimated (cache.estimate)
        self._model = model
        self._id = response_id
        self._created_at = created_at
        self._custom = frozenset(custom_tools)
        self._namespaces = dict(namespaces or {})
        self._echo = dict(echo) if echo is not None else response_echo({})
        self._new_id = new_id
        self._now = now
        self._seq = 0
        self._started = False
        self._closed = False
        self._status = "in_progress"
        self._output: list[dict[str, Any]] = []
        self._item: _Item | None = None
        # The text delta event of the open message item up to its text (see render_text).
        self._text_item: _Item | None = None
        self._text_mid = b""
        self._usage: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        self._incomplete: dict[str, Any] | None = None
        self._completed_at: int | None = None

    # ------------------------------------------------------------ public

    def start(self) -> bytes:
        self._started = True
        snapshot = self.final_response()
        return self._event("response.created", {"response": snapshot}) + self._event(
            "response.in_progress", {"response": snapshot}
        )

    def render_text(self, text: str) -> bytes:
        """``render([TextDelta(text)])`` without the event objects (the streaming hot path):
        into the open message item, the delta event from its prefix, made once per item."""
        item = self._item
        if text and item is not None and item is self._text_item and not self._closed:
            item.chunks.append(text)
            seq = self._seq
            self._seq = seq + 1
            return _TEXT_DELTA_HEAD + b"%d" % seq + self._text_mid + _dumps(text) + _TEXT_DELTA_END
        return self.feed(TextDelta(text))

    def feed(self, event: OutEvent) -> bytes:
        if self._closed:
            return b""
        match event:
            case TextDelta(text=text):
                return self._text(text) if text else b""
            case ThinkingDelta(text=text):
                return self._thinking(text) if text else b""
            case ThinkingStop():
                item = self._item
                return self._close() if item is not None and item.kind == "reasoning" else b""
            case ToolCallStart(id=call_id, name=name):
                return self._tool_start(call_id, name)
            case ToolCallDelta(partial_json=chunk):
                return self._tool_delta(chunk)
            case ToolCallStop():
                item = self._item
                if item is None or item.kind not in ("function_call", "custom_tool_call"):
                    return b""
                if item.call_id != event.id:
                    return b""
                return self._close(stop=event)
            case UsageUpdate():
                return b""  # the Finish carries the final count
            case _:  # Finish
                return self._finish(event)

    def web_search_call(self, query: str, *, item_id: str | None = None) -> bytes:
        """A completed ``web_search_call`` output item (a search the gateway served)."""
        if self._closed:
            return b""
        head = self._close() if self._item is not None else b""
        index = len(self._output)
        item_id = item_id or "ws_" + self._new_id()
        body = {
            "id": item_id,
            "type": "web_search_call",
            "status": "in_progress",
            "action": {"type": "search", "query": query},
        }
        out = [
            head,
            self._event("response.output_item.added", {"output_index": index, "item": body}),
        ]
        for stage in ("in_progress", "searching", "completed"):
            fields = {"output_index": index, "item_id": item_id}
            out.append(self._event(f"response.web_search_call.{stage}", fields))
        body = {**body, "status": "completed"}
        self._output.append(body)
        out.append(self._event("response.output_item.done", {"output_index": index, "item": body}))
        return b"".join(out)

    def error(self, exc: KirogateError) -> bytes:
        """The stream's failure: ``response.failed`` once started, else a bare ``error`` event."""
        if self._closed:
            return b""
        self._closed = True
        code = _error_code(exc)
        message = _error_message(exc)
        param = getattr(exc, "param", None)
        if not self._started:
            return self._event("error", {"code": code, "message": message, "param": param})
        if self._item is not None:
            self._output.append(self._item_body(self._item, "incomplete"))
            self._item = None
        self._status = "failed"
        self._error = {"code": code, "message": message}
        return self._event("response.failed", {"response": self.final_response()})

    def final_response(self) -> dict[str, Any]:
        output = list(self._output)
        if self._item is not None:
            output.append(self._item_body(self._item, "in_progress"))
        return {
            "id": self._id,
            "object": "response",
            "created_at": self._created_at,
            "status": self._status,
            "background": False,
            "completed_at": self._completed_at,
            "error": self._error,
            "incomplete_details": self._incomplete,
            "model": self._model,
            "output": output,
            **self._echo,
            "usage": self._usage,
        }

    # ------------------------------------------------------------ items

    def _open(self, kind: str, call_id: str = "", name: str = "") -> tuple[_Item, bytes]:
        head = self._close() if self._item is not None else b""
        item = _Item(kind, _PREFIXES[kind] + self._new_id(), len(self._output), call_id, name)
        self._item = item
        added = self._event(
            "response.output_item.added",
            {"output_index": item.index, "item": self._item_body(item, "in_progress")},
        )
        return item, head + added

    def _text(self, text: str) -> bytes:
        item = self._item
        head = b""
        if item is None or item.kind != "message":
            item, head = self._open("message")
            head += self._event(
                "response.content_part.added",
                {
                    "item_id": item.id,
                    "output_index": item.index,
                    "content_index": 0,
                    "part": _output_text(""),
                },
            )
        if item is not self._text_item:
            self._text_item = item
            self._text_mid = (
                b',"item_id":'
                + _dumps(item.id)
                + b',"output_index":%d,"content_index":0,"delta":' % item.index
            )
        item.chunks.append(text)
        return head + self._event(
            "response.output_text.delta",
            {
                "item_id": item.id,
                "output_index": item.index,
                "content_index": 0,
                "delta": text,
                "logprobs": [],
            },
        )

    def _thinking(self, text: str) -> bytes:
        item = self._item
        head = b""
        if item is None or item.kind != "reasoning":
            item, head = self._open("reasoning")
            head += self._event(
                "response.reasoning_summary_part.added",
                {
                    "item_id": item.id,
                    "output_index": item.index,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                },
            )
        item.chunks.append(text)
        return head + self._event(
            "response.reasoning_summary_text.delta",
            {"item_id": item.id, "output_index": item.index, "summary_index": 0, "delta": text},
        )

    def _tool_start(self, call_id: str, name: str) -> bytes:
        kind = "custom_tool_call" if name in self._custom else "function_call"
        return self._open(kind, call_id, name)[1]

    def _tool_delta(self, chunk: str) -> bytes:
        item = self._item
        if item is None or item.kind not in ("function_call", "custom_tool_call") or not chunk:
            return b""
        item.chunks.append(chunk)
        if item.kind == "custom_tool_call":
            return b""  # the JSON wrapper must not reach the client; sent unwrapped at stop
        return self._event(
            "response.function_call_arguments.delta",
            {"item_id": item.id, "output_index": item.index, "delta": chunk},
        )

    def _close(self, *, stop: ToolCallStop | None = None, status: str = "completed") -> bytes:
        item = self._item
        assert item is not None
        self._item = None
        where = {"item_id": item.id, "output_index": item.index}
        out = b""
        if item.kind == "message":
            text = "".join(item.chunks)
            item.chunks = [text]
            out += self._event(
                "response.output_text.done",
                {**where, "content_index": 0, "text": text, "logprobs": []},
            )
            out += self._event(
                "response.content_part.done",
                {**where, "content_index": 0, "part": _output_text(text)},
            )
        elif item.kind == "reasoning":
            text = "".join(item.chunks)
            item.chunks = [text]
            part = {"type": "summary_text", "text": text}
            out += self._event(
                "response.reasoning_summary_text.done", {**where, "summary_index": 0, "text": text}
            )
            out += self._event(
                "response.reasoning_summary_part.done", {**where, "summary_index": 0, "part": part}
            )
        elif item.kind == "function_call":
            streamed = "".join(item.chunks)
            truncated = stop is not None and stop.truncated
            if stop is not None and not streamed:
                arguments = orjson.dumps(stop.input).decode()
            else:
                # A cut-off call keeps the model's own (incomplete) text, marked incomplete.
                arguments = streamed or "{}"
            if not streamed:
                out += self._event(
                    "response.function_call_arguments.delta", {**where, "delta": arguments}
                )
            item.chunks = [arguments]
            if truncated:
                status = "incomplete"
            out += self._event(
                "response.function_call_arguments.done", {**where, "arguments": arguments}
            )
        else:
            value = custom_tool_input(stop.input if stop is not None else None)
            item.chunks = [value]
            if value:
                out += self._event(
                    "response.custom_tool_call_input.delta", {**where, "delta": value}
                )
            out += self._event("response.custom_tool_call_input.done", {**where, "input": value})
        body = self._item_body(item, status)
        self._output.append(body)
        return out + self._event(
            "response.output_item.done", {"output_index": item.index, "item": body}
        )

    def _item_body(self, item: _Item, status: str) -> dict[str, Any]:
        text = "".join(item.chunks)
        if item.kind == "message":
            content = [_output_text(text)] if status != "in_progress" else []
            return {
                "id": item.id,
                "type": "message",
                "status": status,
                "role": "assistant",
                "content": content,
            }
        if item.kind == "reasoning":
            summary = [{"type": "summary_text", "text": text}] if status != "in_progress" else []
            return {"id": item.id, "type": "reasoning", "summary": summary}
        if item.kind == "function_call":
            body: dict[str, Any] = {
                "id": item.id,
                "type": "function_call",
                "status": status,
                "arguments": text if status != "in_progress" else "",
                "call_id": item.call_id,
                "name": item.name,
            }
            if item.name in self._namespaces:
                body["namespace"], body["name"] = self._namespaces[item.name]
            return body
        body = {
            "id": item.id,
            "type": "custom_tool_call",
            "call_id": item.call_id,
            "name": item.name,
            "input": text if status != "in_progress" else "",
        }
        if item.name in self._namespaces:
            body["namespace"], body["name"] = self._namespaces[item.name]
        return body

    # ------------------------------------------------------------ end

    def _finish(self, finish: Finish) -> bytes:
        incomplete = finish.stop_reason in _INCOMPLETE
        out = self._close(status="incomplete" if incomplete else "completed") if self._item else b""
        self._closed = True
        output_tokens = max(0, finish.output_tokens)
        self._usage = {
            "input_tokens": finish.input_tokens,
            "input_tokens_details": {
                "cached_tokens": max(0, min(self._cache.read, finish.input_tokens)),
                "cache_write_tokens": 0,
            },
            "output_tokens": output_tokens,
            "output_tokens_details": {
                "reasoning_tokens": min(output_tokens, finish.reasoning_tokens)
            },
            "total_tokens": finish.input_tokens + output_tokens,
        }
        if incomplete:
            # The only reason the Responses API has for a cut output; the context-window
            # stop also means "no room left to generate".
            self._status = "incomplete"
            self._incomplete = {"reason": "max_output_tokens"}
            return out + self._event("response.incomplete", {"response": self.final_response()})
        self._status = "completed"
        self._completed_at = self._now()
        return out + self._event("response.completed", {"response": self.final_response()})

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _error_code(exc: KirogateError) -> str:
    if exc.openai_code:
        return exc.openai_code
    if exc.status == 429:
        return "rate_limit_exceeded"
    return "server_error" if exc.status >= 500 else "invalid_prompt"


def _error_message(exc: KirogateError) -> str:
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        # Codex CLI reads the delay from this wording ("try again in 1.5s").
        sentence = exc.message.rstrip()
        if sentence and sentence[-1] not in ".!?":
            sentence += "."
        return f"{sentence} Please try again in {retry_after:g}s."
    return exc.message

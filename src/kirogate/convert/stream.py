"""Assemble decoded Kiro events into dialect-neutral output events (spec data §4, §5, §7.3/7.4).

:class:`StreamAssembler` is the one place that knows Kiro's stream quirks; the renderers in
``anthropic_out`` and ``openai_out`` only draw what it yields. Decisions where peers differ:

- Text goes through the ``<thinking>`` parser (only when thinking is enabled), then the stop
  sequence filter, then the optional ``max_tokens`` cut. Repeated identical text chunks are
  kept, as RS does: a legitimate repeat (``"\\n\\n"`` twice) is indistinguishable from the
  upstream's occasional duplicate, and dropping real text is worse (JW drops it).
- Tool fragments are passed on at once. A call ends at ``stop:true``, at a frame for another
  id, at text or reasoning, or at the end of the stream. Frames without an id (KQ's bare
  ``{"input":…}``) belong to the open call; frames for an already finished id are dropped
  (JW/AC dedupe). Arguments that are not a JSON object are never replaced by made-up ones
  (RS sends ``{}``, JW schema-satisfying fallbacks, and the client runs the tool with them):
  if they look cut off (§7.4) the call ends with ``ToolCallStop.truncated`` and the answer
  with ``max_tokens``, the upstream's output cap, so no client takes it for a call to run
  (the renderers leave it out of a non-streamed answer; the API layer remembers it and
  rewrites its later tool_result); otherwise the answer fails with
  :class:`~kirogate.errors.MalformedAnswer`.
- Stop reason, first match wins: ``stop_sequence`` (gateway), ``max_tokens`` (an upstream
  ``ContentLengthExceededException``, a cut-off tool call or the gateway cut), ``model_context_window_exceeded``
  (contextUsage ≥ 100 %), ``tool_use``, ``max_tokens`` for thinking without any text or tool
  call (RS; a ``" "`` text delta is added so the message has a text block, as RS does, since
  an assistant turn without text cannot be sent back upstream), else ``end_turn``.
- Any other exception or error frame raises :class:`UpstreamStreamException`; the relay loop
  (``service.answer.relay``) classifies it and the renderer draws the dialect's error event
  (RS ends the stream normally instead and hides the failure). A known event whose payload
  does not decode (:class:`~kirogate.protocol.events.MalformedEvent`) raises
  :class:`~kirogate.errors.MalformedAnswer` the same way; an unknown event type is ignored
  (the upstream may add kinds) with a DEBUG log line.
- ``usage.output_tokens`` is estimated at the end from running character counts
  (:class:`~kirogate.convert.stops.OutputEstimate`); input tokens come from the last
  contextUsageEvent (``int(pct * window / 100)``, RS), else the caller's estimate.
- Native reasoning (``reasoningContentEvent``) becomes thinking whether or not tag parsing is
  enabled; a signature closes the block. Redacted reasoning has no IR event and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

import orjson

from kirogate.convert.ir import (
    Finish,
    OutEvent,
    StopReason,
    TextDelta,
    ThinkingDelta,
    ThinkingStop,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
    UsageUpdate,
)
from kirogate.convert.stops import OutputEstimate, StopSequenceFilter
from kirogate.convert.thinking import ThinkingOut, ThinkingParser
from kirogate.errors import MalformedAnswer, UpstreamStreamException
from kirogate.protocol.events import (
    AssistantText,
    ContextUsage,
    KiroEvent,
    MalformedEvent,
    ReasoningSignature,
    ReasoningText,
    StreamException,
    ToolUseFragment,
    UnknownEvent,
)

log = logging.getLogger(__name__)

_OUTPUT_LIMIT: Final = "ContentLengthExceededException"
# A frozen dataclass's __init__ sets its field with object.__setattr__ from a Python frame;
# the plain-text path fills the slot directly (the same object at about half the cost).
_new_event = object.__new__
_set_text = TextDelta.__dict__["text"].__set__


def diagnose_truncation(raw: str) -> str | None:
    """Why unparsable tool arguments look cut off (§7.4), or None if they are just malformed.

    Counts unclosed braces and brackets outside strings and an unterminated string, which is
    JW's check made string-aware (a ``{`` inside file content does not count).
    """
    braces = brackets = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            braces += 1
        elif ch == "}":
            braces -= 1
        elif ch == "[":
            brackets += 1
        elif ch == "]":
            brackets -= 1
    issues = []
    if braces > 0:
        issues.append(f"missing {braces} closing brace(s)")
    if brackets > 0:
        issues.append(f"missing {brackets} closing bracket(s)")
    if in_string:
        issues.append("unterminated string")
    return ", ".join(issues) if issues else None


class StreamAssembler:
    """Turn one response's Kiro events into :data:`~kirogate.convert.ir.OutEvent` values.

    ``feed`` every decoded event in order, then call ``finish`` once; its last event is the
    only :class:`~kirogate.convert.ir.Finish`. ``feed`` raises
    :class:`~kirogate.errors.UpstreamStreamException` for a fatal exception frame. Once
    :attr:`done` is true (a stop sequence or ``max_tokens`` was reached) further events
    yield nothing and the caller should close the upstream.
    """

    __slots__ = (
        "_context_exceeded",
        "_context_tokens",
        "_cut",
        "_done",
        "_done_tools",
        "_input_estimate",
        "_max_tokens",
        "_native_open",
        "_output",
        "_output_limit",
        "_parser",
        "_plain",
        "_saw_text",
        "_saw_thinking",
        "_saw_tool",
        "_stops",
        "_thinking",
        "_tool_id",
        "_tool_name",
        "_tool_names",
        "_tool_parts",
        "_window",
    )
    # True when text is held back to the end (an output format): the streamer pings meanwhile.
    holds_text: ClassVar[bool] = False

    def __init__(
        self,
        *,
        thinking_enabled: bool,
        tool_names: Mapping[str, str],
        context_window: int,
        input_tokens_estimate: int,
        stop_sequences: Sequence[str] = (),
        max_tokens: int | None = None,
    ) -> None:
        self._parser = ThinkingParser() if thinking_enabled else None
        self._stops = StopSequenceFilter(stop_sequences) if any(stop_sequences) else None
        self._max_tokens = max_tokens
        # Text passes straight through unless tags, stop sequences or the limit need a look.
        self._plain = self._parser is None and self._stops is None
        self._tool_names = tool_names
        self._window = context_window
        self._input_estimate = input_tokens_estimate
        self._output = OutputEstimate()  # everything generated, thinking included
        self._thinking = OutputEstimate()
        self._context_tokens: int | None = None
        self._context_exceeded = False
        self._output_limit = False
        self._cut = False
        self._done = False
        self._native_open = False
        self._saw_text = self._saw_thinking = self._saw_tool = False
        self._tool_id: str | None = None
        self._tool_name = ""
        self._tool_parts: list[str] = []
        self._done_tools: set[str] = set()

    @property
    def done(self) -> bool:
        return self._done

    @property
    def usage_so_far(self) -> tuple[int, int]:
        """(input, output) tokens counted so far: the usage of an answer cut short."""
        context = self._context_tokens
        return (self._input_estimate if context is None else context), self._output.tokens

    @staticmethod
    def malformed(event: MalformedEvent) -> MalformedAnswer:
        """The error for a known event that does not decode (its problem names a field and a
        JSON type, never payload content)."""
        return MalformedAnswer(
            f"the upstream sent a {event.event_type} that does not decode: {event.problem}"
        )

    # ------------------------------------------------------------ events

    def feed(self, event: KiroEvent) -> list[OutEvent]:
        if type(event) is AssistantText:
            return self._text(event.content)
        if type(event) is ToolUseFragment:
            return self._tool(event)
        match event:
            case ReasoningText(text=text):
                return self._reasoning(text)
            case ReasoningSignature(signature=signature):
                return self._signature(signature)
            case ContextUsage(percentage=percentage):
                tokens = int(percentage * self._window / 100)
                self._context_tokens = tokens
                if percentage >= 100:
                    self._context_exceeded = True
                return [UsageUpdate(tokens)]
            case StreamException(exception_type=kind, message=message):
                if kind == _OUTPUT_LIMIT:
                    self._output_limit = True  # upstream's output cap: a normal max_tokens stop
                elif not self._done:
                    raise UpstreamStreamException(kind, message)
            case MalformedEvent():
                if not self._done:
                    raise self.malformed(event)
            case UnknownEvent(event_type=kind):
                log.debug("ignoring an upstream event of unknown type %r", kind)
        # Metering, followups, code references, web links, metadata, redacted reasoning and
        # unknown events carry nothing the client sees.
        return []

    def finish(self) -> list[OutEvent]:
        out: list[OutEvent] = []
        if not self._done:
            if self._tool_id is not None:
                self._close_tool(out)
            self._end_text_run(out)
        thinking_only = self._saw_thinking and not self._saw_text and not self._saw_tool
        if thinking_only:
            out.append(TextDelta(" "))
        stop_sequence = self._stops.matched if self._stops is not None else None
        reason: StopReason
        if stop_sequence is not None:
            reason = "stop_sequence"
        elif self._output_limit or self._cut:
            reason = "max_tokens"
        elif self._context_exceeded:
            reason = "model_context_window_exceeded"
        elif self._saw_tool:
            reason = "tool_use"
        elif thinking_only:
            reason = "max_tokens"
        else:
            reason = "end_turn"
        input_tokens = self._context_tokens
        out.append(
            Finish(
                stop_reason=reason,
                input_tokens=self._input_estimate if input_tokens is None else input_tokens,
                output_tokens=max(1, self._output.tokens),
                stop_sequence=stop_sequence,
                reasoning_tokens=self._thinking.tokens,
            )
        )
        return out

    # ------------------------------------------------------------ text

    def text_passes(self, content: str) -> bool:
        """Take a text chunk that goes out unchanged, without building events (the hot path).

        True when ``feed(AssistantText(content))`` would return exactly
        ``[TextDelta(content)]`` (no tag parsing, stop filter, open tool call or native
        reasoning, and within ``max_tokens``); the chunk is then counted as ``feed`` counts
        it. False, with nothing changed, otherwise: the caller then ``feed``s the event.
        """
        if (
            self._plain
            and content
            and not self._done
            and self._tool_id is None
            and not self._native_open
        ):
            limit = self._max_tokens
            output = self._output
            if limit is None:
                output.add(content)
            elif content.isascii():  # add_within's exact, cheap case, without its frame
                other = output.other + len(content)
                if -(-2 * output.cjk // 3) + -(-other // 4) > limit:
                    return False
                output.other = other
            elif not output.add_within(content, limit):
                return False
            self._saw_text = True
            return True
        return False

    def _text(self, content: str) -> list[OutEvent]:
        if self._done or not content:
            return []
        if self.text_passes(content):
            delta: TextDelta = _new_event(TextDelta)
            _set_text(delta, content)  # TextDelta(content) without __init__'s frame
            return [delta]
        out: list[OutEvent] = []
        if self._tool_id is not None:
            self._close_tool(out)
        if self._native_open:
            self._native_open = False
            out.append(ThinkingStop())
        if self._parser is None:
            self._emit_text(out, content)
        else:
            self._emit(out, self._parser.feed(content))
        return out

    def _emit(self, out: list[OutEvent], pieces: list[ThinkingOut]) -> None:
        """Route parser output through the stop filter and the token limit."""
        for piece in pieces:
            if self._done:
                return
            if type(piece) is TextDelta:
                self._emit_text(out, piece.text)
                continue
            self._flush_stops(out)
            if type(piece) is ThinkingDelta:
                self._emit_thinking(out, piece.text)
            else:
                self._saw_thinking = True
                out.append(piece)

    def _emit_text(self, out: list[OutEvent], text: str) -> None:
        stops = self._stops
        if stops is not None:
            text = stops.feed(text)
        self._put_text(out, text)
        if stops is not None and stops.matched is not None:
            self._done = True

    def _flush_stops(self, out: list[OutEvent]) -> None:
        if self._stops is not None:
            self._put_text(out, self._stops.flush())

    def _put_text(self, out: list[OutEvent], text: str) -> None:
        if not text or self._cut:
            return
        limit = self._max_tokens
        if limit is not None and not self._output.fits(text, limit):
            text = text[: self._output.room(text, limit)]
            self._cut = self._done = True
        self._output.add(text)
        if text:
            self._saw_text = True
            out.append(TextDelta(text))

    def _emit_thinking(self, out: list[OutEvent], text: str) -> None:
        self._saw_thinking = True
        limit = self._max_tokens
        if limit is not None and not self._output.fits(text, limit):
            text = text[: self._output.room(text, limit)]
            self._cut = self._done = True
        self._output.add(text)
        self._thinking.add(text)
        if text:
            out.append(ThinkingDelta(text))
        if self._cut:
            self._native_open = False
            out.append(ThinkingStop())

    def _end_text_run(self, out: list[OutEvent]) -> None:
        """Release everything held back before a tool call, native reasoning or the end."""
        if self._native_open:
            self._native_open = False
            out.append(ThinkingStop())
        if self._parser is not None:
            self._emit(out, self._parser.flush())
        if not self._done:
            self._flush_stops(out)

    # ------------------------------------------------------------ native reasoning

    def _reasoning(self, text: str) -> list[OutEvent]:
        if self._done or not text:
            return []
        out: list[OutEvent] = []
        if not self._native_open:
            if self._tool_id is not None:
                self._close_tool(out)
            self._end_text_run(out)
            if self._done:
                return out
            self._native_open = True
        self._emit_thinking(out, text)
        return out

    def _signature(self, signature: str) -> list[OutEvent]:
        if self._done:
            return []
        out: list[OutEvent] = []
        if not self._native_open:
            # A signature alone is a block whose text was omitted (display "omitted").
            if self._tool_id is not None:
                self._close_tool(out)
            self._end_text_run(out)
            if self._done:
                return out
        self._native_open = False
        self._saw_thinking = True
        out.append(ThinkingStop(signature or None))
        return out

    # ------------------------------------------------------------ tool calls

    def _tool(self, frag: ToolUseFragment) -> list[OutEvent]:
        if self._done:
            return []
        tool_id = frag.tool_use_id or self._tool_id
        if not tool_id or tool_id in self._done_tools:
            return []
        out: list[OutEvent] = []
        if tool_id != self._tool_id:
            if self._tool_id is not None:
                self._close_tool(out)
            self._end_text_run(out)
            if self._done:
                return out
            self._tool_id = tool_id
            self._tool_name = self._tool_names.get(frag.name, frag.name)
            self._tool_parts = []
            self._saw_tool = True
            out.append(ToolCallStart(tool_id, self._tool_name))
        if frag.input:
            self._tool_parts.append(frag.input)
            self._output.add(frag.input)
            out.append(ToolCallDelta(frag.input))
        if frag.stop:
            self._close_tool(out)
        return out

    def _close_tool(self, out: list[OutEvent]) -> None:
        tool_id = self._tool_id
        assert tool_id is not None
        self._tool_id = None
        self._done_tools.add(tool_id)
        raw = "".join(self._tool_parts)
        self._tool_parts = []
        if not raw.strip():
            out.append(ToolCallStop(tool_id, {}))  # a call without arguments (RS)
            return
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            diagnosis = diagnose_truncation(raw)
            problem = "malformed JSON"
        else:
            if isinstance(value, dict):
                out.append(ToolCallStop(tool_id, value))
                return
            diagnosis = None
            problem = "not a JSON object"
        size = len(raw.encode())
        if diagnosis is None:
            raise MalformedAnswer(
                f"the upstream sent arguments for tool call {tool_id} ({self._tool_name})"
                f" that are {problem} ({size} bytes)"
            )
        # Cut off (§7.4): the upstream's output cap, as ContentLengthExceededException says.
        reason = f"truncated at {size} bytes: {diagnosis}"
        log.warning("tool call %s (%s) unusable: %s", tool_id, self._tool_name, reason)
        self._output_limit = True
        out.append(ToolCallStop(tool_id, {}, truncated=True, truncation_reason=reason))

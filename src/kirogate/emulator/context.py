"""A read-only view of one ``generateAssistantResponse`` request, for scenarios.

Every accessor tolerates a malformed body (scenarios also run for requests that the
validation rules would reject, e.g. credential-level HTTP faults).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kirogate.emulator.answers import MARKER_RE, THINKING_MODE_RE
from kirogate.emulator.config import Pacing


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_args(text: str) -> dict[str, str]:
    """``key=value`` pairs, shell-quoted; a bare word means ``word=true``; ``\\n`` is a newline."""
    args: dict[str, str] = {}
    for token in shlex.split(text):
        key, sep, value = token.partition("=")
        args[key] = value.replace("\\n", "\n") if sep else "true"
    return args


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"throttle retry_after=2"`` (control endpoint) or a full ``[[emu:…]]`` marker."""
    match = MARKER_RE.search(spec)
    if match:
        return match["name"], parse_args(match["args"])
    name, _, rest = spec.strip().partition(" ")
    return name, parse_args(rest)


@dataclass(frozen=True, slots=True)
class Context:
    body: Mapping[str, Any]
    raw_size: int = 0
    args: Mapping[str, str] = field(default_factory=dict)
    pacing: Pacing = field(default_factory=Pacing)
    new_tool_use_id: Callable[[], str] = lambda: "tooluse_emulator0000000000000"

    def with_args(self, args: Mapping[str, str]) -> Context:
        return Context(self.body, self.raw_size, args, self.pacing, self.new_tool_use_id)

    # ------------------------------------------------------------ request fields

    @property
    def state(self) -> dict[str, Any]:
        return _dict(self.body.get("conversationState"))

    @property
    def user_message(self) -> dict[str, Any]:
        current = _dict(self.state.get("currentMessage"))
        return _dict(current.get("userInputMessage"))

    @property
    def message_context(self) -> dict[str, Any]:
        return _dict(self.user_message.get("userInputMessageContext"))

    @property
    def content(self) -> str:
        content = self.user_message.get("content")
        return content if isinstance(content, str) else ""

    @property
    def model_id(self) -> str:
        model = self.user_message.get("modelId")
        return model if isinstance(model, str) else ""

    @property
    def conversation_id(self) -> str | None:
        value = self.state.get("conversationId")
        return value if isinstance(value, str) else None

    @property
    def history(self) -> list[dict[str, Any]]:
        return [_dict(item) for item in _list(self.state.get("history"))]

    @property
    def tool_names(self) -> list[str]:
        names = []
        for tool in _list(self.message_context.get("tools")):
            name = _dict(_dict(tool).get("toolSpecification")).get("name")
            if isinstance(name, str):
                names.append(name)
        return names

    def tool_named(self, wanted: str) -> str | None:
        """The request's own spelling of a tool name (the upstream matches case-insensitively)."""
        for name in self.tool_names:
            if name.lower() == wanted.lower():
                return name
        return None

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        return [_dict(item) for item in _list(self.message_context.get("toolResults"))]

    def tool_result_texts(self) -> Iterator[str]:
        for result in self.tool_results:
            for part in _list(result.get("content")):
                text = _dict(part).get("text")
                if isinstance(text, str):
                    yield text

    @property
    def tool_rounds(self) -> int:
        """How many earlier assistant turns called tools."""
        return sum(
            1
            for item in self.history
            if _list(_dict(item.get("assistantResponseMessage")).get("toolUses"))
        )

    @property
    def tool_result_failed(self) -> bool:
        return any(
            result.get("status") == "error" or result.get("isError") is True
            for result in self.tool_results
        )

    def _user_contents(self) -> Iterator[str]:
        yield self.content
        for item in self.history:
            content = _dict(item.get("userInputMessage")).get("content")
            if isinstance(content, str):
                yield content

    @property
    def thinking_tags(self) -> bool:
        """Prompt-injected thinking (spec data §5.1) anywhere in the user turns."""
        return any(THINKING_MODE_RE.search(content) for content in self._user_contents())

    @property
    def native_reasoning(self) -> bool:
        """``additionalModelRequestFields.thinking`` asks for native reasoning (spec data §5.4).

        Its placement is not pinned down by the spec; the body top level, the conversation
        state and the current user message are all accepted.
        """
        for holder in (self.body, self.state, self.user_message):
            fields = _dict(holder.get("additionalModelRequestFields"))
            kind = _dict(fields.get("thinking")).get("type")
            if isinstance(kind, str) and kind != "disabled":
                return True
        return False

    # ------------------------------------------------------------ scenario markers

    def current_marker(self) -> tuple[str, dict[str, str]] | None:
        match = MARKER_RE.search(self.content)
        return (match["name"], parse_args(match["args"])) if match else None

    def history_marker(self) -> tuple[str, dict[str, str]] | None:
        """The latest marker in an earlier user turn (for multi-turn scenarios)."""
        for item in reversed(self.history):
            content = _dict(item.get("userInputMessage")).get("content")
            if isinstance(content, str) and (match := MARKER_RE.search(content)):
                return match["name"], parse_args(match["args"])
        return None

    # ------------------------------------------------------------ argument helpers

    def arg(self, key: str, default: str) -> str:
        return self.args.get(key, default)

    def int_arg(self, key: str, default: int) -> int:
        raw = self.args.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"scenario argument {key}={raw!r} is not an integer") from None

    def float_arg(self, key: str, default: float) -> float:
        raw = self.args.get(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"scenario argument {key}={raw!r} is not a number") from None

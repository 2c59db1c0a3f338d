"""Server-side validation of a ``generateAssistantResponse`` body (spec §2.3 and §9).

:func:`validate_request` checks the wire dict (the JSON body as parsed) against the rules
upstream enforces with ``400 Improperly formed request.``, so the emulator can reject
requests the way upstream does and tests can check what the gateway sends. It returns
every violation found, in document order; an empty list means the body is acceptable.

Where the spec leaves a choice, this module decides:

- ``null`` for an optional array (``history``, ``images``, ``toolUses``, ``toolResults``,
  ``tools``) or for ``userInputMessageContext`` counts as absent (K2 sends
  ``"toolUses": null`` and the server accepts it); an empty ``tools`` list counts as no tools.
- Empty content means the empty string: ``" "`` is content (RS sends it on purpose).
- A user message may have empty content when it carries toolResults or images (§2.2
  sends ``""`` with tool results). An assistant message needs non-empty content even when
  it has toolUses: §2.3-7 says both roles must be non-empty, which is why RS sends ``" "``
  for a turn with only tool uses. ``require_content=False`` turns off both checks.
- A toolUse must be answered in the *next* user turn (the current message for the last
  history turn), and a toolResult must answer the *immediately preceding* assistant turn.
- Tools are read from the current message only; tools in history contexts are ignored.
- Tool schema checks look at the top level of ``inputSchema.json`` only, and reject only
  a ``null`` or wrong-typed ``type``, ``properties`` or ``required`` (§2.3-6).

Model ids and body size are the emulator's business (they give other errors than
``Improperly formed request``); :data:`KNOWN_MODEL_IDS` is here for it to use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

# Spec §3.6; claude-opus-4.8 is listed by AC only.
CURRENT_MODEL_IDS: Final = frozenset(
    {
        "auto",
        "claude-sonnet-4",
        "claude-sonnet-4.5",
        "claude-sonnet-4.6",
        "claude-haiku-4.5",
        "claude-opus-4.5",
        "claude-opus-4.6",
        "claude-opus-4.7",
        "claude-opus-4.8",
        "deepseek-3.2",
        "glm-5",
        "minimax-m2.1",
        "minimax-m2.5",
        "qwen3-coder-next",
    }
)
# The 2025 codewhisperer.us-east-1 host.
LEGACY_MODEL_IDS: Final = frozenset(
    {
        "CLAUDE_SONNET_4_5_20250929_V1_0",
        "CLAUDE_SONNET_4_20250514_V1_0",
        "CLAUDE_3_7_SONNET_20250219_V1_0",
    }
)
KNOWN_MODEL_IDS: Final = CURRENT_MODEL_IDS | LEGACY_MODEL_IDS

IMAGE_FORMATS: Final = frozenset({"jpeg", "png", "gif", "webp"})
TOOL_RESULT_STATUSES: Final = frozenset({"success", "error"})

_STATE = "conversationState"
_CURRENT = f"{_STATE}.currentMessage.userInputMessage"
_USER = "userInputMessage"
_ASSISTANT = "assistantResponseMessage"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``rule`` is a short stable id, ``message`` names the offending path."""

    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    max_tool_name: int = 64
    max_tool_description: int = 10240
    require_content: bool = True


@dataclass(frozen=True, slots=True)
class _Turn:
    role: str  # _USER or _ASSISTANT
    message: Mapping[str, Any]
    path: str  # e.g. "conversationState.history[2].userInputMessage"


@dataclass(slots=True)
class _Report:
    limits: ValidationLimits
    violations: list[Violation] = field(default_factory=list)

    def add(self, rule: str, path: str, problem: str) -> None:
        self.violations.append(Violation(rule, f"{path}: {problem}"))

    def wrong_type(self, rule: str, path: str, expected: str, value: Any) -> None:
        self.add(rule, path, f"must be {expected}, got {_json_type(value)}")


def validate_request(
    body: Mapping[str, Any], limits: ValidationLimits = ValidationLimits()
) -> list[Violation]:
    """Every rule of spec §2.3 / §9 that ``body`` breaks; an empty list means it is well formed."""
    report = _Report(limits)
    if not isinstance(body, Mapping):
        report.wrong_type("body-not-object", "body", "an object", body)
        return report.violations
    state = body.get(_STATE)
    if not isinstance(state, Mapping):
        report.add("missing-conversation-state", _STATE, "missing or not an object")
        return report.violations
    if _text(state.get("conversationId")) is None:
        report.add("missing-conversation-id", f"{_STATE}.conversationId", "missing or empty")
    current = _current_message(report, state)
    tools = _check_tools(report, current)
    turns = _history(report, state)
    if current is not None:
        turns.append(_Turn(_USER, current, _CURRENT))
    for turn in turns:
        if turn.role == _USER:
            _check_user_message(report, turn)
        else:
            _check_assistant_message(report, turn)
    _check_tool_pairing(report, turns)
    _check_tool_names(report, turns, tools)
    return report.violations


# ---------------------------------------------------------------- structure


def _text(value: Any) -> str | None:
    """``value`` if it is a non-empty string."""
    return value if isinstance(value, str) and value else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _optional_list(report: _Report, value: Any, path: str) -> list[Any]:
    """An optional array: absent and ``null`` are empty, anything but a list is a violation."""
    if value is None:
        return []
    if not isinstance(value, list):
        report.wrong_type("invalid-type", path, "an array", value)
        return []
    return value


def _context(message: Mapping[str, Any]) -> Mapping[str, Any]:
    """A user message's context; a non-object is reported by :func:`_check_user_message`."""
    context = message.get("userInputMessageContext")
    return context if isinstance(context, Mapping) else {}


def _current_message(report: _Report, state: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = f"{_STATE}.currentMessage"
    wrapper = state.get("currentMessage")
    if not isinstance(wrapper, Mapping):
        report.add("missing-current-message", path, "missing or not an object")
        return None
    message = wrapper.get(_USER)
    if message is None and _ASSISTANT in wrapper:
        report.add("current-not-user", path, "must be a userInputMessage")
        return None
    if not isinstance(message, Mapping):
        report.add("missing-user-input-message", _CURRENT, "missing or not an object")
        return None
    if _text(message.get("modelId")) is None:
        report.add("missing-model-id", f"{_CURRENT}.modelId", "missing or empty")
    return message


def _history(report: _Report, state: Mapping[str, Any]) -> list[_Turn]:
    """The history as turns; checks it starts with user, alternates and ends with assistant."""
    turns: list[_Turn] = []
    items = _optional_list(report, state.get("history"), f"{_STATE}.history")
    for index, item in enumerate(items):
        path = f"{_STATE}.history[{index}]"
        roles = [r for r in (_USER, _ASSISTANT) if isinstance(item, Mapping) and r in item]
        if len(roles) != 1:
            problem = (
                "must be an object with exactly one of userInputMessage, assistantResponseMessage"
            )
            report.add("history-item-invalid", path, problem)
            continue
        role = roles[0]
        if not isinstance(item[role], Mapping):
            report.wrong_type("history-item-invalid", f"{path}.{role}", "an object", item[role])
            continue
        turns.append(_Turn(role, item[role], f"{path}.{role}"))
    if turns and turns[0].role != _USER:
        problem = "history must start with a user message"
        report.add("history-starts-with-assistant", turns[0].path, problem)
    for previous, turn in pairwise(turns):
        if previous.role == turn.role:
            problem = f"follows another {turn.role}; roles must alternate"
            report.add("history-alternation", turn.path, problem)
    if turns and turns[-1].role != _ASSISTANT:
        problem = "history must end with an assistant message"
        report.add("history-ends-with-user", turns[-1].path, problem)
    return turns


# ---------------------------------------------------------------- messages


def _content(report: _Report, turn: _Turn) -> str | None:
    content = turn.message.get("content")
    if not isinstance(content, str):
        report.wrong_type("content-not-string", f"{turn.path}.content", "a string", content)
        return None
    return content


def _check_user_message(report: _Report, turn: _Turn) -> None:
    content = _content(report, turn)
    context = turn.message.get("userInputMessageContext")
    if context is not None and not isinstance(context, Mapping):
        path = f"{turn.path}.userInputMessageContext"
        report.wrong_type("invalid-type", path, "an object", context)
    images = _optional_list(report, turn.message.get("images"), f"{turn.path}.images")
    for index, image in enumerate(images):
        _check_image(report, image, f"{turn.path}.images[{index}]")
    results = _check_tool_results(report, turn)
    if report.limits.require_content and content == "" and not results and not images:
        problem = "empty content without toolResults or images"
        report.add("empty-content", f"{turn.path}.content", problem)


def _check_assistant_message(report: _Report, turn: _Turn) -> None:
    if _content(report, turn) == "" and report.limits.require_content:
        problem = 'empty assistant content (send " " for a turn with only toolUses)'
        report.add("empty-content", f"{turn.path}.content", problem)
    uses = _optional_list(report, turn.message.get("toolUses"), f"{turn.path}.toolUses")
    for index, use in enumerate(uses):
        path = f"{turn.path}.toolUses[{index}]"
        if not isinstance(use, Mapping):
            report.wrong_type("invalid-tool-use", path, "an object", use)
            continue
        for key in ("toolUseId", "name"):
            if _text(use.get(key)) is None:
                report.add("invalid-tool-use", f"{path}.{key}", "missing or empty")
        if not isinstance(use.get("input"), Mapping):
            report.wrong_type("invalid-tool-use", f"{path}.input", "an object", use.get("input"))


def _check_image(report: _Report, image: Any, path: str) -> None:
    if not isinstance(image, Mapping):
        report.wrong_type("invalid-image", path, "an object", image)
        return
    if image.get("format") not in IMAGE_FORMATS:
        allowed = ", ".join(sorted(IMAGE_FORMATS))
        report.add("invalid-image", f"{path}.format", f"must be one of {allowed}")
    source = image.get("source")
    if not isinstance(source, Mapping) or not isinstance(source.get("bytes"), str):
        report.add("invalid-image", f"{path}.source.bytes", "must be a base64 string")


def _check_tool_results(report: _Report, turn: _Turn) -> list[Any]:
    """Check the shape of a user turn's toolResults and return them."""
    path = f"{turn.path}.userInputMessageContext.toolResults"
    results = _optional_list(report, _context(turn.message).get("toolResults"), path)
    seen: set[str] = set()
    for index, result in enumerate(results):
        item = f"{path}[{index}]"
        if not isinstance(result, Mapping):
            report.wrong_type("invalid-tool-result", item, "an object", result)
            continue
        tool_use_id = _text(result.get("toolUseId"))
        if tool_use_id is None:
            report.add("invalid-tool-result", f"{item}.toolUseId", "missing or empty")
        elif tool_use_id in seen:
            problem = f"{tool_use_id!r} appears twice in one toolResults list"
            report.add("duplicate-tool-result", f"{item}.toolUseId", problem)
        seen.add(tool_use_id or "")
        content = result.get("content")
        if not isinstance(content, list) or not all(isinstance(p, Mapping) for p in content):
            problem = "must be an array of objects"
            report.add("invalid-tool-result-content", f"{item}.content", problem)
        if "status" in result and result["status"] not in TOOL_RESULT_STATUSES:
            problem = "must be 'success' or 'error'"
            report.add("invalid-tool-result", f"{item}.status", problem)
    return results


# ---------------------------------------------------------------- tools


def _check_tools(report: _Report, current: Mapping[str, Any] | None) -> set[str] | None:
    """Check the current message's tools; their lower-cased names, or None if it has none."""
    if current is None:
        return None
    context = _context(current)
    path = f"{_CURRENT}.userInputMessageContext.tools"
    tools = _optional_list(report, context.get("tools"), path)
    names = {_check_tool(report, tool, f"{path}[{index}]") for index, tool in enumerate(tools)}
    return {name.lower() for name in names if name} if tools else None


def _check_tool(report: _Report, tool: Any, path: str) -> str | None:
    spec = tool.get("toolSpecification") if isinstance(tool, Mapping) else None
    path = f"{path}.toolSpecification"
    if not isinstance(spec, Mapping):
        report.add("invalid-tool", path, "missing or not an object")
        return None
    limits = report.limits
    name = _text(spec.get("name"))
    if name is None:
        report.add("invalid-tool", f"{path}.name", "missing or empty")
    elif len(name) > limits.max_tool_name:
        problem = f"{len(name)} characters, the limit is {limits.max_tool_name}"
        report.add("tool-name-too-long", f"{path}.name", problem)
    description = spec.get("description")
    if description is None or description == "":
        report.add("tool-description-empty", f"{path}.description", "missing or empty")
    elif not isinstance(description, str):
        report.wrong_type("invalid-tool", f"{path}.description", "a string", description)
    elif len(description) > limits.max_tool_description:
        problem = f"{len(description)} characters, the limit is {limits.max_tool_description}"
        report.add("tool-description-too-long", f"{path}.description", problem)
    _check_schema(report, spec.get("inputSchema"), f"{path}.inputSchema")
    return name


def _check_schema(report: _Report, input_schema: Any, path: str) -> None:
    schema = input_schema.get("json") if isinstance(input_schema, Mapping) else None
    path = f"{path}.json"
    if not isinstance(schema, Mapping):
        report.add("invalid-tool-schema", path, "missing or not an object")
        return
    # Upstream tolerates additionalProperties and required:[], but not null or wrong types.
    if "type" in schema and not isinstance(schema["type"], str):
        report.wrong_type("invalid-tool-schema", f"{path}.type", "a string", schema["type"])
    if "properties" in schema and not isinstance(schema["properties"], Mapping):
        properties = schema["properties"]
        report.wrong_type("invalid-tool-schema", f"{path}.properties", "an object", properties)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        report.add("invalid-tool-schema", f"{path}.required", "must be an array of strings")


# ---------------------------------------------------------------- tool pairing


def _tool_uses(turn: _Turn | None) -> list[Mapping[str, Any]]:
    uses = turn.message.get("toolUses") if turn and turn.role == _ASSISTANT else None
    return [u for u in uses if isinstance(u, Mapping)] if isinstance(uses, list) else []


def _result_ids(turn: _Turn | None) -> list[str]:
    results = _context(turn.message).get("toolResults") if turn and turn.role == _USER else None
    if not isinstance(results, list):
        return []
    ids = (_text(r.get("toolUseId")) for r in results if isinstance(r, Mapping))
    return [tool_use_id for tool_use_id in ids if tool_use_id is not None]


def _check_tool_pairing(report: _Report, turns: list[_Turn]) -> None:
    for index, turn in enumerate(turns):
        if turn.role == _USER:
            previous = turns[index - 1] if index else None
            offered = {use.get("toolUseId") for use in _tool_uses(previous)}
            for tool_use_id in _result_ids(turn):
                if tool_use_id not in offered:
                    path = f"{turn.path}.userInputMessageContext.toolResults"
                    problem = f"{tool_use_id!r} answers no toolUse of the previous assistant turn"
                    report.add("orphan-tool-result", path, problem)
            continue
        following = turns[index + 1] if index + 1 < len(turns) else None
        answered = set(_result_ids(following))
        for use_index, use in enumerate(_tool_uses(turn)):
            use_id = _text(use.get("toolUseId"))
            if use_id is not None and use_id not in answered:
                problem = f"{use_id!r} has no toolResult in the next user turn"
                report.add("orphan-tool-use", f"{turn.path}.toolUses[{use_index}]", problem)


def _check_tool_names(report: _Report, turns: list[_Turn], tools: set[str] | None) -> None:
    """Tool content needs tools, and every history toolUse name must be one of them."""
    where = f"tools in {_CURRENT}.userInputMessageContext"
    for turn in turns:
        if tools is None and _result_ids(turn):
            path = f"{turn.path}.userInputMessageContext.toolResults"
            report.add("tools-missing", path, f"toolResults need {where}")
        for index, use in enumerate(_tool_uses(turn)):
            path = f"{turn.path}.toolUses[{index}]"
            name = use.get("name")
            if tools is None:
                report.add("tools-missing", path, f"a toolUse needs {where}")
            elif isinstance(name, str) and name.lower() not in tools:
                # Upstream compares tool names case-insensitively (RS).
                problem = f"{name!r} is not defined in the current message's tools"
                report.add("undefined-tool", f"{path}.name", problem)

"""The Kiro ``generateAssistantResponse`` request body, as typed values.

Build a :class:`KiroRequest` and call :meth:`KiroRequest.to_wire` for the exact JSON shape
of spec §2.1: camelCase keys, empty arrays and contexts omitted (as kiro.rs does). The
server-side validation rules of spec §2.3 live in :mod:`kirogate.protocol.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ORIGIN_AI_EDITOR = "AI_EDITOR"
PLACEHOLDER_TOOL_DESCRIPTION = "Tool used in conversation history"
PLACEHOLDER_TOOL_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {},
    "required": [],
    "additionalProperties": True,
}


@dataclass(frozen=True, slots=True)
class KiroImage:
    format: str  # jpeg | png | gif | webp
    data: str  # base64, passed through as-is

    def to_wire(self) -> dict[str, Any]:
        return {"format": self.format, "source": {"bytes": self.data}}


@dataclass(frozen=True, slots=True)
class KiroTool:
    name: str
    description: str
    input_schema: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {
            "toolSpecification": {
                "name": self.name,
                "description": self.description,
                "inputSchema": {"json": self.input_schema},
            }
        }


@dataclass(frozen=True, slots=True)
class KiroToolResult:
    tool_use_id: str
    text: str
    status: Literal["success", "error"] = "success"

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "toolUseId": self.tool_use_id,
            "content": [{"text": self.text}],
            "status": self.status,
        }
        if self.status == "error":
            wire["isError"] = True
        return wire


@dataclass(frozen=True, slots=True)
class KiroToolUse:
    tool_use_id: str
    name: str
    input: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"toolUseId": self.tool_use_id, "name": self.name, "input": self.input}


@dataclass(frozen=True, slots=True)
class UserInputMessage:
    content: str
    model_id: str
    origin: str = ORIGIN_AI_EDITOR
    images: tuple[KiroImage, ...] = ()
    tool_results: tuple[KiroToolResult, ...] = ()
    tools: tuple[KiroTool, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "content": self.content,
            "modelId": self.model_id,
            "origin": self.origin,
        }
        if self.images:
            wire["images"] = [image.to_wire() for image in self.images]
        context: dict[str, Any] = {}
        if self.tool_results:
            context["toolResults"] = [result.to_wire() for result in self.tool_results]
        if self.tools:
            context["tools"] = [tool.to_wire() for tool in self.tools]
        if context:
            wire["userInputMessageContext"] = context
        return {"userInputMessage": wire}


@dataclass(frozen=True, slots=True)
class AssistantResponseMessage:
    content: str
    tool_uses: tuple[KiroToolUse, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"content": self.content}
        if self.tool_uses:
            wire["toolUses"] = [use.to_wire() for use in self.tool_uses]
        return {"assistantResponseMessage": wire}


HistoryItem = UserInputMessage | AssistantResponseMessage


@dataclass(frozen=True, slots=True)
class KiroRequest:
    """A whole ``generateAssistantResponse`` body. ``profile_arn`` is set per credential."""

    conversation_id: str
    current: UserInputMessage
    history: tuple[HistoryItem, ...] = ()
    agent_continuation_id: str | None = None
    agent_task_type: str | None = "vibe"
    chat_trigger_type: str = "MANUAL"
    profile_arn: str | None = None
    additional_model_request_fields: dict[str, Any] | None = field(default=None)

    def to_wire(self, *, profile_arn: str | None = None) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.agent_continuation_id:
            state["agentContinuationId"] = self.agent_continuation_id
        if self.agent_task_type:
            state["agentTaskType"] = self.agent_task_type
        state["chatTriggerType"] = self.chat_trigger_type
        state["conversationId"] = self.conversation_id
        state["currentMessage"] = self.current.to_wire()
        if self.history:
            state["history"] = [item.to_wire() for item in self.history]
        wire: dict[str, Any] = {"conversationState": state}
        if self.additional_model_request_fields:
            wire["additionalModelRequestFields"] = self.additional_model_request_fields
        arn = profile_arn or self.profile_arn
        if arn:
            wire["profileArn"] = arn
        return wire

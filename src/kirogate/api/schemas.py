"""The client request bodies and error envelopes as JSON Schemas, for ``/openapi.json`` only.

The handlers read their bodies themselves (orjson, then the converters): these models never
validate a request, they describe what the converters accept. What a schema requires, the
handler requires; where a handler takes more (unknown fields, sampling options it ignores),
the schema allows additional properties. The Anthropic body is the converter's own pydantic
model (:class:`~kirogate.convert.anthropic_request.MessagesRequest`), so it cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from kirogate.convert.anthropic_request import Message, MessagesRequest
from kirogate.convert.models import list_public_models

# Schemas of nested models go to ``components/schemas``; :func:`kirogate.api.pages.openapi_schema`
# moves each body's ``$defs`` there.
REF_TEMPLATE = "#/components/schemas/{model}"

_NOT_BLANK = r"\S"  # the converters refuse a blank model name


def _model_examples() -> list[str]:
    return [info.public_id for info in list_public_models()][:4]


# ---------------------------------------------------------------- Anthropic


class AnthropicMessagesBody(MessagesRequest):
    """``POST /v1/messages``: the converter's model, with ``max_tokens`` required (at least 1)."""

    model: Annotated[str, Field(pattern=_NOT_BLANK, examples=_model_examples())]
    messages: Annotated[list[Message], Field(min_length=1)]
    max_tokens: Annotated[int, Strict(), Field(ge=1)]


class AnthropicCountTokensBody(MessagesRequest):
    """``POST /v1/messages/count_tokens``: a Messages body without ``max_tokens``."""

    model: Annotated[str, Field(pattern=_NOT_BLANK, examples=_model_examples())]
    messages: Annotated[list[Message], Field(min_length=1)]


# Fields a bare string (or null, where noted) stands for: the converter's BeforeValidators
# turn it into one text block, which pydantic's JSON Schema does not show.
_STRING_OR_LIST = (
    ("Message", "content", False),
    ("ToolResultBlock", "content", True),
    ("ContentSource", "content", True),
    ("AnthropicMessagesBody", "system", True),
    ("AnthropicCountTokensBody", "system", True),
)


# ---------------------------------------------------------------- OpenAI


class _Open(BaseModel):
    # The converters read the fields named here and ignore the rest.
    model_config = ConfigDict(extra="allow")


Content = str | list[dict[str, Any]]


class SystemMessage(_Open):
    """A system or developer message: text (or text parts), placed in the system prompt."""

    role: Literal["system", "developer"]
    content: Content


class UserMessage(_Open):
    role: Literal["user"]
    content: Content = Field(description="text, or text, image_url and file parts")


class AssistantMessage(_Open):
    """An earlier answer; ``content`` may be null when ``tool_calls`` or ``function_call``
    is given."""

    role: Literal["assistant"]
    content: Content | None = None
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, Any] | None = None
    reasoning_content: str | None = None


class ToolMessage(_Open):
    role: Literal["tool"]
    tool_call_id: Annotated[str, Field(pattern=_NOT_BLANK)]
    content: Content | None = None


class FunctionMessage(_Open):
    """The legacy ``functions`` API's answer to a ``function_call``."""

    role: Literal["function"]
    name: Annotated[str, Field(pattern=_NOT_BLANK)]
    content: str | list[dict[str, Any]] | None = None


ChatMessage = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


class FunctionDef(_Open):
    name: Annotated[str, Field(pattern=_NOT_BLANK)]
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="a JSON Schema object")


class ChatFunctionTool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDef


class ChatCustomTool(_Open):
    type: Literal["custom"]
    custom: dict[str, Any] = Field(description="name, description, format")


class ChatCompletionsBody(_Open):
    """``POST /v1/chat/completions``."""

    model: Annotated[str, Field(pattern=_NOT_BLANK, examples=_model_examples())]
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    max_tokens: Annotated[int | None, Field(ge=1)] = None
    max_completion_tokens: Annotated[int | None, Field(ge=1)] = None
    n: Annotated[int | None, Field(ge=1, le=1, description="only 1 is supported")] = None
    stop: str | list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[ChatFunctionTool | ChatCustomTool] | None = None
    functions: list[FunctionDef] | None = None
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    function_call: Literal["auto", "none"] | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    modalities: list[Literal["text"]] | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None
    prompt_cache_key: str | None = None


class ResponsesTool(_Open):
    type: str = Field(description="function, custom, namespace or web_search; others declined")
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ResponsesBody(_Open):
    """``POST /v1/responses``."""

    model: Annotated[str, Field(pattern=_NOT_BLANK, examples=_model_examples())]
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = Field(
        None, description="a response this gateway process stored"
    )
    tools: list[ResponsesTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    stream: bool | None = None
    max_output_tokens: Annotated[int | None, Field(ge=1)] = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    store: bool | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, Any] | None = None
    prompt_cache_key: str | None = None


# ---------------------------------------------------------------- error envelopes


class AnthropicErrorDetail(BaseModel):
    type: str = Field(examples=["invalid_request_error"])
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error body: ``{"type": "error", "error": {"type", "message"}}``."""

    type: Literal["error"]
    error: AnthropicErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(examples=["invalid_request_error"])
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""

    error: OpenAIErrorDetail


# Why each status is answered; every route documents the ones it can give.
STATUS_REASONS = {
    400: "The body or a parameter is invalid; `param` (OpenAI) or the message names the field.",
    401: "The key is missing or wrong.",
    403: "The address or key is not allowed.",
    404: "Unknown model, route or stored response.",
    413: "The body is larger than the gateway's limit (`server.max_body_size`).",
    429: "Rate limited, or every credential is resting; `retry-after` says when to retry.",
    502: "The upstream failed or answered something unusable.",
    503: "No credential can serve now, or the gateway is shutting down.",
    504: "The upstream sent nothing in time.",
}
CLIENT_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)
READ_ERRORS = (401, 403, 404, 429)


def error_responses(
    envelope: type[BaseModel], statuses: Iterable[int] = CLIENT_ERRORS
) -> dict[int | str, dict[str, Any]]:
    """FastAPI's ``responses=`` for ``statuses``, each answered in ``envelope``."""
    return {
        status: {"model": envelope, "description": STATUS_REASONS[status]} for status in statuses
    }


ANTHROPIC_ERRORS = error_responses(AnthropicError)
OPENAI_ERRORS = error_responses(OpenAIError)


# ---------------------------------------------------------------- bodies


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema, its nested models under ``$defs`` (referenced as components)."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    defs = schema.setdefault("$defs", {})
    for name, field, nullable in _STRING_OR_LIST:
        target = schema if name == model.__name__ else defs.get(name)
        if target is None or field not in target.get("properties", {}):
            continue
        listed = target["properties"][field]
        choices = [{"type": "string"}, *([{"type": "null"}] if nullable else []), listed]
        target["properties"][field] = {"anyOf": choices}
    if "Message" in defs:
        defs["Message"] = _message_by_role(defs["Message"])
    if not defs:
        del schema["$defs"]
    return schema


# Blocks each role may not hold (the converter refuses them with a 400 naming the block).
_NOT_IN_ROLE = {
    "user": {"tool_use"},
    "assistant": {"tool_result"},
    "system": {
        "image",
        "document",
        "search_result",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
    },
}


def _message_by_role(message: dict[str, Any]) -> dict[str, Any]:
    """The Message schema split by role, each listing only the blocks that role may hold."""
    blocks = message["properties"]["content"]["anyOf"][-1]["items"]
    mapping: dict[str, str] = blocks["discriminator"]["mapping"]
    shapes = []
    for role, refused in _NOT_IN_ROLE.items():
        allowed = {tag: ref for tag, ref in mapping.items() if tag not in refused}
        items = {
            "oneOf": [{"$ref": ref} for ref in allowed.values()],
            "discriminator": {"propertyName": "type", "mapping": allowed},
        }
        content = {"anyOf": [{"type": "string"}, {"type": "array", "items": items}]}
        shapes.append(
            {
                "type": "object",
                "title": f"{role.title()}Message",
                "properties": {"role": {"const": role}, "content": content},
                "required": ["role", "content"],
            }
        )
    return {"oneOf": shapes, "title": "Message"}


def json_body(model: type[BaseModel], example: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` documenting a required JSON body described by ``model``; ``example``
    is what Swagger UI's "Try it out" starts from."""
    media: dict[str, Any] = {"schema": body_schema(model)}
    if example is not None:
        media["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


_HELLO = [{"role": "user", "content": "Hello"}]
_MODEL = _model_examples()[0]
MESSAGES_BODY = json_body(
    AnthropicMessagesBody, {"model": _MODEL, "max_tokens": 1024, "messages": _HELLO}
)
COUNT_TOKENS_BODY = json_body(AnthropicCountTokensBody, {"model": _MODEL, "messages": _HELLO})
CHAT_BODY = json_body(ChatCompletionsBody, {"model": _MODEL, "messages": _HELLO})
RESPONSES_BODY = json_body(ResponsesBody, {"model": _MODEL, "input": "Hello"})

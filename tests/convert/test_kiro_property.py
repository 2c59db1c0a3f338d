"""Property: any valid Anthropic request becomes a Kiro body the upstream accepts."""

import base64
import io
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from kirogate.convert.anthropic_in import messages_to_ir
from kirogate.convert.kiro import KiroBuildOptions, build_kiro_request
from kirogate.convert.models import list_public_models, resolve_model
from kirogate.errors import RequestTooLarge
from kirogate.protocol.validation import validate_request


def _encoded(fmt: str) -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", (3, 2), "green").save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


IMAGES = [_encoded("PNG"), _encoded("JPEG"), _encoded("GIF")]
MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"]
LONG_NAME = "mcp__some_server__" + "n" * 60
NAMES = [
    "Bash",
    "bash",
    "Read",
    "Write",
    "Edit",
    "web_search",
    "WebSearch",
    LONG_NAME,
    LONG_NAME + "2",
]
IDS = ["t1", "t2", "t3", "t4", ""]
MODELS = [model.public_id for model in list_public_models()]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.one_of(st.sampled_from(["", " ", "\n", "hello", "x" * 40]), st.text(max_size=12))
text_block = st.builds(lambda t: {"type": "text", "text": t}, texts)
image_block = st.builds(
    lambda data, media: {
        "type": "image",
        "source": {"type": "base64", "media_type": media, "data": data},
    },
    st.sampled_from(IMAGES),
    st.sampled_from(MEDIA_TYPES),
)
document_block = st.builds(
    lambda t: {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": t},
    },
    texts,
)
tool_result_content = st.one_of(
    st.none(), texts, st.lists(st.one_of(text_block, image_block), max_size=2)
)


@st.composite
def tool_result_block(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": draw(st.sampled_from(IDS[:-1]))}
    content = draw(tool_result_content)
    if content is not None:
        block["content"] = content
    if draw(st.booleans()):
        block["is_error"] = draw(st.booleans())
    return block


tool_use_block = st.builds(
    lambda tool_use_id, name, tool_input: {
        "type": "tool_use",
        "id": tool_use_id,
        "name": name,
        "input": tool_input,
    },
    st.sampled_from(IDS),
    st.sampled_from(NAMES),
    st.sampled_from([{}, {"command": "ls"}, {"nested": {"a": [1, None]}}]),
)
thinking_block = st.one_of(
    st.builds(lambda t: {"type": "thinking", "thinking": t, "signature": "sig"}, texts),
    st.just({"type": "redacted_thinking", "data": "opaque"}),
)
user_content = st.one_of(
    texts,
    st.lists(st.one_of(text_block, image_block, document_block, tool_result_block()), max_size=4),
)
assistant_content = st.one_of(
    texts, st.lists(st.one_of(text_block, thinking_block, tool_use_block), max_size=4)
)
message = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, user_content),
    st.builds(lambda c: {"role": "assistant", "content": c}, assistant_content),
)
schema = st.sampled_from(
    [
        {},
        {"type": "object"},
        {"type": None, "properties": None, "required": None},
        {"type": ["object", "null"], "properties": {"a": {"type": "string", "default": None}}},
        {"properties": {"a": {"type": "object", "properties": None}}, "required": ["a", None]},
    ]
)
custom_tool = st.builds(
    lambda name, description, input_schema: {
        "name": name,
        "description": description,
        "input_schema": input_schema,
    },
    st.sampled_from(NAMES),
    st.sampled_from(["", "does things", "d" * 10_500]),
    schema,
)
tool = st.one_of(custom_tool, st.just({"type": "web_search_20250305", "name": "web_search"}))


@st.composite
def anthropic_body(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(MODELS)),
        "max_tokens": 1024,
        "messages": draw(st.lists(message, min_size=1, max_size=8)),
    }
    if draw(st.booleans()):
        body["system"] = draw(st.one_of(texts, st.lists(text_block, max_size=2)))
    if draw(st.booleans()):
        body["tools"] = draw(st.lists(tool, max_size=4))
    body["tool_choice"] = draw(
        st.sampled_from([None, {"type": "auto"}, {"type": "any"}, {"type": "none"}])
    )
    body["thinking"] = draw(
        st.sampled_from(
            [
                None,
                {"type": "enabled", "budget_tokens": 5000},
                {"type": "adaptive"},
                {"type": "disabled"},
            ]
        )
    )
    return {key: value for key, value in body.items() if value is not None}


options = st.builds(
    KiroBuildOptions,
    prefill=st.sampled_from(["continue", "drop"]),
    keep_images_turns=st.integers(0, 3),
    long_tool_descriptions=st.sampled_from(["system", "truncate"]),
    write_edit_hints=st.booleans(),
)


def _build(body: dict[str, Any], build_options: KiroBuildOptions) -> dict[str, Any] | None:
    conv = messages_to_ir(body)
    if build_options.prefill == "drop" and all(m["role"] == "assistant" for m in body["messages"]):
        return None  # nothing to answer: rejected with a clear InvalidRequest
    result = build_kiro_request(
        conv,
        resolve_model(conv.model),
        conversation_id="c",
        new_id=lambda: "n",
        options=build_options,
    )
    wire = result.request.to_wire()
    for spec in _tool_specs(wire):
        assert len(spec["name"]) <= 64
        assert spec["name"] in result.tool_names or len(spec["name"]) <= 63
    assert set(result.tool_names.values()) <= set(NAMES)
    return wire


def _tool_specs(wire: dict[str, Any]) -> list[dict[str, Any]]:
    context = wire["conversationState"]["currentMessage"]["userInputMessage"].get(
        "userInputMessageContext", {}
    )
    return [tool["toolSpecification"] for tool in context.get("tools", [])]


@SETTINGS
@given(anthropic_body(), options)
def test_any_valid_anthropic_request_builds_a_valid_kiro_body(
    body: dict[str, Any], build_options: KiroBuildOptions
) -> None:
    wire = _build(body, build_options)
    if wire is not None:
        assert validate_request(wire) == []


@SETTINGS
@given(anthropic_body(), st.integers(1_500, 30_000))
def test_trimmed_bodies_stay_valid_and_under_the_limit(body: dict[str, Any], limit: int) -> None:
    try:
        wire = _build(body, KiroBuildOptions(max_request_bytes=limit))
    except RequestTooLarge:
        return
    assert wire is not None
    assert validate_request(wire) == []
    assert len(orjson.dumps(wire)) <= limit

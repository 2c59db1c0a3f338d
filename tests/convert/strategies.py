"""Hypothesis strategies for client request bodies: Anthropic Messages, OpenAI Chat
Completions and OpenAI Responses, both well-shaped and mutated.

Every body is a value ``orjson.loads`` could have produced (no NaN, no lone surrogates, no
integer past 64 bits), since that is what the converters get. :func:`mutated` breaks a
well-shaped body at one random place: a wrong type, a dropped field, a junk key, an empty or
huge string.
"""

from __future__ import annotations

import base64
import copy
import io
from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import strategies as st
from PIL import Image as PILImage

from kirogate.convert.models import list_public_models

Body = dict[str, Any]


def _encoded(fmt: str, size: tuple[int, int] = (3, 2)) -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, "green").save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _encoded("PNG")
IMAGES = {
    "image/png": PNG,
    "image/jpeg": _encoded("JPEG"),
    "image/gif": _encoded("GIF"),
    "image/webp": _encoded("WEBP"),
}
# Base64 payloads that are not a usable image: each must be a 400 naming the field.
BAD_IMAGE_DATA = [
    "",
    "   ",
    "not base64!",
    "aGVsbG8=",  # base64 of "hello": not an image
    PNG[:-8],  # truncated
    PNG[:10] + "é" + PNG[10:],  # a non-ASCII character inside the data
    "data:image/png;base64," + PNG,  # a data URL where bare base64 belongs (accepted)
    _encoded("PNG", (2100, 4)),  # wider than the multi-image side limit: resized
]
# A $ref the gateway must never fetch (nothing listens on port 9).
REMOTE_REF = "http://127.0.0.1:9/schema.json"
TEXT_FILE = base64.b64encode("a text file\nwith two lines ✓".encode()).decode()

MODELS = [model.public_id for model in list_public_models()]
ODD_MODELS = ["", " ", "gpt-4o", "claude-unknown-9", "claude-sonnet-4-5[1m]", "auto"]
TOOL_NAMES = ["Bash", "read_file", "Edit", "web_search", "mcp__srv__" + "n" * 70, "ü", " "]
CALL_IDS = ["t1", "t2", "call_3", "", "x" * 80]

# Text as JSON can carry it: any code point except lone surrogates.
_chars = st.characters(exclude_categories=("Cs",))
texts = st.one_of(
    st.sampled_from(["", " ", "\n", "hello", "\x00", "💥🧨", "\u202e", "x" * 300]),
    st.text(_chars, max_size=20),
)
short_texts = st.text(_chars, max_size=8)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    short_texts,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(short_texts, inner, max_size=3)
    ),
    max_leaves=8,
)


def nested(depth: int) -> Any:
    """A value nested ``depth`` levels deep (alternating arrays and objects)."""
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


# Values a mutation puts where something else belongs.
JUNK: list[Any] = [
    nested(120),  # under the converters' depth limit
    nested(300),  # past it (the body parser takes 1,024 levels, the serialiser 255)
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63 - 1,
    -(2**63),
    1.5,
    "",
    " ",
    "x",
    "\x00",
    "💥💥",
    "a" * 5000,
    [],
    [None],
    [{}],
    {},
    {"type": None},
    {"type": "bogus"},
]
junk = st.one_of(st.sampled_from(JUNK), json_values)


@st.composite
def json_schemas(draw: st.DrawFn, depth: int = 2) -> Any:
    """A JSON schema as clients send them, including the null-valued and odd ones."""
    kind = draw(st.sampled_from(["object", "string", "integer", "array", None, ["object", "null"]]))
    schema: dict[str, Any] = {}
    if draw(st.booleans()):
        schema["type"] = kind
    if kind == "object" or kind is None:
        if depth > 0 and draw(st.booleans()):
            names = draw(st.lists(short_texts, max_size=3, unique=True))
            schema["properties"] = {name: draw(json_schemas(depth - 1)) for name in names}
            if names and draw(st.booleans()):
                schema["required"] = names[:1]
        elif draw(st.booleans()):
            schema["properties"] = draw(st.sampled_from([None, {}]))
    if kind == "array" and depth > 0:
        schema["items"] = draw(json_schemas(depth - 1))
    for key, value in draw(
        st.lists(
            st.sampled_from(
                [
                    ("description", "some field"),
                    ("default", None),
                    ("enum", ["a", "b"]),
                    ("$schema", "http://json-schema.org/draft-07/schema#"),
                    ("additionalProperties", False),
                    ("anyOf", [{"type": "string"}, {"type": "null"}]),
                    ("required", None),
                ]
            ),
            max_size=2,
        )
    ):
        schema[key] = value
    return schema


# Hypothesis leans towards the ends of a range, so "one in ten" is a value in the middle.
rarely = st.integers(0, 9).map(lambda n: n == 5)


def _optional(draw: st.DrawFn, body: Body, key: str, strategy: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        body[key] = draw(strategy)


def _model(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(ODD_MODELS)) if draw(rarely) else draw(st.sampled_from(MODELS))


# ---------------------------------------------------------------- Anthropic

cache_control = st.sampled_from(
    [{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}, {"type": "bogus"}, "yes"]
)


@st.composite
def _cached(draw: st.DrawFn, block: dict[str, Any]) -> dict[str, Any]:
    if draw(rarely):
        block["cache_control"] = draw(cache_control)
    return block


@st.composite
def anthropic_image(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        source: dict[str, Any] = {"type": "url", "url": "https://example.com/a.png"}
    elif choice == 1:
        source = {"type": "file", "file_id": "file_1"}
    else:
        media = draw(st.sampled_from([*IMAGES, "image/jpg", "IMAGE/PNG ", "image/bmp", ""]))
        data = IMAGES.get(media.strip().lower(), PNG)
        if draw(rarely):
            data = draw(st.sampled_from(BAD_IMAGE_DATA))
        source = {"type": "base64", "media_type": media, "data": data}
    return draw(_cached({"type": "image", "source": source}))


@st.composite
def anthropic_document(draw: st.DrawFn) -> dict[str, Any]:
    source = draw(
        st.sampled_from(
            [
                {"type": "text", "media_type": "text/plain", "data": "doc text"},
                {"type": "text", "data": ""},
                {"type": "content", "content": "inline content"},
                {"type": "content", "content": [{"type": "text", "text": "a"}, {"type": "x"}]},
                {"type": "base64", "media_type": "text/plain", "data": TEXT_FILE},
                {"type": "base64", "media_type": "application/pdf", "data": TEXT_FILE},
                {"type": "base64", "media_type": "text/plain", "data": "%%%"},
                {"type": "url", "url": "https://example.com/a.pdf"},
            ]
        )
    )
    block: dict[str, Any] = {"type": "document", "source": source}
    _optional(draw, block, "title", st.one_of(st.none(), short_texts))
    return draw(_cached(block))


text_block = st.builds(lambda text: {"type": "text", "text": text}, texts).flatmap(_cached)
search_result_block = st.builds(
    lambda title, text: {
        "type": "search_result",
        "source": "https://example.com",
        "title": title,
        "content": [{"type": "text", "text": text}],
    },
    short_texts,
    texts,
)


@st.composite
def anthropic_tool_result(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": draw(st.sampled_from(CALL_IDS))}
    content = draw(
        st.one_of(
            st.lists(
                st.one_of(text_block, anthropic_image(), anthropic_document(), search_result_block),
                max_size=3,
            ),
            st.none(),
            texts,
        )
    )
    if content is not None or draw(st.booleans()):
        block["content"] = content
    _optional(draw, block, "is_error", st.one_of(st.booleans(), st.none()))
    return draw(_cached(block))


@st.composite
def anthropic_tool_use(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_use",
        "id": draw(st.sampled_from(CALL_IDS)),
        "name": draw(st.sampled_from(TOOL_NAMES)),
    }
    _optional(
        draw,
        block,
        "input",
        st.one_of(
            st.dictionaries(short_texts, json_values, max_size=3),
            st.sampled_from(['{"a": 1}', "[1, 2]", "not json", "", None, 7, [1]]),
        ),
    )
    return draw(_cached(block))


thinking_block = st.one_of(
    st.builds(
        lambda text, signature: {"type": "thinking", "thinking": text, "signature": signature},
        texts,
        st.sampled_from(["sig", "", None]),
    ),
    st.builds(lambda data: {"type": "redacted_thinking", "data": data}, short_texts),
)
server_blocks = st.sampled_from(
    [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": [{"type": "web_search_result", "url": "https://e.com", "title": "E"}],
        },
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": {"x": 1}},
    ]
)


USER_KINDS = ["text", "text", "image", "document", "tool_result", "search_result"]
ASSISTANT_KINDS = ["text", "text", "tool_use", "tool_use", "thinking", "server"]


def _block(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    strategy = {
        "text": text_block,
        "image": anthropic_image(),
        "document": anthropic_document(),
        "tool_result": anthropic_tool_result(),
        "search_result": search_result_block,
        "tool_use": anthropic_tool_use(),
        "thinking": thinking_block,
        "server": server_blocks,
    }[kind]
    block: dict[str, Any] = draw(strategy)
    return block


@st.composite
def anthropic_message(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(["user", "assistant", "user", "assistant", "system"]))
    kinds = {"user": USER_KINDS, "assistant": ASSISTANT_KINDS, "system": ["text"]}[role]
    if draw(rarely):  # a block in the wrong role's message
        kinds = USER_KINDS + ASSISTANT_KINDS
    if draw(rarely):
        return {"role": role, "content": draw(texts)}
    count = draw(st.integers(0, 4))
    content = [_block(draw, draw(st.sampled_from(kinds))) for _ in range(count)]
    return {"role": role, "content": content}


@st.composite
def anthropic_tool_loop(draw: st.DrawFn) -> list[dict[str, Any]]:
    """User, assistant calling tools, user answering them (some answers missing, extra or
    misnamed), as an agent's conversation goes."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": draw(texts)}]
    for round_number in range(draw(st.integers(1, 3))):
        ids = [f"toolu_{round_number}_{n}" for n in range(draw(st.integers(1, 3)))]
        calls = [
            {
                "type": "tool_use",
                "id": call_id,
                "name": draw(st.sampled_from(TOOL_NAMES)),
                "input": draw(st.dictionaries(short_texts, json_values, max_size=2)),
            }
            for call_id in ids
        ]
        if draw(st.booleans()):
            calls.insert(0, {"type": "text", "text": draw(texts)})
        messages.append({"role": "assistant", "content": calls})
        answered = ids if not draw(rarely) else [*ids[:-1], "toolu_unknown"]
        results: list[dict[str, Any]] = []
        for call_id in answered:
            result = draw(anthropic_tool_result())
            result["tool_use_id"] = call_id
            results.append(result)
        if draw(st.booleans()):
            results.append({"type": "text", "text": draw(texts)})
        messages.append({"role": "user", "content": results})
    if draw(st.booleans()):
        messages.append({"role": "assistant", "content": draw(texts)})  # a prefill
    return messages


@st.composite
def anthropic_tool(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    if choice == 1:
        kind = draw(
            st.sampled_from(["bash_20250124", "text_editor_20250728", "memory_20250818", "mcp_x"])
        )
        tool = {"type": kind, "name": draw(st.sampled_from(["", "bash", "editor"]))}
        _optional(draw, tool, "input_schema", json_schemas())
        return tool
    tool = {
        "name": draw(st.sampled_from(TOOL_NAMES)),
        "input_schema": draw(json_schemas()),
    }
    _optional(draw, tool, "description", st.sampled_from(["", "does things", "d" * 10_500]))
    _optional(draw, tool, "type", st.just("custom"))
    return draw(_cached(tool))


@st.composite
def anthropic_bodies(draw: st.DrawFn) -> Body:
    """A Messages body in the shapes clients send, valid or not only where Anthropic's own
    rules are subtle (roles not alternating, orphan tool results, unknown models)."""
    body: Body = {
        "model": _model(draw),
        "max_tokens": draw(st.integers(1, 200_000)),
        "messages": draw(
            st.one_of(st.lists(anthropic_message(), min_size=1, max_size=6), anthropic_tool_loop())
        ),
    }
    if draw(rarely):  # past the parser's slice of 256 messages
        body["messages"] = [
            {"role": "user" if index % 2 == 0 else "assistant", "content": f"turn {index}"}
            for index in range(300)
        ] + body["messages"]
    _optional(
        draw,
        body,
        "system",
        st.one_of(
            texts,
            st.lists(
                st.builds(lambda t: {"type": "text", "text": t}, texts).flatmap(_cached), max_size=3
            ),
        ),
    )
    _optional(draw, body, "tools", st.lists(anthropic_tool(), max_size=4))
    _optional(
        draw,
        body,
        "tool_choice",
        st.sampled_from(
            [
                {"type": "auto"},
                {"type": "any"},
                {"type": "none"},
                {"type": "tool", "name": "Bash"},
                {"type": "tool"},
                {"type": "auto", "disable_parallel_tool_use": True},
            ]
        ),
    )
    _optional(draw, body, "stop_sequences", st.lists(texts, max_size=3))
    _optional(draw, body, "temperature", st.floats(0, 1))
    _optional(draw, body, "top_p", st.floats(0, 1))
    _optional(draw, body, "top_k", st.integers(0, 500))
    _optional(draw, body, "stream", st.booleans())
    _optional(
        draw,
        body,
        "metadata",
        st.sampled_from(
            [
                {},
                {"user_id": "u1"},
                {"user_id": "user_ab_account__session_12345678-1234-1234-1234-123456789abc"},
                {"user_id": '{"session_id": "12345678-1234-1234-1234-123456789abc"}'},
            ]
        ),
    )
    _optional(
        draw,
        body,
        "thinking",
        st.sampled_from(
            [
                {"type": "enabled", "budget_tokens": 2048},
                {"type": "enabled", "budget_tokens": 1},
                {"type": "enabled"},
                {"type": "adaptive"},
                {"type": "disabled"},
            ]
        ),
    )
    _optional(
        draw,
        body,
        "output_config",
        st.sampled_from(
            [
                {"effort": "high"},
                {"effort": "max"},
                {"effort": "extreme"},
                {"format": {"type": "json_schema", "schema": {"type": "object"}}},
                {"format": {"type": "text"}},
                {"format": {"type": "json_schema", "schema": {"$ref": "#/definitions/x"}}},
            ]
        ),
    )
    _optional(draw, body, "cache_control", cache_control)
    return body


# ---------------------------------------------------------------- OpenAI Chat Completions


@st.composite
def data_url(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 7))
    if choice == 0:
        return draw(st.sampled_from(["https://example.com/a.png", "ftp://x", "", "data:,"]))
    media = draw(st.sampled_from([*IMAGES, "image/jpg", "image/svg+xml"]))
    data = IMAGES.get(media, PNG)
    if choice == 1:
        data = draw(st.sampled_from(BAD_IMAGE_DATA))
    return f"data:{media};base64,{data}"


@st.composite
def file_part(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    file: dict[str, Any] = draw(
        st.sampled_from(
            [
                {"file_data": f"data:text/plain;base64,{TEXT_FILE}"},
                {"file_data": TEXT_FILE, "filename": "notes.md"},
                {"file_data": TEXT_FILE, "filename": "report.pdf"},
                {"file_data": TEXT_FILE},
                {"file_data": "%%%", "filename": "a.txt"},
                {"file_data": base64.b64encode(b"\xff\xfe").decode(), "filename": "a.txt"},
                {"file_id": "file_1"},
            ]
        )
    )
    if kind == "file":
        return {"type": "file", "file": file}
    return {"type": "input_file", **file}


@st.composite
def chat_user_part(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 9))
    if choice <= 4:
        return {"type": "text", "text": draw(texts)}
    if choice <= 6:
        url = draw(data_url())
        if draw(st.booleans()):
            return {"type": "image_url", "image_url": url}  # the string shorthand
        return {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}
    if choice == 7:
        return draw(file_part("file"))
    return draw(
        st.sampled_from(
            [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                {"type": "refusal", "refusal": "no"},
                {"type": "video"},
            ]
        )
    )


text_parts = st.lists(
    st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, texts),
        st.just({"type": "refusal", "refusal": "no"}),
    ),
    max_size=3,
)


@st.composite
def chat_tool_call(draw: st.DrawFn) -> dict[str, Any]:
    call: dict[str, Any] = {"id": draw(st.sampled_from(CALL_IDS))}
    if draw(rarely):
        call["type"] = "custom"
        call["custom"] = {"name": draw(st.sampled_from(TOOL_NAMES)), "input": draw(texts)}
        return call
    call["type"] = "function"
    arguments = draw(
        st.one_of(
            st.sampled_from(["", "{}", '{"a": 1}', "[1]", "not json", "null", '"s"']),
            json_values.map(lambda v: _dumps(v)),
        )
    )
    call["function"] = {"name": draw(st.sampled_from(TOOL_NAMES)), "arguments": arguments}
    return call


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@st.composite
def chat_message(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(
        st.sampled_from(
            ["system", "developer", "user", "user", "assistant", "assistant", "tool", "function"]
        )
    )
    message: dict[str, Any] = {"role": role}
    if role in ("system", "developer"):
        message["content"] = draw(st.one_of(texts, text_parts))
    elif role == "user":
        message["content"] = draw(st.one_of(texts, st.lists(chat_user_part(), max_size=3)))
        _optional(draw, message, "name", short_texts)
    elif role == "assistant":
        message["content"] = draw(st.one_of(st.none(), texts, text_parts))
        _optional(draw, message, "tool_calls", st.lists(chat_tool_call(), max_size=3))
        if draw(rarely):
            message["function_call"] = {"name": "Bash", "arguments": '{"command": "ls"}'}
        _optional(draw, message, "reasoning_content", texts)
    elif role == "tool":
        message["tool_call_id"] = draw(st.sampled_from(CALL_IDS))
        message["content"] = draw(
            st.one_of(st.none(), texts, st.lists(chat_user_part(), max_size=2))
        )
    else:
        message["name"] = draw(st.sampled_from(["Bash", "read_file", ""]))
        message["content"] = draw(st.one_of(st.none(), texts))
    return message


@st.composite
def chat_tool_loop(draw: st.DrawFn) -> list[dict[str, Any]]:
    """System, user, then rounds of an assistant calling tools and ``tool`` messages
    answering them (some answers missing or misnamed)."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(texts)})
    messages.append({"role": "user", "content": draw(texts)})
    for round_number in range(draw(st.integers(1, 3))):
        ids = [f"call_{round_number}_{n}" for n in range(draw(st.integers(1, 3)))]
        calls = []
        for call_id in ids:
            call = draw(chat_tool_call())
            call["id"] = call_id
            calls.append(call)
        content = draw(st.one_of(st.none(), texts))
        messages.append({"role": "assistant", "content": content, "tool_calls": calls})
        answered = ids if not draw(rarely) else [*ids[:-1], "call_unknown"]
        for call_id in answered:
            output = draw(st.one_of(texts, st.lists(chat_user_part(), max_size=2)))
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
        if draw(st.booleans()):
            messages.append({"role": "user", "content": draw(texts)})
    return messages


@st.composite
def chat_tool(draw: st.DrawFn) -> dict[str, Any]:
    if draw(rarely):
        custom: dict[str, Any] = {"name": draw(st.sampled_from(TOOL_NAMES))}
        _optional(
            draw,
            custom,
            "format",
            st.sampled_from(
                [
                    {"type": "text"},
                    {"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: x"}},
                    {"type": "regex"},
                ]
            ),
        )
        return {"type": "custom", "custom": custom}
    function: dict[str, Any] = {"name": draw(st.sampled_from(TOOL_NAMES))}
    _optional(draw, function, "description", st.sampled_from(["", "does", "d" * 10_500]))
    _optional(draw, function, "parameters", json_schemas())
    _optional(draw, function, "strict", st.booleans())
    return {"type": "function", "function": function}


response_formats = st.sampled_from(
    [
        {"type": "text"},
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        {
            "type": "json_schema",
            "json_schema": {"name": "x", "strict": True, "schema": {"type": "string"}},
        },
        {"type": "json_schema"},
        {"type": "yaml"},
        {"type": "json_schema", "json_schema": {"name": "r", "schema": {"$ref": "#/$defs/x"}}},
        {"type": "json_schema", "json_schema": {"name": "r", "schema": {"$ref": REMOTE_REF}}},
    ]
)


@st.composite
def chat_bodies(draw: st.DrawFn) -> Body:
    body: Body = {
        "model": _model(draw),
        "messages": draw(
            st.one_of(st.lists(chat_message(), min_size=1, max_size=6), chat_tool_loop())
        ),
    }
    _optional(draw, body, "tools", st.lists(chat_tool(), max_size=3))
    if draw(rarely):
        body["functions"] = [{"name": "Bash", "parameters": {"type": "object"}}]
    _optional(
        draw,
        body,
        "tool_choice",
        st.sampled_from(
            [
                "auto",
                "none",
                "required",
                "sometimes",
                {"type": "function", "function": {"name": "Bash"}},
                {"type": "custom", "custom": {"name": "read_file"}},
                {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
                {"type": "allowed_tools", "allowed_tools": {"mode": "all"}},
                {"type": "file_search"},
            ]
        ),
    )
    if draw(rarely):
        body["function_call"] = draw(st.sampled_from(["auto", "none", {"name": "Bash"}]))
    _optional(draw, body, "response_format", response_formats)
    _optional(draw, body, "stop", st.one_of(texts, st.lists(texts, max_size=4)))
    _optional(draw, body, "temperature", st.floats(0, 2))
    _optional(draw, body, "top_p", st.floats(0, 1))
    _optional(draw, body, "max_tokens", st.integers(1, 100_000))
    _optional(draw, body, "max_completion_tokens", st.integers(1, 100_000))
    _optional(draw, body, "n", st.just(2) if draw(rarely) else st.just(1))
    _optional(draw, body, "stream", st.booleans())
    _optional(draw, body, "stream_options", st.just({"include_usage": True}))
    _optional(draw, body, "reasoning_effort", st.sampled_from(["none", "low", "high", "ultra"]))
    _optional(
        draw,
        body,
        "metadata",
        st.sampled_from([{}, {"session_id": "s1"}, {"session_id": " "}, {"session_id": ""}]),
    )
    _optional(draw, body, "user", short_texts)
    _optional(draw, body, "prompt_cache_key", short_texts)
    _optional(draw, body, "seed", st.integers(0, 2**31))
    _optional(draw, body, "parallel_tool_calls", st.booleans())
    _optional(draw, body, "modalities", st.just(["text", "audio"] if draw(rarely) else ["text"]))
    _optional(draw, body, "logprobs", st.just(draw(rarely)))
    return body


# ---------------------------------------------------------------- OpenAI Responses


@st.composite
def responses_part(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 9))
    if choice <= 4:
        kind = draw(st.sampled_from(["input_text", "output_text", "text"]))
        return {"type": kind, "text": draw(texts)}
    if choice <= 6:
        return {"type": "input_image", "image_url": draw(data_url()), "detail": "auto"}
    if choice == 7:
        return draw(file_part("input_file"))
    return draw(
        st.sampled_from(
            [{"type": "refusal", "refusal": "no"}, {"type": "input_image", "file_id": "f"}]
        )
    )


@st.composite
def responses_item(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 11))
    if choice <= 4:
        role = draw(st.sampled_from(["user", "user", "assistant", "system", "developer"]))
        item: dict[str, Any] = {
            "role": role,
            "content": draw(st.one_of(texts, st.lists(responses_part(), max_size=3))),
        }
        if draw(st.booleans()):
            item["type"] = "message"
        return item
    call_id = draw(st.sampled_from(CALL_IDS))
    if choice == 5:
        return {
            "type": "function_call",
            "call_id": call_id,
            "name": draw(st.sampled_from(TOOL_NAMES)),
            "arguments": draw(st.sampled_from(["", "{}", '{"a": [1]}', "oops", "3"])),
        }
    if choice == 6:
        return {
            "type": "function_call_output",
            "call_id": call_id,
            "output": draw(st.one_of(texts, st.lists(responses_part(), max_size=2))),
        }
    if choice == 7:
        item = {"type": "custom_tool_call", "call_id": call_id, "name": "apply_patch"}
        item["input"] = draw(texts)
        return item
    if choice == 8:
        return {"type": "custom_tool_call_output", "call_id": call_id, "output": draw(texts)}
    if choice == 9:
        return {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": draw(texts)}],
            "encrypted_content": "opaque",
        }
    if choice == 10:
        return {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": draw(texts)},
        }
    return draw(
        st.sampled_from(
            [
                {"type": "item_reference", "id": "msg_unknown"},
                {"type": "local_shell_call", "id": "x"},
                {"type": "function_call", "call_id": "t1", "name": "f", "namespace": "ns"},
            ]
        )
    )


@st.composite
def responses_tool_loop(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A user message, then rounds of function calls and their outputs (Codex's shape)."""
    items: list[dict[str, Any]] = [{"role": "user", "content": draw(texts)}]
    for round_number in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            items.append(draw(responses_item()))
        ids = [f"call_{round_number}_{n}" for n in range(draw(st.integers(1, 3)))]
        for call_id in ids:
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": draw(st.sampled_from(TOOL_NAMES)),
                    "arguments": _dumps(
                        draw(st.dictionaries(short_texts, json_values, max_size=2))
                    ),
                }
            )
        answered = ids if not draw(rarely) else [*ids[:-1], "call_unknown"]
        for call_id in answered:
            output = draw(st.one_of(texts, st.lists(responses_part(), max_size=2)))
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
    return items


@st.composite
def responses_tool(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 7))
    if choice <= 3:
        tool: dict[str, Any] = {"type": "function", "name": draw(st.sampled_from(TOOL_NAMES))}
        _optional(draw, tool, "parameters", json_schemas())
        _optional(draw, tool, "description", st.sampled_from(["", "does", "d" * 10_500]))
        _optional(draw, tool, "strict", st.booleans())
        return tool
    if choice == 4:
        tool = {"type": "custom", "name": "apply_patch"}
        _optional(
            draw,
            tool,
            "format",
            st.sampled_from(
                [{"type": "grammar", "syntax": "lark", "definition": "start: x"}, {"type": "y"}]
            ),
        )
        return tool
    if choice == 5:
        return {
            "type": "namespace",
            "name": "mcp",
            "tools": [
                {"type": "function", "name": "search", "parameters": {"type": "object"}},
                {"type": "file_search"},
            ],
        }
    return draw(
        st.sampled_from(
            [{"type": "web_search"}, {"type": "web_search_preview"}, {"type": "file_search"}]
        )
    )


@st.composite
def responses_bodies(draw: st.DrawFn) -> Body:
    body: Body = {
        "model": _model(draw),
        "input": draw(
            st.one_of(
                st.lists(responses_item(), min_size=1, max_size=6), responses_tool_loop(), texts
            )
        ),
    }
    _optional(draw, body, "instructions", texts)
    _optional(draw, body, "tools", st.lists(responses_tool(), max_size=3))
    _optional(
        draw,
        body,
        "tool_choice",
        st.sampled_from(
            [
                "auto",
                "none",
                "required",
                "maybe",
                {"type": "function", "name": "Bash"},
                {"type": "allowed_tools", "mode": "required", "tools": []},
                {"type": "allowed_tools", "mode": "x"},
                {"type": "file_search"},
            ]
        ),
    )
    _optional(
        draw,
        body,
        "text",
        st.sampled_from(
            [
                {"format": {"type": "text"}},
                {"format": {"type": "json_object"}},
                {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
                {"format": {"type": "json_schema"}},
                {"verbosity": "low"},
            ]
        ),
    )
    _optional(
        draw,
        body,
        "reasoning",
        st.sampled_from(
            [{"effort": "low"}, {"effort": "high", "summary": "auto"}, {"effort": "x"}]
        ),
    )
    _optional(draw, body, "max_output_tokens", st.integers(1, 100_000))
    _optional(draw, body, "stream", st.booleans())
    _optional(draw, body, "store", st.booleans())
    _optional(draw, body, "parallel_tool_calls", st.booleans())
    _optional(draw, body, "temperature", st.floats(0, 2))
    _optional(
        draw,
        body,
        "metadata",
        st.sampled_from([{}, {"session_id": "s"}, {"session_id": "\n"}, {"session_id": ""}]),
    )
    _optional(draw, body, "truncation", st.sampled_from(["auto", "disabled"]))
    _optional(draw, body, "include", st.just(["reasoning.encrypted_content"]))
    _optional(draw, body, "prompt_cache_key", short_texts)
    if draw(rarely):
        body["previous_response_id"] = "resp_unknown"
    return body


# ---------------------------------------------------------------- mutation


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path inside ``value`` (not the root itself)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, bodies: st.SearchStrategy[Body]) -> Body:
    """A body from ``bodies`` broken at one place."""
    body = copy.deepcopy(draw(bodies))
    # The model is broken rarely: most bodies would stop at it, never reaching the rest.
    candidates = [path for path in paths(body) if path != ("model",) or draw(rarely)]
    path = draw(st.randoms(use_true_random=False)).choice(candidates[::-1])
    parent: Any = body
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent[last], dict):
        parent[last][draw(st.sampled_from(["type", "text", "x", "", "content"]))] = draw(junk)
    elif action == "add" and isinstance(parent[last], list):
        parent[last].append(draw(junk))
    else:
        parent[last] = draw(junk)
    return body

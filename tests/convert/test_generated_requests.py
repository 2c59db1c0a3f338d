"""Property: every generated client request either becomes a Kiro request the emulator's
validator accepts, or is refused with a client error naming the field at fault.

The bodies come from :mod:`tests.convert.strategies` (well-shaped, and mutated at one
place) and take the path the API takes: the dialect's converter, the model table, the Kiro
builder (with the service's error relocation), the serialised body. Any other exception is
a bug.

The example count is kept small for the default run; to hunt, raise it:
``HYPO_EXAMPLES=1000 pytest --no-cov tests/convert/test_generated_requests.py`` (and
``HYPO_WIRE_EXAMPLES`` for ``tests/api/test_generated_requests.py``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kirogate.convert.anthropic_in import count_tokens_to_ir, messages_to_ir
from kirogate.convert.ir import Conversation
from kirogate.convert.kiro import KiroBuildOptions, build_kiro_request
from kirogate.convert.kiro_history import TruncatedCall
from kirogate.convert.models import resolve_model
from kirogate.convert.openai_fields import relocate_error
from kirogate.convert.openai_in import chat_to_ir
from kirogate.convert.responses_in import responses_to_ir
from kirogate.convert.responses_out import response_echo
from kirogate.convert.tokens import estimate_conversation_tokens
from kirogate.errors import ClientError, InvalidRequest, NotFound, RequestTooLarge
from kirogate.protocol.validation import validate_request
from tests.convert.strategies import (
    Body,
    anthropic_bodies,
    chat_bodies,
    mutated,
    responses_bodies,
)

# Bounded for a loaded 2-core machine; no example database written into the checkout.
SETTINGS = settings(
    max_examples=int(os.environ.get("HYPO_EXAMPLES", "80")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def _steps(param: str) -> list[str | int]:
    steps: list[str | int] = []
    position = 0
    while position < len(param):
        match = _STEP.match(param, position)
        assert match is not None and match.end() > position, f"unreadable field {param!r}"
        steps.append(int(match[1]) if match[1] is not None else match[2])
        position = match.end()
    return steps


def assert_names_a_field(exc: ClientError, body: Body) -> None:
    """``exc`` is a client error whose message names a field of ``body`` (or one missing
    from an object that is there)."""
    if isinstance(exc, RequestTooLarge):
        return  # about the whole request, not one field
    assert "object at 0x" not in exc.message, exc.message  # no library text
    param = getattr(exc, "param", None)
    assert param, f"{type(exc).__name__} names no field: {exc.message!r}"
    # Anthropic's envelope has no param: the message starts with the field, as Anthropic's do.
    # ("n>1 is not supported" counts: it starts with the field, then no more of a path.)
    named = re.match(rf"{re.escape(param)}(?![\w.\[])", exc.message) is not None
    assert named or isinstance(exc, NotFound), f"{exc.message!r} does not start with {param!r}"
    value: Any = body
    steps = _steps(param)
    for number, step in enumerate(steps):
        if isinstance(step, int):
            assert isinstance(value, list) and step < len(value), f"{param!r} is not in the body"
        else:
            assert isinstance(value, dict), f"{param!r} is not in the body"
            if step not in value:
                assert number == len(steps) - 1, f"{param!r} is not in the body"
                return
        value = value[step]


def build_and_validate(conv: Conversation, options: KiroBuildOptions | None = None) -> None:
    """Build ``conv`` as the service does; the body must pass the emulator's validator."""
    model = resolve_model(conv.model)
    options = options or KiroBuildOptions()
    try:
        build = build_kiro_request(
            conv,
            model,
            conversation_id=conv.session_id or "conv-1",  # as the service builds it
            new_id=lambda: "id-1",
            options=options,
        )
    except InvalidRequest as exc:
        raise relocate_error(exc, conv) from exc
    wire = build.request.to_wire()
    serialised = orjson.dumps(wire)
    assert len(serialised) <= options.max_request_bytes
    if build.body is not None:
        assert orjson.loads(build.body) == wire
    assert validate_request(orjson.loads(serialised)) == []


# The builder's knobs an operator can turn (settings), drawn with each body.
build_options = st.builds(
    KiroBuildOptions,
    max_request_bytes=st.sampled_from([600_000, 600_000, 4_000]),  # small: history is cut
    prefill=st.sampled_from(["continue", "drop"]),
    keep_images_turns=st.integers(0, 5),
    long_tool_descriptions=st.sampled_from(["system", "truncate"]),
    write_edit_hints=st.booleans(),
    previous_text_truncated=st.booleans(),
    # Calls of earlier answers the upstream cut off, as the service remembers them.
    truncated_calls=st.dictionaries(
        st.sampled_from(["t1", "toolu_0_0", "call_0_0", "call_1_1", "call_3"]),
        st.builds(TruncatedCall, st.integers(0, 100_000)),
        max_size=2,
    ),
)


def check(
    body: Body, convert: Callable[[Body], Conversation], options: KiroBuildOptions | None = None
) -> None:
    """Accepted and valid upstream, or refused naming a field."""
    # What the API's parser would hand over (the stdlib writes deeper than orjson does).
    body = orjson.loads(json.dumps(body))
    try:
        conv = convert(body)
        estimate_conversation_tokens(conv)
        build_and_validate(conv, options)
    except ClientError as exc:
        event(f"refused: {type(exc).__name__}")
        assert_names_a_field(exc, body)
    else:
        event("accepted")


def _responses(body: Body) -> Conversation:
    conv = responses_to_ir(body, references={})
    orjson.dumps(response_echo(body))  # the response object repeats these fields
    return conv


def _count_tokens(body: Body) -> Conversation:
    conv = count_tokens_to_ir(body)
    estimate_conversation_tokens(conv)
    return messages_to_ir(body)


DIALECTS: dict[str, tuple[st.SearchStrategy[Body], Callable[[Body], Conversation]]] = {
    "anthropic": (anthropic_bodies(), _count_tokens),
    "chat": (chat_bodies(), chat_to_ir),
    "responses": (responses_bodies(), _responses),
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_well_shaped_requests_build_valid_kiro_requests_or_name_a_field(dialect: str) -> None:
    bodies, convert = DIALECTS[dialect]

    @SETTINGS
    @given(bodies, build_options)
    def run(body: Body, options: KiroBuildOptions) -> None:
        check(body, convert, options)

    run()


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_mutated_requests_build_valid_kiro_requests_or_name_a_field(dialect: str) -> None:
    bodies, convert = DIALECTS[dialect]

    @SETTINGS
    @given(mutated(bodies), build_options)
    def run(body: Body, options: KiroBuildOptions) -> None:
        check(body, convert, options)

    run()


def test_a_missing_field_in_an_existing_object_counts_as_named() -> None:
    body = {"messages": [{"role": "user"}]}
    assert_names_a_field(
        InvalidRequest("messages[0].content: x", param="messages[0].content"), body
    )
    with pytest.raises(AssertionError):
        assert_names_a_field(
            InvalidRequest("messages[3].content: x", param="messages[3].content"), body
        )
    with pytest.raises(AssertionError):
        assert_names_a_field(InvalidRequest("bad", param=None), body)

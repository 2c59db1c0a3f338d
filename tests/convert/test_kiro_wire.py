"""The body the builder keeps (``KiroBuild.body``) is the one the client would make."""

from typing import Any

import orjson

from kirogate.convert.ir import Conversation, Text, ToolDef, Turn
from kirogate.convert.kiro import KiroBuild, KiroBuildOptions, build_kiro_request
from kirogate.convert.models import resolve_model
from kirogate.upstream.client import wire_body, wire_request
from kirogate.upstream.credentials import AuthMethod, Credential

SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}}
ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC"


def build(*turns: Turn, **options: Any) -> KiroBuild:
    conversation = Conversation(
        model="claude-sonnet-4-5",
        turns=turns,
        system="be brief",
        tools=(ToolDef("Bash", "run a command", SCHEMA),),
    )
    return build_kiro_request(
        conversation,
        resolve_model("claude-sonnet-4-5"),
        conversation_id="conv-1",
        new_id=lambda: "cont-1",
        options=KiroBuildOptions(**options),
    )


def user(text: str) -> Turn:
    return Turn("user", (Text(text),))


def assistant(text: str) -> Turn:
    return Turn("assistant", (Text(text),))


def test_kept_body_is_the_request_on_the_wire() -> None:
    result = build(user("hi"), assistant("hello"), user("again"))
    assert result.body == orjson.dumps(result.request.to_wire())


def test_client_sends_the_same_bytes_from_the_kept_body() -> None:
    result = build(user("hi"), assistant("hello"), user("again"))
    assert result.body is not None
    credentials = [
        Credential(AuthMethod.SOCIAL, refresh_token="r" * 40, access_token="a"),
        Credential(AuthMethod.SOCIAL, refresh_token="r" * 40, access_token="a", profile_arn=ARN),
        Credential(AuthMethod.API_KEY, kiro_api_key="ksk_" + "k" * 30, profile_arn=ARN),
    ]
    for credential in credentials:
        from_request = orjson.dumps(wire_request(credential, result.request))
        assert wire_body(credential, result.body) == from_request
    assert b"profileArn" not in result.body  # the client's copy gets it, not the kept bytes


def test_no_body_is_kept_when_the_request_was_shrunk() -> None:
    turns = [t for i in range(10) for t in (user(f"q{i} " + "x" * 2000), assistant("y" * 2000))]
    result = build(*turns, user("final"), max_request_bytes=15_000)
    assert result.body is None
    assert len(orjson.dumps(result.request.to_wire())) <= 15_000

"""parse_event: every event type of spec §4.2, exception and error frames, malformed payloads."""

from __future__ import annotations

import pytest

from kirogate.protocol.events import (
    AssistantText,
    CodeReference,
    ContextUsage,
    FollowupPrompt,
    InitialResponse,
    InvalidState,
    KiroEvent,
    MalformedEvent,
    MessageMetadata,
    Metering,
    ReasoningRedacted,
    ReasoningSignature,
    ReasoningText,
    StreamException,
    SupplementaryWebLinks,
    TokenUsage,
    ToolUseFragment,
    UnknownEvent,
    error_frame,
    event_frame,
    exception_frame,
    parse_event,
)
from kirogate.protocol.eventstream import HeaderValue, Message, event_headers, iter_messages


def _event(event_type: str, payload: bytes) -> KiroEvent:
    return parse_event(Message(event_headers(event_type), payload))


def _frame(frame: bytes) -> KiroEvent:
    [message] = iter_messages(frame)
    return parse_event(message)


# ---------------------------------------------------------------- event types of §4.2


def test_assistant_response_event_is_text_delta() -> None:
    assert _event("assistantResponseEvent", b'{"content":"Hello"}') == AssistantText("Hello")


def test_assistant_response_event_keeps_whitespace_only_content() -> None:
    assert _event("assistantResponseEvent", b'{"content":"\\n\\n"}') == AssistantText("\n\n")


def test_assistant_response_event_ignores_extra_fields() -> None:
    payload = b'{"content":"Hi","messageId":"m1","contentType":"text/markdown"}'
    assert _event("assistantResponseEvent", payload) == AssistantText("Hi")


def test_assistant_response_event_with_only_followup_prompt_is_followup() -> None:
    payload = b'{"followupPrompt":{"content":"More?","userIntent":"EXPLAIN_CODE_SELECTION"}}'
    assert _event("assistantResponseEvent", payload) == FollowupPrompt(
        "More?", "EXPLAIN_CODE_SELECTION"
    )


def test_assistant_response_event_without_content_is_empty_text() -> None:
    assert _event("assistantResponseEvent", b'{"messageStatus":"COMPLETED"}') == AssistantText("")


def test_tool_use_event_with_string_input_fragment() -> None:
    payload = b'{"input":"{\\"comm","name":"Bash","toolUseId":"tooluse_x"}'
    assert _event("toolUseEvent", payload) == ToolUseFragment("tooluse_x", "Bash", '{"comm')


def test_tool_use_event_without_input_is_empty_fragment() -> None:
    payload = b'{"name":"Bash","toolUseId":"tooluse_x"}'
    assert _event("toolUseEvent", payload) == ToolUseFragment("tooluse_x", "Bash", "")


def test_tool_use_event_stop_frame() -> None:
    payload = b'{"name":"Bash","stop":true,"toolUseId":"tooluse_x"}'
    assert _event("toolUseEvent", payload) == ToolUseFragment("tooluse_x", "Bash", "", stop=True)


def test_tool_use_event_with_object_input_is_serialised() -> None:
    payload = b'{"name":"Bash","toolUseId":"tooluse_x","input":{"command":"ls","n":1}}'
    assert _event("toolUseEvent", payload) == ToolUseFragment(
        "tooluse_x", "Bash", '{"command":"ls","n":1}'
    )


def test_tool_use_event_with_empty_object_input_means_fragments_follow() -> None:
    payload = b'{"name":"Bash","toolUseId":"tooluse_x","input":{}}'
    assert _event("toolUseEvent", payload) == ToolUseFragment("tooluse_x", "Bash", "")


def test_tool_use_event_without_name_and_id_has_empty_strings() -> None:
    assert _event("toolUseEvent", b'{"input":"frag"}') == ToolUseFragment("", "", "frag")


def test_tool_use_event_stop_must_be_true_not_truthy() -> None:
    payload = b'{"name":"Bash","toolUseId":"t","stop":"false"}'
    # A string is not a stop; nor a fragment with stop=False: the frame does not decode.
    assert _event("toolUseEvent", payload) == MalformedEvent(
        "toolUseEvent", "stop is a string, not a boolean"
    )
    payload = b'{"name":"Bash","toolUseId":"t","stop":false}'
    assert _event("toolUseEvent", payload) == ToolUseFragment("t", "Bash", "", stop=False)


def test_reasoning_content_event_text() -> None:
    assert _event("reasoningContentEvent", b'{"text":"Let me think."}') == ReasoningText(
        "Let me think."
    )


def test_reasoning_content_event_signature() -> None:
    assert _event("reasoningContentEvent", b'{"signature":"sig_abc"}') == ReasoningSignature(
        "sig_abc"
    )


def test_reasoning_content_event_redacted_content() -> None:
    assert _event("reasoningContentEvent", b'{"redactedContent":"b64"}') == ReasoningRedacted("b64")


def test_reasoning_content_event_null_signature_is_text() -> None:
    payload = b'{"signature":null,"text":"hmm"}'
    assert _event("reasoningContentEvent", payload) == ReasoningText("hmm")


def test_metering_event() -> None:
    payload = b'{"unit":"credit","unitPlural":"credits","usage":0.0217}'
    assert _event("meteringEvent", payload) == Metering(0.0217, "credit")


def test_metering_event_reads_credit_usage() -> None:
    assert _event("meteringEvent", b'{"creditUsage":0.5}') == Metering(0.5)


def test_metering_event_integer_usage_is_float() -> None:
    event = _event("meteringEvent", b'{"usage":2,"unit":"request"}')
    assert event == Metering(2.0, "request")
    assert isinstance(event, Metering)
    assert type(event.usage) is float


def test_context_usage_event() -> None:
    payload = b'{"contextUsagePercentage":12.345}'
    assert _event("contextUsageEvent", payload) == ContextUsage(12.345)


def test_metadata_event_token_usage() -> None:
    payload = b'{"tokenUsage":{"inputTokens":2,"outputTokens":3,"totalTokens":5}}'
    assert _event("metadataEvent", payload) == TokenUsage(2, 3, 5)


def test_metadata_event_without_token_usage_is_unknown() -> None:
    assert _event("metadataEvent", b'{"other":1}') == UnknownEvent("metadataEvent", b'{"other":1}')


def test_code_reference_event() -> None:
    reference = {
        "licenseName": "MIT",
        "repository": "r",
        "url": "u",
        "recommendationContentSpan": {"start": 0, "end": 10},
    }
    payload = (
        b'{"references":[{"licenseName":"MIT","repository":"r","url":"u",'
        b'"recommendationContentSpan":{"start":0,"end":10}}]}'
    )
    assert _event("codeReferenceEvent", payload) == CodeReference((reference,))


def test_followup_prompt_event() -> None:
    payload = b'{"followupPrompt":{"content":"Tell me more","userIntent":"SUGGEST"}}'
    assert _event("followupPromptEvent", payload) == FollowupPrompt("Tell me more", "SUGGEST")


def test_followup_prompt_event_without_intent() -> None:
    payload = b'{"followupPrompt":{"content":"Tell me more"}}'
    assert _event("followupPromptEvent", payload) == FollowupPrompt("Tell me more", None)


def test_supplementary_web_links_event() -> None:
    payload = (
        b'{"supplementaryWebLinks":[{"url":"https://example.com","title":"Ex","snippet":"s"}]}'
    )
    assert _event("supplementaryWebLinksEvent", payload) == SupplementaryWebLinks(
        ({"url": "https://example.com", "title": "Ex", "snippet": "s"},)
    )


def test_message_metadata_event() -> None:
    payload = b'{"conversationId":"c1","utteranceId":"u1"}'
    assert _event("messageMetadataEvent", payload) == MessageMetadata("c1", "u1")


def test_invalid_state_event() -> None:
    payload = b'{"reason":"INVALID_TASK_ASSIST_PLAN","message":"bad plan"}'
    assert _event("invalidStateEvent", payload) == InvalidState(
        "INVALID_TASK_ASSIST_PLAN", "bad plan"
    )


def test_initial_response_empty() -> None:
    assert _event("initial-response", b"{}") == InitialResponse(None)


def test_initial_response_with_conversation_id() -> None:
    assert _event("initial-response", b'{"conversationId":"c9"}') == InitialResponse("c9")


def test_unknown_event_type_keeps_type_and_payload() -> None:
    assert _event("brandNewEvent", b'{"x":1}') == UnknownEvent("brandNewEvent", b'{"x":1}')


def test_event_without_event_type_is_unknown() -> None:
    message = Message({":message-type": "event"}, b"{}")
    assert parse_event(message) == UnknownEvent("", b"{}")


def test_missing_message_type_defaults_to_event() -> None:
    message = Message({":event-type": "assistantResponseEvent"}, b'{"content":"x"}')
    assert parse_event(message) == AssistantText("x")


# ---------------------------------------------------------------- exceptions and errors


def test_exception_frame_with_json_message() -> None:
    frame = exception_frame("ThrottlingException", {"message": "Rate exceeded"})
    assert _frame(frame) == StreamException("ThrottlingException", "Rate exceeded")


def test_exception_frame_with_capitalised_message_key() -> None:
    frame = exception_frame("ValidationException", {"Message": "bad input"})
    assert _frame(frame) == StreamException("ValidationException", "bad input")


def test_exception_frame_with_plain_text_payload() -> None:
    frame = exception_frame("InternalServerException", b"something broke")
    assert _frame(frame) == StreamException("InternalServerException", "something broke")


def test_exception_frame_with_invalid_utf8_payload_does_not_raise() -> None:
    frame = exception_frame("InternalServerException", b"\xffoops")
    assert _frame(frame) == StreamException("InternalServerException", "\ufffdoops")


def test_exception_frame_without_exception_type() -> None:
    message = Message({":message-type": "exception"}, b'{"message":"m"}')
    assert parse_event(message) == StreamException("UnknownException", "m")


def test_exception_frame_with_non_string_exception_type() -> None:
    headers: dict[str, HeaderValue] = {":message-type": "exception", ":exception-type": 5}
    assert parse_event(Message(headers, b"")) == StreamException("UnknownException", "")


def test_error_frame_uses_code_and_message_headers() -> None:
    frame = error_frame("InternalServerException", "Encountered an unexpected error")
    assert _frame(frame) == StreamException(
        "InternalServerException", "Encountered an unexpected error"
    )


def test_error_frame_without_message_header_reads_payload() -> None:
    message = Message({":message-type": "error", ":error-code": "E1"}, b'{"message":"from body"}')
    assert parse_event(message) == StreamException("E1", "from body")


def test_error_frame_without_code() -> None:
    message = Message({":message-type": "error", ":error-message": "m"}, b"")
    assert parse_event(message) == StreamException("UnknownError", "m")


# ---------------------------------------------------------------- malformed payloads


KNOWN_DEFAULTS: list[tuple[str, KiroEvent]] = [
    ("assistantResponseEvent", AssistantText("")),
    ("toolUseEvent", ToolUseFragment("", "", "")),
    ("reasoningContentEvent", ReasoningText("")),
    ("meteringEvent", Metering(0.0)),
    ("contextUsageEvent", ContextUsage(0.0)),
    ("codeReferenceEvent", CodeReference(())),
    ("followupPromptEvent", FollowupPrompt("")),
    ("supplementaryWebLinksEvent", SupplementaryWebLinks(())),
    ("messageMetadataEvent", MessageMetadata()),
    ("invalidStateEvent", InvalidState("", "")),
    ("initial-response", InitialResponse()),
]


@pytest.mark.parametrize(("event_type", "expected"), KNOWN_DEFAULTS)
def test_an_empty_payload_gives_the_default_event(event_type: str, expected: KiroEvent) -> None:
    assert _event(event_type, b"") == expected
    assert _event(event_type, b"{}") == expected


@pytest.mark.parametrize("event_type", [name for name, _ in KNOWN_DEFAULTS] + ["metadataEvent"])
@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"{not json", "the payload is not JSON"),
        (b"\xff\xfe", "the payload is not JSON"),
        (b"[1,2]", "the payload is an array, not an object"),
        (b'"text"', "the payload is a string, not an object"),
        (b"null", "the payload is null, not an object"),
        (b"7", "the payload is a number, not an object"),
    ],
)
def test_a_known_event_that_is_not_a_json_object_is_malformed(
    event_type: str, payload: bytes, problem: str
) -> None:
    assert _event(event_type, payload) == MalformedEvent(event_type, problem)


@pytest.mark.parametrize(
    ("event_type", "payload", "problem"),
    [
        ("assistantResponseEvent", b'{"content":5}', "content is a number, not a string"),
        ("assistantResponseEvent", b'{"followupPrompt":[1]}', "followupPrompt is an array, not an object"),
        ("toolUseEvent", b'{"name":7,"toolUseId":"x"}', "name is a number, not a string"),
        ("toolUseEvent", b'{"toolUseId":["x"]}', "toolUseId is an array, not a string"),
        ("toolUseEvent", b'{"toolUseId":"x","stop":"true"}', "stop is a string, not a boolean"),
        ("reasoningContentEvent", b'{"text":3}', "text is a number, not a string"),
        ("reasoningContentEvent", b'{"redactedContent":3,"text":"t"}', "redactedContent is a number, not a string"),
        ("reasoningContentEvent", b'{"signature":{}}', "signature is an object, not a string"),
        ("meteringEvent", b'{"usage":"abc","unit":"credit"}', "usage is a string, not a number"),
        ("meteringEvent", b'{"usage":true}', "usage is a boolean, not a number"),
        ("meteringEvent", b'{"usage":1,"unit":5}', "unit is a number, not a string"),
        ("contextUsageEvent", b'{"contextUsagePercentage":"x"}', "contextUsagePercentage is a string, not a number"),
        ("metadataEvent", b'{"tokenUsage":{"inputTokens":"x","outputTokens":2.9}}', "inputTokens is a string, not a number"),
        ("metadataEvent", b'{"tokenUsage":[1]}', "tokenUsage is an array, not an object"),
        ("codeReferenceEvent", b'{"references":5}', "references is a number, not an array"),
        ("codeReferenceEvent", b'{"references":"abc"}', "references is a string, not an array"),
        ("followupPromptEvent", b'{"followupPrompt":"x"}', "followupPrompt is a string, not an object"),
        ("followupPromptEvent", b'{"followupPrompt":{"content":1,"userIntent":5}}', "content is a number, not a string"),
        ("supplementaryWebLinksEvent", b'{"supplementaryWebLinks":true}', "supplementaryWebLinks is a boolean, not an array"),
        ("messageMetadataEvent", b'{"conversationId":5,"utteranceId":[]}', "conversationId is a number, not a string"),
        ("invalidStateEvent", b'{"reason":1,"message":null}', "reason is a number, not a string"),
        ("initial-response", b'{"conversationId":{}}', "conversationId is an object, not a string"),
    ],
)  # fmt: skip
def test_a_wrong_typed_field_makes_the_event_malformed(
    event_type: str, payload: bytes, problem: str
) -> None:
    event = _event(event_type, payload)
    assert event == MalformedEvent(event_type, problem)


@pytest.mark.parametrize(
    ("event_type", "payload", "expected"),
    [
        ("assistantResponseEvent", b'{"followupPrompt":null}', FollowupPrompt("")),
        ("toolUseEvent", b'{"name":"B","toolUseId":"x","input":[1]}', ToolUseFragment("x", "B", "[1]")),
        ("toolUseEvent", b'{"toolUseId":"x","stop":null}', ToolUseFragment("x", "")),
        ("meteringEvent", b'{"usage":null,"creditUsage":0.25}', Metering(0.25)),
        ("metadataEvent", b'{"tokenUsage":{"outputTokens":2.9}}', TokenUsage(0, 2, 0)),
        ("invalidStateEvent", b'{"reason":"r","message":null}', InvalidState("r", "")),
    ],
)  # fmt: skip
def test_null_and_absent_fields_give_defaults(
    event_type: str, payload: bytes, expected: KiroEvent
) -> None:
    assert _event(event_type, payload) == expected


def test_metadata_without_token_usage_is_ignored_as_unknown() -> None:
    payload = b'{"something":"else"}'
    assert _event("metadataEvent", payload) == UnknownEvent("metadataEvent", payload)


def test_an_exception_frame_with_a_non_object_payload_keeps_the_raw_text() -> None:
    [message] = iter_messages(exception_frame("ThrottlingException", b"[1]"))
    assert parse_event(message) == StreamException("ThrottlingException", "[1]")


# ---------------------------------------------------------------- encoders


def test_event_frame_keeps_key_order_and_is_compact() -> None:
    [message] = iter_messages(event_frame("toolUseEvent", {"stop": True, "name": "B"}))
    assert message.payload == b'{"stop":true,"name":"B"}'
    assert dict(message.headers) == event_headers("toolUseEvent")


def test_event_frame_passes_bytes_through() -> None:
    [message] = iter_messages(event_frame("assistantResponseEvent", b'{"content": "x"}'))
    assert message.payload == b'{"content": "x"}'


def test_exception_frame_headers() -> None:
    [message] = iter_messages(exception_frame("ThrottlingException", {"message": "m"}))
    assert dict(message.headers) == {
        ":exception-type": "ThrottlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert message.payload == b'{"message":"m"}'


def test_error_frame_headers_and_empty_payload() -> None:
    [message] = iter_messages(error_frame("E1", "went wrong"))
    assert dict(message.headers) == {
        ":error-code": "E1",
        ":error-message": "went wrong",
        ":message-type": "error",
    }
    assert message.payload == b""


# ---------------------------------------------------------------- the text fast path


def test_text_event_without_message_type_header_is_text() -> None:
    message = Message({":event-type": "assistantResponseEvent"}, b'{"content":"Hi"}')
    assert parse_event(message) == AssistantText("Hi")


def test_text_event_type_on_an_exception_frame_is_an_exception() -> None:
    headers: dict[str, HeaderValue] = {
        ":event-type": "assistantResponseEvent",
        ":message-type": "exception",
        ":exception-type": "ThrottlingException",
    }
    event = parse_event(Message(headers, b'{"message":"slow down"}'))
    assert event == StreamException("ThrottlingException", "slow down")


def test_an_empty_text_payload_takes_the_general_path() -> None:
    assert _event("assistantResponseEvent", b"") == AssistantText("")


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'{"content":5}'])
def test_malformed_text_payload_takes_the_general_path(payload: bytes) -> None:
    assert isinstance(_event("assistantResponseEvent", payload), MalformedEvent)


def test_text_event_with_a_non_string_message_type_is_still_text() -> None:
    headers: dict[str, HeaderValue] = {
        ":event-type": "assistantResponseEvent",
        ":message-type": b"event",
    }
    assert parse_event(Message(headers, b'{"content":"Hi"}')) == AssistantText("Hi")


def test_tool_event_with_a_non_string_message_type_is_still_a_fragment() -> None:
    headers: dict[str, HeaderValue] = {":event-type": "toolUseEvent", ":message-type": b"event"}
    payload = b'{"toolUseId":"t1","name":"Bash","input":"{}","stop":true}'
    assert parse_event(Message(headers, payload)) == ToolUseFragment("t1", "Bash", "{}", True)

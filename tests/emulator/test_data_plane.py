from __future__ import annotations

import aiohttp

from kirogate.emulator.app import RunningEmulator
from kirogate.emulator.catalogue import MAX_OUTPUT_TOKENS
from kirogate.protocol.events import AssistantText, ContextUsage, InitialResponse, Metering
from kirogate.protocol.validation import KNOWN_MODEL_IDS
from tests.emulator.conftest import StartEmulator
from tests.emulator.support import (
    bearer,
    decode_events,
    events_for,
    generate,
    request_body,
    social_refresh,
    social_token,
)

INVALID_BEARER = {"message": "The bearer token included in the request is invalid."}


def _text(events: list[object]) -> str:
    return "".join(e.content for e in events if isinstance(e, AssistantText))


async def test_echo_reply_is_text_chunks_then_metering_and_context(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, data, resp = await generate(session, emulator.url, token, content="hello there")
    assert status == 200
    assert resp.headers["Content-Type"] == "application/vnd.amazon.eventstream"
    events = decode_events(data)
    texts = [e for e in events if isinstance(e, AssistantText)]
    assert len(texts) >= 2
    assert _text(events) == "Echo: hello there"
    assert isinstance(events[-2], Metering)
    assert isinstance(events[-1], ContextUsage)
    assert events[-1].percentage > 0


async def test_echo_strips_markers_and_thinking_tags(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    content = (
        "<thinking_mode>enabled</thinking_mode><max_thinking_length>100</max_thinking_length>hi"
    )
    events = await events_for(session, emulator.url, token, content)
    text = _text(events)
    assert text.startswith("<thinking>\n")
    assert text.endswith("</thinking>\n\nEcho: hi")


async def test_echo_of_tool_results_only(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    history = [
        {"userInputMessage": {"content": "run", "modelId": "claude-sonnet-4.5"}},
        {
            "assistantResponseMessage": {
                "content": " ",
                "toolUses": [{"toolUseId": "t1", "name": "Bash", "input": {}}],
            }
        },
    ]
    results = [{"toolUseId": "t1", "content": [{"text": "file.txt"}], "status": "success"}]
    body = request_body("", tools=["Bash"], tool_results=results, history=history)
    status, data, _ = await generate(session, emulator.url, token, body)
    assert status == 200
    assert _text(decode_events(data)) == "Echo: file.txt"


async def test_missing_or_unknown_bearer_is_403(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{emulator.url}/generateAssistantResponse"
    async with session.post(url, json=request_body()) as resp:
        assert resp.status == 403
        assert await resp.json() == INVALID_BEARER
    status, _, _ = await generate(session, emulator.url, "aoaNOTISSUED")
    assert status == 403


async def test_expired_access_token_is_403(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    emulator.state.advance_clock(3601)
    status, data, _ = await generate(session, emulator.url, token)
    assert status == 403
    assert data == b'{"message":"The bearer token included in the request is invalid."}'


async def test_expire_control_endpoint_kills_token_now(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    async with session.post(f"{emulator.url}/_emulator/expire", json={"accessToken": token}) as r:
        assert r.status == 200
    status, _, _ = await generate(session, emulator.url, token)
    assert status == 403


async def test_profile_arn_required_for_oauth_tokens(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(session, emulator.url, token, profile_arn=None)
    assert status == 400
    assert data == b'{"message":"profileArn is required for this request.","reason":null}'


async def test_profile_arn_optional_on_q_host(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(require_profile_arn=False)
    token = await social_token(session, emu.url)
    status, _, _ = await generate(session, emu.url, token, profile_arn=None)
    assert status == 200


async def test_foreign_profile_arn_is_403_and_malformed_is_400(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    other = "arn:aws:codewhisperer:us-east-1:111111111111:profile/OTHER"
    status, data, _ = await generate(session, emulator.url, token, profile_arn=other)
    assert status == 403
    assert b"bearer token" not in data
    status, data, _ = await generate(session, emulator.url, token, profile_arn="nonsense")
    assert status == 400
    assert data == b'{"message":"Invalid profileArn","reason":null}'


async def test_api_key_needs_tokentype_header_and_no_profile_arn(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{emulator.url}/generateAssistantResponse"
    key = "ksk_test_key"
    async with session.post(url, json=request_body(profile_arn=None), headers=bearer(key)) as r:
        assert r.status == 403
    headers = bearer(key, api_key=True)
    async with session.post(url, json=request_body(profile_arn=None), headers=headers) as r:
        assert r.status == 200
        assert _text(decode_events(await r.read())) == "Echo: hello"
    async with session.post(url, json=request_body(), headers=headers) as r:
        assert r.status == 403


async def test_revoked_api_key_is_403(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{emulator.url}/generateAssistantResponse"
    headers = bearer("ksk_abc", api_key=True)
    emulator.state.revoke(api_key="ksk_abc")
    async with session.post(url, json=request_body(profile_arn=None), headers=headers) as r:
        assert r.status == 403
    bad = bearer("ksk_revoked_1", api_key=True)
    async with session.post(url, json=request_body(profile_arn=None), headers=bad) as r:
        assert r.status == 403
    not_a_key = bearer("aoaSomething", api_key=True)
    async with session.post(url, json=request_body(profile_arn=None), headers=not_a_key) as r:
        assert r.status == 403


async def test_validation_violation_is_improperly_formed(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    body = request_body("hi", history=[{"assistantResponseMessage": {"content": "x"}}])
    status, data, resp = await generate(session, emulator.url, token, body)
    assert status == 400
    assert data == b'{"message":"Improperly formed request.","reason":null}'
    assert resp.headers["x-kirogate-emulator-violation"] == "history-starts-with-assistant"


async def test_empty_content_rule_is_configurable(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    from kirogate.protocol.validation import ValidationLimits

    strict = await make_emulator()
    token = await social_token(session, strict.url)
    status, _, _ = await generate(session, strict.url, token, content="")
    assert status == 400
    lax = await make_emulator(validation=ValidationLimits(require_content=False))
    token = await social_token(session, lax.url)
    status, _, _ = await generate(session, lax.url, token, content="")
    assert status == 200


async def test_tool_name_limit_is_configurable(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    from kirogate.protocol.validation import ValidationLimits

    emu = await make_emulator(validation=ValidationLimits(max_tool_name=5))
    token = await social_token(session, emu.url)
    status, _, resp = await generate(session, emu.url, token, tools=["TooLongName"])
    assert status == 400
    assert resp.headers["x-kirogate-emulator-violation"] == "tool-name-too-long"


async def test_non_json_body_is_improperly_formed(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    url = f"{emulator.url}/generateAssistantResponse"
    async with session.post(url, data=b"{not json", headers=bearer(token)) as resp:
        assert resp.status == 400
        assert await resp.json() == {"message": "Improperly formed request.", "reason": None}


async def test_body_over_limit_is_input_too_long(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(max_body_bytes=2000)
    token = await social_token(session, emu.url)
    status, data, _ = await generate(session, emu.url, token, content="x" * 3000)
    assert status == 400
    expected = b'{"message":"Input is too long.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}'
    assert data == expected


async def test_default_limit_accepts_600k_and_rejects_620k(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, _, _ = await generate(session, emulator.url, token, content="y" * 600_000)
    assert status == 200
    status, _, _ = await generate(session, emulator.url, token, content="y" * 620_000)
    assert status == 400


async def test_unknown_model_is_invalid_model_id(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    status, data, _ = await generate(session, emulator.url, token, model="gpt-4o")
    assert status == 400
    assert data == (
        b'{"message":"Invalid model. Please select a different model to continue.",'
        b'"reason":"INVALID_MODEL_ID"}'
    )


async def test_amz_target_form_starts_with_initial_response(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    headers = {
        **bearer(token),
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    }
    async with session.post(emulator.url + "/", json=request_body("yo"), headers=headers) as r:
        assert r.status == 200
        events = decode_events(await r.read())
    assert events[0] == InitialResponse("conv-1")
    assert _text(events) == "Echo: yo"


async def test_unknown_amz_target_is_400(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    headers = {"X-Amz-Target": "AmazonCodeWhispererService.Nope"}
    async with session.post(emulator.url + "/", json={}, headers=headers) as r:
        assert r.status == 400
        assert (await r.json())["__type"] == "UnknownOperationException"


async def test_successful_reply_charges_credits(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    events = await events_for(session, emulator.url, token, "count me")
    metering = next(e for e in events if isinstance(e, Metering))
    account = emulator.state.access_tokens[token].account
    assert account.usage.free_trial_usage == metering.usage


async def test_enforced_quota_answers_402_when_exhausted(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(
        refresh_token="aorQuota",
        usage={"usageLimit": 0.0, "freeTrialStatus": None, "enforce": True},
    )
    token = (await social_refresh(session, emulator.url, "aorQuota"))["accessToken"]
    status, data, _ = await generate(session, emulator.url, token)
    assert status == 402
    assert b"MONTHLY_REQUEST_COUNT" in data


async def test_list_available_models_returns_catalogue(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    url = f"{emulator.url}/ListAvailableModels?origin=AI_EDITOR"
    async with session.get(url, headers=bearer(token)) as resp:
        assert resp.status == 200
        models = (await resp.json())["models"]
    assert {m["modelId"] for m in models} == KNOWN_MODEL_IDS
    sonnet46 = next(m for m in models if m["modelId"] == "claude-sonnet-4.6")
    assert sonnet46["tokenLimits"] == {
        "maxInputTokens": 1_000_000,
        "maxOutputTokens": MAX_OUTPUT_TOKENS,
    }
    assert all(m["modelName"] for m in models)
    async with session.get(url) as resp:
        assert resp.status == 403


async def test_list_available_profiles_returns_account_profile(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorIdc", client_id="emu-client")
    token = emulator.state.issue_access_token(emulator.state.refresh_tokens["aorIdc"])
    url = f"{emulator.url}/listAvailableProfiles"
    async with session.post(url, json={}, headers=bearer(token)) as resp:
        assert resp.status == 200
        profiles = (await resp.json())["profiles"]
    account = emulator.state.refresh_tokens["aorIdc"]
    assert profiles == [
        {
            "arn": account.profile_arn,
            "profileName": "KiroProfile-us-east-1",
            "profileType": "Q_DEVELOPER",
            "status": "ACTIVE",
        }
    ]
    assert account.profile_arn.startswith("arn:aws:codewhisperer:us-east-1:")


async def test_idc_token_works_with_discovered_profile_arn(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorIdc2", client_id="emu-c")
    account = emulator.state.refresh_tokens["aorIdc2"]
    token = emulator.state.issue_access_token(account)
    status, _, _ = await generate(session, emulator.url, token, profile_arn=account.profile_arn)
    assert status == 200
    status, _, _ = await generate(session, emulator.url, token)  # the social ARN
    assert status == 403

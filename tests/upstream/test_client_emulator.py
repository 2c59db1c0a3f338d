"""KiroClient end to end against the Kiro emulator (runtime-host rules: profileArn required
for OAuth tokens, forbidden for API keys)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.errors import (
    CorruptFrame,
    CredentialUnusable,
    QuotaExhausted,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamForbidden,
    UpstreamInputTooLong,
    UpstreamInvalidModel,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kirogate.protocol.events import AssistantText, StreamException, ToolUseFragment
from kirogate.protocol.request import KiroRequest, UserInputMessage
from kirogate.upstream.auth.profiles import ensure_profile_arn
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.upstream.test_client import MACHINE_ID, TV2_EVENTS, collect, kiro_client


@asynccontextmanager
async def emulated(**config: Any) -> AsyncIterator[tuple[RunningEmulator, KiroClient]]:
    emulator = await start_emulator(EmulatorConfig(port=0, **config))
    try:
        async with kiro_client(
            emulator.url, host_style="runtime", first_token_timeout=5, stream_idle_timeout=5
        ) as client:
            yield emulator, client
    finally:
        await emulator.close()


def idc_credential(emulator: RunningEmulator, *, scenario: str | None = None) -> Credential:
    """An IdC credential the emulator knows, without its profileArn (as IdC tokens come)."""
    token = f"aoaAAAAtest-{len(emulator.state.accounts)}"
    emulator.state.register_credential(access_token=token, auth_method="idc", scenario=scenario)
    return Credential(auth_method=AuthMethod.IDC, access_token=token, refresh_token="r" * 100)


async def ready(
    emulator: RunningEmulator, client: KiroClient, *, scenario: str | None = None
) -> Credential:
    credential = idc_credential(emulator, scenario=scenario)
    await ensure_profile_arn(client, credential, machine_id=MACHINE_ID)
    return credential


def ask(content: str) -> KiroRequest:
    return KiroRequest(
        conversation_id="conv-emulator-1",
        current=UserInputMessage(content=content, model_id="claude-sonnet-4.5"),
    )


async def test_discovered_profile_arn_is_accepted_by_the_emulator() -> None:
    async with emulated() as (emulator, client):
        credential = idc_credential(emulator)
        arn = await ensure_profile_arn(client, credential, machine_id=MACHINE_ID)
        account = next(iter(emulator.state.accounts.values()))
        assert arn == account.profile_arn
        events = await collect(
            await client.open_stream(credential, ask("hello"), machine_id=MACHINE_ID)
        )
    assert any(isinstance(event, AssistantText) and event.content for event in events)


async def test_without_profile_arn_the_runtime_host_rejects() -> None:
    async with emulated() as (emulator, client):
        credential = idc_credential(emulator)
        with pytest.raises(UpstreamBadRequest, match="profileArn is required"):
            await client.open_stream(credential, ask("hello"), machine_id=MACHINE_ID)


async def test_api_key_streams_without_profile_arn() -> None:
    async with emulated() as (_, client):
        credential = Credential(auth_method=AuthMethod.API_KEY, kiro_api_key="ksk_emulated_key")
        assert await ensure_profile_arn(client, credential, machine_id=MACHINE_ID) is None
        events = await collect(
            await client.open_stream(credential, ask("hi"), machine_id=MACHINE_ID)
        )
    assert any(isinstance(event, AssistantText) for event in events)


async def test_tv2_decodes_from_one_to_three_byte_http_chunks() -> None:
    async with emulated(http_chunk_split=3) as (emulator, client):
        credential = await ready(emulator, client)
        stream = await client.open_stream(credential, ask("[[emu:tv2]]"), machine_id=MACHINE_ID)
        events = await collect(stream)
    assert events == TV2_EVENTS


async def test_tv3_split_inside_a_utf8_character() -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client)
        stream = await client.open_stream(
            credential, ask("[[emu:tv3-split]]"), machine_id=MACHINE_ID
        )
        events = await collect(stream)
    fragments = [
        e for e in events if isinstance(e, ToolUseFragment) and e.tool_use_id == "tooluse_A"
    ]
    assert "".join(f.input for f in fragments) == '{"file_path":"/tmp/äö.txt"}'


async def test_exception_frame_arrives_as_an_event() -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client)
        stream = await client.open_stream(
            credential, ask("[[emu:tv6-throttle]]"), machine_id=MACHINE_ID
        )
        events = await collect(stream)
    assert events[-1] == StreamException("ThrottlingException", "Rate exceeded")


SCENARIO_ERRORS = [
    ("malformed", UpstreamBadRequest),
    ("too-long", UpstreamInputTooLong),
    ("invalid-model", UpstreamInvalidModel),
    ("quota", QuotaExhausted),
    ("bad-token", UpstreamAuthRejected),
    ("suspended", UpstreamForbidden),
    ("throttle", UpstreamThrottled),
    ("server-error", UpstreamUnavailable),
    ("unavailable", UpstreamUnavailable),
]


@pytest.mark.parametrize(("scenario", "expected"), SCENARIO_ERRORS)
async def test_emulated_http_errors_are_classified(
    scenario: str, expected: type[UpstreamError]
) -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client, scenario=scenario)
        with pytest.raises(UpstreamError) as caught:
            await client.open_stream(credential, ask("hello"), machine_id=MACHINE_ID)
    assert type(caught.value) is expected


async def test_emulated_throttle_retry_after() -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client, scenario="throttle retry_after=2")
        with pytest.raises(UpstreamThrottled) as caught:
            await client.open_stream(credential, ask("hello"), machine_id=MACHINE_ID)
    assert caught.value.retry_after == 2.0


async def test_emulated_drop_is_a_connection_error() -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client)
        stream = await client.open_stream(
            credential, ask("[[emu:drop after=1]] a few words"), machine_id=MACHINE_ID
        )
        with pytest.raises(UpstreamConnectionError):
            await collect(stream)


async def test_emulated_corrupt_frame() -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client)
        stream = await client.open_stream(
            credential, ask("[[emu:corrupt at=1]] some words here"), machine_id=MACHINE_ID
        )
        with pytest.raises(CorruptFrame):
            await collect(stream)


async def test_emulated_stall_hits_the_idle_timeout() -> None:
    async with (
        emulated() as (emulator, _),
        kiro_client(emulator.url, host_style="runtime", stream_idle_timeout=0.3) as client,
    ):
        credential = await ready(emulator, client)
        stream = await client.open_stream(
            credential, ask("[[emu:stall seconds=3 after=1]] hi there"), machine_id=MACHINE_ID
        )
        with pytest.raises(UpstreamTimeout):
            await collect(stream)
        assert stream.first_event_received


async def test_emulated_stall_before_headers_hits_the_first_token_timeout() -> None:
    async with (
        emulated() as (emulator, _),
        kiro_client(emulator.url, host_style="runtime", first_token_timeout=0.3) as client,
    ):
        credential = await ready(emulator, client)
        with pytest.raises(UpstreamTimeout):
            await client.open_stream(
                credential, ask("[[emu:stall seconds=3 headers=0]] hi"), machine_id=MACHINE_ID
            )


async def test_emulated_web_search_usage_and_models() -> None:
    async with emulated() as (emulator, client):
        credential = await ready(emulator, client)
        results = await client.web_search(credential, "rust async traits", machine_id=MACHINE_ID)
        usage = await client.usage_limits(credential, machine_id=MACHINE_ID)
        models = await client.list_models(credential, machine_id=MACHINE_ID)
    assert results["results"]
    assert all("url" in item for item in results["results"])
    assert "usageBreakdownList" in usage
    assert usage["userInfo"]["email"]
    assert any(model.get("modelId") == "claude-sonnet-4.5" for model in models)


async def test_a_header_the_http_client_refuses_is_the_credentials_fault() -> None:
    async with emulated() as (_, client):
        credential = Credential(
            auth_method=AuthMethod.API_KEY, kiro_api_key="ksk_emulated\r\nX-Injected: 1", id=9
        )
        with pytest.raises(CredentialUnusable) as caught:
            await client.open_stream(credential, ask("hi"), machine_id=MACHINE_ID)
    assert "#9" in caught.value.message
    assert "ksk_emulated" not in caught.value.message

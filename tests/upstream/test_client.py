"""KiroClient against small fake upstreams on 127.0.0.1: headers, bodies, event decoding,
timeouts, dropped connections, HTTP errors, and the JSON calls (mcp, usage, models)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy, MultiMapping

from kirogate.errors import (
    CorruptFrame,
    QuotaExhausted,
    TruncatedStream,
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
from kirogate.protocol.events import (
    AssistantText,
    ContextUsage,
    Metering,
    StreamException,
    ToolUseFragment,
    event_frame,
    exception_frame,
    parse_event,
)
from kirogate.protocol.eventstream import iter_messages
from kirogate.protocol.request import KiroRequest, UserInputMessage
from kirogate.settings import UpstreamSettings
from kirogate.upstream.client import KiroClient, mcp_request_id, wire_request
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.http import HttpPool
from kirogate.upstream.stream import UpstreamStream
from tests.memory_upstream import events

MACHINE_ID = "a" * 64
ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABCDEF1234"
OTHER_ARN = "arn:aws:codewhisperer:us-east-1:999999999999:profile/OTHER"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------- fakes


@dataclass
class Seen:
    method: str
    path: str
    query: MultiMapping[str]
    raw_query: str
    headers: CIMultiDictProxy[str]
    body: bytes
    peer: Any

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class FakeUpstream:
    """An aiohttp.web app answering each (method, path) with a handler; records requests."""

    url: str = ""
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.query,
                request.raw_path.partition("?")[2],
                request.headers,
                body,
                peer,
            )
        )
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return web.json_response({"message": "no such route"}, status=404)
        return await handler(request)


@asynccontextmanager
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A plain TCP server: the handler writes exact HTTP bytes (for drops and bad bodies)."""

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
    return head


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part)


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/vnd.amazon.eventstream\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def settings_for(url: str, **overrides: Any) -> UpstreamSettings:
    base = UpstreamSettings(
        url=url,
        host_style="q",
        connect_timeout=2.0,
        first_token_timeout=5.0,
        stream_idle_timeout=5.0,
    )
    return replace(base, **overrides)


@asynccontextmanager
async def kiro_client(url: str, **overrides: Any) -> AsyncIterator[KiroClient]:
    settings = settings_for(url, **overrides)
    pool = HttpPool(settings)
    try:
        yield KiroClient(settings, pool)
    finally:
        await pool.close()


def social(**kw: Any) -> Credential:
    return Credential(
        auth_method=AuthMethod.SOCIAL, access_token="aoaAAAAaccess", refresh_token="r" * 120, **kw
    )


def api_key(**kw: Any) -> Credential:
    return Credential(auth_method=AuthMethod.API_KEY, kiro_api_key="ksk_test_key_123456", **kw)


def request(**kw: Any) -> KiroRequest:
    return KiroRequest(
        conversation_id="c0ffee00-0000-4000-8000-000000000000",
        current=UserInputMessage(content="hi", model_id="claude-sonnet-4.5"),
        **kw,
    )


def stream_handler(body: bytes, *, chunk: int | None = None, delay: float = 0.0) -> Handler:
    """Answer 200 with ``body`` written ``chunk`` bytes at a time."""

    async def handler(req: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
        await resp.prepare(req)
        step = chunk or len(body) or 1
        for pos in range(0, len(body), step):
            await resp.write(body[pos : pos + step])
            if chunk:
                await asyncio.sleep(0)
        if delay:
            await asyncio.sleep(delay)
        await resp.write_eof()
        return resp

    return handler


async def collect(stream: UpstreamStream) -> list[Any]:
    async with stream:
        return [event async for event in events(stream)]


TV2 = b"".join(
    [
        event_frame("assistantResponseEvent", {"content": "I'll list the files."}),
        event_frame(
            "toolUseEvent",
            {"name": "Bash", "toolUseId": "tooluse_Q1w2E3r4T5y6U7i8O9p0As", "input": ""},
        ),
        event_frame(
            "toolUseEvent",
            {"input": '{"comm', "name": "Bash", "toolUseId": "tooluse_Q1w2E3r4T5y6U7i8O9p0As"},
        ),
        event_frame(
            "toolUseEvent",
            {"input": 'and": "ls -', "name": "Bash", "toolUseId": "tooluse_Q1w2E3r4T5y6U7i8O9p0As"},
        ),
        event_frame(
            "toolUseEvent",
            {"input": 'la"}', "name": "Bash", "toolUseId": "tooluse_Q1w2E3r4T5y6U7i8O9p0As"},
        ),
        event_frame(
            "toolUseEvent",
            {"name": "Bash", "stop": True, "toolUseId": "tooluse_Q1w2E3r4T5y6U7i8O9p0As"},
        ),
        event_frame("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": 0.02}),
        event_frame("contextUsageEvent", {"contextUsagePercentage": 3.5}),
    ]
)
TV2_EVENTS = [
    AssistantText("I'll list the files."),
    ToolUseFragment("tooluse_Q1w2E3r4T5y6U7i8O9p0As", "Bash", ""),
    ToolUseFragment("tooluse_Q1w2E3r4T5y6U7i8O9p0As", "Bash", '{"comm'),
    ToolUseFragment("tooluse_Q1w2E3r4T5y6U7i8O9p0As", "Bash", 'and": "ls -'),
    ToolUseFragment("tooluse_Q1w2E3r4T5y6U7i8O9p0As", "Bash", 'la"}'),
    ToolUseFragment("tooluse_Q1w2E3r4T5y6U7i8O9p0As", "Bash", "", stop=True),
    Metering(0.02),
    ContextUsage(3.5),
]
TV3 = b"".join(
    [
        event_frame(
            "toolUseEvent",
            {"name": "Read", "toolUseId": "tooluse_A", "input": '{"file_path":"/tmp/ä'},
        ),
        event_frame("toolUseEvent", {"input": 'ö.txt"}', "name": "Read", "toolUseId": "tooluse_A"}),
        event_frame("toolUseEvent", {"name": "Read", "stop": True, "toolUseId": "tooluse_A"}),
    ]
)


# ---------------------------------------------------------------- request side


async def test_stream_headers_identify_as_kiro_ide() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(b""))
        await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
    headers = fake.seen[0].headers
    assert headers["Authorization"] == "Bearer aoaAAAAaccess"
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amz-user-agent"] == f"aws-sdk-js/1.0.34 KiroIDE-0.11.107-{MACHINE_ID}"
    assert re.fullmatch(
        rf"aws-sdk-js/1\.0\.34 ua/2\.1 os/\S+ lang/js md/nodejs#22\.22\.0 "
        rf"api/codewhispererstreaming#1\.0\.34 m/E KiroIDE-0\.11\.107-{MACHINE_ID}",
        headers["User-Agent"],
    )
    assert headers["x-amzn-codewhisperer-optout"] == "true"
    assert headers["x-amzn-kiro-agent-mode"] == "vibe"
    assert "tokentype" not in headers


async def test_stream_url_follows_a_new_upstream_url() -> None:
    async with (
        fake_upstream() as first,
        fake_upstream() as second,
        kiro_client(first.url) as client,
    ):
        for fake in (first, second):
            fake.on("POST", "/generateAssistantResponse", stream_handler(b""))
        await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
        client.apply_settings(settings_for(second.url))
        await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
    assert len(first.seen) == 1 and len(second.seen) == 1


async def test_body_is_the_requests_wire_form_with_the_credentials_arn() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(b""))
        req = request(profile_arn=OTHER_ARN)
        await collect(await client.open_stream(social(profile_arn=ARN), req, machine_id=MACHINE_ID))
    assert fake.seen[0].body == orjson.dumps(req.to_wire(profile_arn=ARN))
    assert fake.seen[0].json()["profileArn"] == ARN


async def test_api_key_sends_tokentype_and_no_profile_arn() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(b""))
        credential = api_key(profile_arn=ARN)
        stream = await client.open_stream(
            credential, request(profile_arn=OTHER_ARN), machine_id=MACHINE_ID
        )
        await collect(stream)
    seen = fake.seen[0]
    assert seen.headers["Authorization"] == "Bearer ksk_test_key_123456"
    assert seen.headers["tokentype"] == "API_KEY"
    assert "profileArn" not in seen.json()


def test_dict_request_gets_the_credentials_arn_and_is_not_mutated() -> None:
    raw = {"conversationState": {"conversationId": "x"}, "profileArn": OTHER_ARN}
    assert wire_request(social(profile_arn=ARN), raw)["profileArn"] == ARN
    assert "profileArn" not in wire_request(api_key(), raw)
    assert raw["profileArn"] == OTHER_ARN


def test_credential_without_arn_keeps_the_requests_own() -> None:
    assert wire_request(social(), request(profile_arn=OTHER_ARN))["profileArn"] == OTHER_ARN


# ---------------------------------------------------------------- decoding


async def test_events_decode_from_one_byte_http_chunks() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(TV2, chunk=1))
        events = await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
    assert events == TV2_EVENTS


async def test_multibyte_character_split_across_http_chunks() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(TV3, chunk=1))
        events = await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
    assert "".join(e.input for e in events) == '{"file_path":"/tmp/äö.txt"}'


async def test_stream_exposes_status_headers_and_first_event_flag() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(TV2))
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        async with stream:
            assert stream.status == 200
            assert stream.headers["Content-Type"] == "application/vnd.amazon.eventstream"
            assert stream.first_event_received is False
            await anext(events(stream))
            assert stream.first_event_received is True


async def test_exception_frame_is_yielded_not_raised() -> None:
    body = event_frame("assistantResponseEvent", {"content": "Hi"}) + exception_frame(
        "ThrottlingException", {"message": "Rate exceeded"}
    )
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(body))
        events = await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
    assert events == [AssistantText("Hi"), StreamException("ThrottlingException", "Rate exceeded")]


async def test_frames_split_across_small_chunks_are_read_whole() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(TV2, chunk=7))
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        got = [event async for event in events(stream)]
    assert got == [parse_event(message) for message in iter_messages(TV2)]
    assert stream.closed


# ---------------------------------------------------------------- timeouts and failures


async def test_no_response_headers_within_first_token_timeout() -> None:
    async def slow(req: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.Response()

    async with fake_upstream() as fake, kiro_client(fake.url, first_token_timeout=0.2) as client:
        fake.on("POST", "/generateAssistantResponse", slow)
        with pytest.raises(UpstreamTimeout):
            await client.open_stream(social(), request(), machine_id=MACHINE_ID)


async def test_no_first_event_within_first_token_timeout() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url, first_token_timeout=0.3) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(b"", delay=2))
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        with pytest.raises(UpstreamTimeout, match="first event"):
            await collect(stream)
    assert stream.first_event_received is False


async def test_idle_timeout_between_events() -> None:
    frame = event_frame("assistantResponseEvent", {"content": "Hi"})
    async with fake_upstream() as fake, kiro_client(fake.url, stream_idle_timeout=0.2) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(frame, delay=2))
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        async with stream:
            assert await anext(events(stream)) == AssistantText("Hi")
            with pytest.raises(UpstreamTimeout, match="mid-stream"):
                await anext(events(stream))
    assert stream.first_event_received is True


async def test_dropped_connection_mid_stream() -> None:
    frame = event_frame("assistantResponseEvent", {"content": "Hi"})

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(STREAM_HEAD + chunked(frame, frame[:10]))
        await writer.drain()

    async with raw_server(drop) as url, kiro_client(url) as client:
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        async with stream:
            assert await anext(events(stream)) == AssistantText("Hi")
            with pytest.raises(UpstreamConnectionError):
                await anext(events(stream))


async def test_body_ending_inside_a_frame_is_truncated() -> None:
    frame = event_frame("assistantResponseEvent", {"content": "Hi"})

    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(STREAM_HEAD + chunked(frame, frame[:10]) + b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with raw_server(short) as url, kiro_client(url) as client:
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        with pytest.raises(TruncatedStream):
            await collect(stream)


async def test_corrupt_frame_raises() -> None:
    frame = bytearray(event_frame("assistantResponseEvent", {"content": "Hi"}))
    frame[-1] ^= 0xFF
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(bytes(frame)))
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        with pytest.raises(CorruptFrame):
            await collect(stream)
        assert stream.closed


async def test_unreachable_upstream_is_a_connection_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with kiro_client(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(UpstreamConnectionError, match="cannot reach upstream"):
            await client.open_stream(social(), request(), machine_id=MACHINE_ID)


async def test_unreachable_upstream_keeps_the_library_error_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with kiro_client(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(UpstreamConnectionError) as caught:
            await client.open_stream(social(), request(), machine_id=MACHINE_ID)
    assert str(caught.value) == "cannot reach upstream"
    assert "ClientConnectorError" in caplog.text


HTTP_ERRORS = [
    (400, {"message": "Improperly formed request.", "reason": None}, UpstreamBadRequest),
    (
        400,
        {"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"},
        UpstreamInputTooLong,
    ),
    (
        400,
        {"message": "Invalid model.", "reason": "INVALID_MODEL_ID"},
        UpstreamInvalidModel,
    ),
    (
        402,
        {"message": "You have reached the limit.", "reason": "MONTHLY_REQUEST_COUNT"},
        QuotaExhausted,
    ),
    (
        403,
        {"message": "The bearer token included in the request is invalid."},
        UpstreamAuthRejected,
    ),
    (403, {"message": "suspended", "reason": "TEMPORARILY_SUSPENDED"}, UpstreamForbidden),
    (429, {"message": "Rate exceeded", "__type": "ThrottlingException"}, UpstreamThrottled),
    (408, {"message": "timeout"}, UpstreamTimeout),
    (500, {"message": "Encountered an unexpected error"}, UpstreamUnavailable),
    (418, {"message": "teapot"}, UpstreamError),
]


@pytest.mark.parametrize(("status", "payload", "expected"), HTTP_ERRORS)
async def test_http_error_raises_its_class(
    status: int, payload: dict[str, Any], expected: type[UpstreamError]
) -> None:
    async def fail(req: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status)

    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", fail)
        with pytest.raises(UpstreamError) as caught:
            await client.open_stream(social(), request(), machine_id=MACHINE_ID)
    assert type(caught.value) is expected
    assert caught.value.upstream_status == status
    assert payload["message"] in (caught.value.body or "")


async def test_throttled_carries_retry_after() -> None:
    async def fail(req: web.Request) -> web.StreamResponse:
        return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "3"})

    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", fail)
        with pytest.raises(UpstreamThrottled) as caught:
            await client.open_stream(social(), request(), machine_id=MACHINE_ID)
    assert caught.value.retry_after == 3.0


# ---------------------------------------------------------------- connection release


def acquired(client: KiroClient) -> int:
    session, _ = client._pool.session_for(None)
    assert session.connector is not None
    return len(session.connector._acquired)


async def test_closing_a_stream_early_releases_the_connection() -> None:
    frame = event_frame("assistantResponseEvent", {"content": "Hi"})
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(frame * 3, delay=5))
        stream = await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        assert acquired(client) == 1
        async with stream:
            await anext(events(stream))
        assert acquired(client) == 0
        assert stream.closed


async def test_abandoned_iteration_inside_async_with_releases_the_connection() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(TV2, delay=5))
        with pytest.raises(RuntimeError):
            async with await client.open_stream(social(), request(), machine_id=MACHINE_ID) as s:
                async for _ in events(s):
                    raise RuntimeError("client went away")
        assert acquired(client) == 0


async def test_error_answer_releases_the_connection() -> None:
    async def fail(req: web.Request) -> web.StreamResponse:
        return web.json_response({"message": "no"}, status=500)

    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", fail)
        with pytest.raises(UpstreamUnavailable):
            await client.open_stream(social(), request(), machine_id=MACHINE_ID)
        assert acquired(client) == 0


async def test_a_finished_stream_returns_its_connection_for_reuse() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/generateAssistantResponse", stream_handler(TV2))
        for _ in range(2):
            await collect(await client.open_stream(social(), request(), machine_id=MACHINE_ID))
        assert acquired(client) == 0
    assert fake.seen[0].peer == fake.seen[1].peer  # same client socket: keep-alive


# ---------------------------------------------------------------- web search


SEARCH_RESULTS = {
    "results": [
        {
            "title": "Async traits",
            "url": "https://example.com/a",
            "snippet": "about async",
            "publishedDate": 1718000000000,
            "id": "r1",
            "domain": "example.com",
            "maxVerbatimWordLimit": 200,
            "publicDomain": False,
        }
    ],
    "totalResults": 10,
    "query": "rust async traits",
    "error": None,
}


def mcp_answer(result: dict[str, Any]) -> Handler:
    async def handler(req: web.Request) -> web.StreamResponse:
        body = await req.json()
        return web.json_response({"id": body["id"], "jsonrpc": "2.0", **result})

    return handler


def test_mcp_request_id_shape() -> None:
    value = mcp_request_id(now_ms=1718000000123)
    assert re.fullmatch(r"web_search_tooluse_[A-Za-z0-9]{22}_1718000000123_[a-z0-9]{8}", value)


async def test_web_search_request_shape() -> None:
    answer = {"result": {"isError": False, "content": [{"type": "text", "text": "{}"}]}}
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/mcp", mcp_answer(answer))
        await client.web_search(social(profile_arn=ARN), "rust async traits", machine_id=MACHINE_ID)
    seen = fake.seen[0]
    body = seen.json()
    assert re.fullmatch(r"web_search_tooluse_[A-Za-z0-9]{22}_\d{13}_[a-z0-9]{8}", body.pop("id"))
    assert body == {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "params": {"name": "web_search", "arguments": {"query": "rust async traits"}},
    }
    assert seen.headers["x-amzn-kiro-profile-arn"] == ARN
    assert "x-amzn-codewhisperer-optout" not in seen.headers
    assert "x-amzn-kiro-agent-mode" not in seen.headers


async def test_web_search_parses_the_nested_results() -> None:
    text = orjson.dumps(SEARCH_RESULTS).decode()
    answer = {"result": {"isError": False, "content": [{"type": "text", "text": text}]}}
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/mcp", mcp_answer(answer))
        results = await client.web_search(social(), "rust async traits", machine_id=MACHINE_ID)
    assert results == SEARCH_RESULTS


async def test_web_search_json_rpc_error_gives_empty_results() -> None:
    answer = {"error": {"code": -32000, "message": "search backend down"}}
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/mcp", mcp_answer(answer))
        results = await client.web_search(social(), "q", machine_id=MACHINE_ID)
    assert results["results"] == []
    assert results["error"] == "search backend down"


async def test_web_search_is_error_result_gives_empty_results() -> None:
    answer = {"result": {"isError": True, "content": [{"type": "text", "text": "boom"}]}}
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/mcp", mcp_answer(answer))
        results = await client.web_search(social(), "q", machine_id=MACHINE_ID)
    assert results["results"] == []


async def test_web_search_http_error_raises() -> None:
    async def fail(req: web.Request) -> web.StreamResponse:
        return web.json_response({"message": "Rate exceeded"}, status=429)

    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/mcp", fail)
        with pytest.raises(UpstreamThrottled):
            await client.web_search(social(), "q", machine_id=MACHINE_ID)


# ---------------------------------------------------------------- usage, models, profiles


def json_answer(payload: Any, status: int = 200) -> Handler:
    async def handler(req: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status)

    return handler


async def test_usage_limits_query_and_headers() -> None:
    usage = {"daysUntilReset": 12, "usageBreakdownList": []}
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("GET", "/getUsageLimits", json_answer(usage))
        result = await client.usage_limits(social(profile_arn=ARN), machine_id=MACHINE_ID)
    assert result == usage
    seen = fake.seen[0]
    assert seen.raw_query == (
        "origin=AI_EDITOR&resourceType=AGENTIC_REQUEST&isEmailRequired=true"
        "&profileArn=arn%3Aaws%3Acodewhisperer%3Aus-east-1%3A123456789012%3Aprofile%2FABCDEF1234"
    )
    assert seen.query["profileArn"] == ARN
    assert "api/codewhispererruntime#1.0.0 m/N,E" in seen.headers["User-Agent"]
    assert seen.headers["amz-sdk-request"] == "attempt=1; max=1"


async def test_usage_limits_for_api_key_sends_no_profile_arn() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("GET", "/getUsageLimits", json_answer({}))
        await client.usage_limits(api_key(profile_arn=ARN), machine_id=MACHINE_ID)
    seen = fake.seen[0]
    assert "profileArn" not in seen.query
    assert seen.headers["tokentype"] == "API_KEY"


async def test_usage_limits_auth_error_raises() -> None:
    body = {"message": "The bearer token included in the request is invalid."}
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("GET", "/getUsageLimits", json_answer(body, status=403))
        with pytest.raises(UpstreamAuthRejected):
            await client.usage_limits(social(), machine_id=MACHINE_ID)


async def test_non_json_answer_is_an_upstream_error() -> None:
    async def html(req: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>", content_type="text/html")

    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("GET", "/getUsageLimits", html)
        with pytest.raises(UpstreamError, match="invalid JSON"):
            await client.usage_limits(social(), machine_id=MACHINE_ID)


async def test_list_models_follows_next_token() -> None:
    async def models(req: web.Request) -> web.StreamResponse:
        if req.query.get("nextToken") == "page2":
            return web.json_response({"models": [{"modelId": "claude-haiku-4.5"}]})
        return web.json_response({"models": [{"modelId": "auto"}], "nextToken": "page2"})

    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("GET", "/ListAvailableModels", models)
        result = await client.list_models(social(), machine_id=MACHINE_ID)
    assert [m["modelId"] for m in result] == ["auto", "claude-haiku-4.5"]
    assert fake.seen[0].raw_query == "origin=AI_EDITOR"


async def test_list_profiles_posts_an_empty_object() -> None:
    profiles = [{"arn": ARN, "profileName": "p", "profileType": "Q_DEVELOPER", "status": "ACTIVE"}]
    async with fake_upstream() as fake, kiro_client(fake.url) as client:
        fake.on("POST", "/listAvailableProfiles", json_answer({"profiles": profiles}))
        result = await client.list_profiles(social(), machine_id=MACHINE_ID)
    assert result == profiles
    assert fake.seen[0].body == b"{}"
    assert fake.seen[0].headers["Content-Type"] == "application/json"

"""The relay loop (one loop for streamed and collected answers, errors classified once), and
web searches on the answers' failover path."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.ir import (
    Conversation,
    Finish,
    Image,
    OutEvent,
    Text,
    TextDelta,
    ToolResult,
    Turn,
)
from kirogate.convert.models import resolve_model
from kirogate.convert.render import StreamRenderer
from kirogate.errors import KirogateError, UpstreamThrottled, UpstreamUnavailable
from kirogate.pool.credential_pool import CredentialPool
from kirogate.protocol.events import event_frame, exception_frame
from kirogate.service.answer import Answering, FinalChunk, has_images, relay
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.memory_upstream import FakeAnswer, MemoryUpstream, assembler


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


def anthropic() -> AnthropicStreamRenderer:
    return AnthropicStreamRenderer("claude-sonnet-4.5", "msg_1", 10, False)


async def opened(up: MemoryUpstream, *frames: bytes) -> FakeAnswer:
    """As the failover loop hands an answer over: the first chunk's frames already read."""
    up.send(*frames)
    first = await up.stream.next_messages()
    assert isinstance(first, list)
    return FakeAnswer(up.stream, first, assembler())


class Recorder(StreamRenderer):
    """Names what the relay asked for, so the calls can be seen."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> bytes:
        return b"<start>"

    def feed(self, event: OutEvent) -> bytes:
        self.calls.append(f"feed {type(event).__name__}")
        return b"<" + type(event).__name__.encode() + b">"

    def render_text(self, text: str) -> bytes:
        self.calls.append(f"text {text}")
        return b"<" + text.encode() + b">"

    def error(self, exc: KirogateError) -> bytes:
        return b"<error " + type(exc).__name__.encode() + b">"


async def test_the_opening_goes_out_with_the_first_chunk_in_one_write() -> None:
    up = MemoryUpstream()
    answer = await opened(up, text("Hi"), text(" there"))
    up.send(text("!"))
    up.end()
    writes = [chunk async for chunk in relay(answer, Recorder())]  # type: ignore[arg-type]
    assert writes[0] == b"<start><Hi>< there>"
    assert writes[1] == b"<!>"
    assert type(writes[-1]) is FinalChunk
    assert writes[-1].endswith(b"<Finish>")
    assert answer.closed == 1


async def test_plain_text_takes_the_renderers_text_path() -> None:
    up = MemoryUpstream()
    answer = await opened(up, text("a"))
    up.end()
    renderer = Recorder()
    [chunk async for chunk in relay(answer, renderer)]  # type: ignore[arg-type]
    assert renderer.calls == ["text a", "feed Finish"]


async def test_an_exception_frame_is_classified_for_the_client_and_drawn() -> None:
    up = MemoryUpstream()
    answer = await opened(up, text("Hi"))
    up.send(exception_frame("ThrottlingException", {"message": "Rate exceeded"}))
    up.end()
    writes = [chunk async for chunk in relay(answer, anthropic())]  # type: ignore[arg-type]
    assert isinstance(answer.error, UpstreamThrottled)
    error = orjson.loads(writes[-1].split(b"event: error\ndata: ", 1)[1])
    assert error["error"]["type"] == "rate_limit_error"
    assert answer.closed == 1


async def test_an_empty_answer_still_opens_and_ends() -> None:
    up = MemoryUpstream()
    up.end()
    answer = FakeAnswer(up.stream, None, assembler())
    writes = [chunk async for chunk in relay(answer, Recorder())]  # type: ignore[arg-type]
    assert writes == [b"<start>", b"<Finish>"]


async def test_collect_gathers_the_output_events_through_the_relay() -> None:
    up = MemoryUpstream()
    answer = await opened(up, text("Hello"))
    up.send(text(" world"))
    up.end()
    events = await Answering().collect(answer)  # type: ignore[arg-type]
    assert [e.text for e in events if type(e) is TextDelta] == ["Hello", " world"]
    assert type(events[-1]) is Finish
    assert answer.remembered[-1] == events[-1]
    assert answer.closed == 1


async def test_collect_raises_the_classified_error() -> None:
    up = MemoryUpstream()
    answer = await opened(up, text("Hi"))
    up.send(exception_frame("ThrottlingException", {"message": "Rate exceeded"}))
    up.end()
    with pytest.raises(UpstreamThrottled):
        await Answering().collect(answer)  # type: ignore[arg-type]
    assert isinstance(answer.error, UpstreamThrottled)
    assert answer.closed == 1


# ---------------------------------------------------------------- web search


class _SearchClient:
    def __init__(self, failures: list[KirogateError]) -> None:
        self.failures = failures
        self.queries: list[str] = []

    async def web_search(self, credential: Credential, query: str, *, machine_id: str) -> Any:
        self.queries.append(query)
        if self.failures:
            raise self.failures.pop(0)
        return {"results": [{"title": "Rust"}, "not a result"]}


class _Searching(Answering):
    """The parts of the gateway a web search uses."""

    def __init__(self, count: int, failures: list[KirogateError]) -> None:
        self.pool = CredentialPool(
            [
                Credential(AuthMethod.SOCIAL, refresh_token=f"{i}" * 40, access_token="a", id=i)
                for i in range(1, count + 1)
            ]
        )
        self.client = _SearchClient(failures)  # type: ignore[assignment]
        self.store = None

    async def machine_ready(self, credential: Credential) -> str:
        return "machine"


CONV = Conversation("claude-sonnet-4.5", (Turn("user", (Text("search"),)),))


async def test_a_web_search_keeps_only_result_objects() -> None:
    gateway = _Searching(1, [])
    found = await gateway.web_search(CONV, resolve_model(CONV.model), "rust")
    assert found == [{"title": "Rust"}]


async def test_a_web_search_fails_over_like_an_answer() -> None:
    gateway = _Searching(2, [UpstreamUnavailable("down")])
    found = await gateway.web_search(CONV, resolve_model(CONV.model), "rust")
    assert found == [{"title": "Rust"}]
    assert gateway.client.queries == ["rust", "rust"]  # type: ignore[attr-defined]


def test_has_images_looks_in_every_turn_and_in_tool_results() -> None:
    picture = Image("image/png", "aGk=")
    assert not has_images(CONV)
    assert has_images(Conversation("m", (Turn("user", (Text("see"), picture)),)))
    in_result = ToolResult("t1", "shot", images=(picture,))
    assert has_images(Conversation("m", (Turn("user", (in_result,)),)))
    assert not has_images(Conversation("m", (Turn("user", (ToolResult("t1", "no"),)),)))


async def test_pictures_are_fitted_off_the_event_loop(tmp_path, monkeypatch) -> None:
    import base64
    import io
    import threading

    from PIL import Image as PILImage

    import kirogate.convert.kiro as kiro_module
    from tests.emulated_gateway import CLIENT_KEY, running

    threads: list[int] = []
    real_fit = kiro_module.fit_image

    def recording_fit(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(kiro_module, "fit_image", recording_fit)
    png = io.BytesIO()
    PILImage.new("RGB", (4, 4)).save(png, "PNG")
    data = base64.b64encode(png.getvalue()).decode()
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 20,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": data},
                    },
                    {"type": "text", "text": "what is it?"},
                ],
            }
        ],
    }
    async with running(tmp_path) as (http, _):
        response = await http.post("/v1/messages", json=body, headers={"x-api-key": CLIENT_KEY})
    assert response.status_code == 200, response.text
    assert threads and threading.get_ident() not in threads

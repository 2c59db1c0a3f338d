"""Micro-benchmark of the streaming hot path, without sockets.

    python bench/micro.py [--repeat N] [--rounds R] [--json PATH|-]

Per upstream frame (one event-stream frame per HTTP chunk, as in the paced setting, except
``text burst``: ten frames per chunk, as a burst arrives), in CPU microseconds, best of R rounds of N requests of 200 chunks:

- ``pipeline``: event-stream decode -> ``parse_event`` -> ``StreamAssembler`` -> renderer
  -> SSE bytes, for plain text, tool-call fragments and ``<thinking>`` tags, with the
  Anthropic renderer (the assembler holds a ``max_tokens`` limit: Anthropic clients always
  send one), the OpenAI Chat renderer and the Responses renderer;
- ``streamed``: the same through ``UpstreamStream`` and ``api.streaming.sse_body`` over an
  in-memory aiohttp ``StreamReader`` fed one chunk per event-loop iteration, so the
  per-event asyncio cost (wakeups, deadlines, pings) is included; ``aiohttp floor`` is a bare
  ``readany`` loop over the same reader, the part that is not ours;
- the text pipeline split into its stages, and the CPU of a whole 40- and 200-chunk request.

``--repeat 1 --rounds 1`` runs everything once (the smoke test does that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.client_proto import ResponseHandler
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy

from kirogate.api.streaming import sse_body
from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.ir import OutEvent
from kirogate.convert.openai_out import ChatStreamRenderer
from kirogate.convert.responses_out import ResponsesStreamRenderer
from kirogate.convert.stream import StreamAssembler
from kirogate.protocol.events import event_frame, parse_event
from kirogate.protocol.eventstream import FrameDecoder, Message
from kirogate.tasks import spawn
from kirogate.upstream.stream import UpstreamStream

CHUNKS = 200
_TEXT = "The quick brown fox jumps over the lazy dog. "  # ~ one upstream text chunk
DIALECTS = ("anthropic", "openai", "responses")


def text_frames(n: int) -> list[bytes]:
    return [event_frame("assistantResponseEvent", {"content": _TEXT}) for _ in range(n)]


def tool_frames(n: int) -> list[bytes]:
    def frame(piece: str) -> bytes:
        body = {"input": piece, "name": "Write", "toolUseId": "tooluse_X"}
        return event_frame("toolUseEvent", body)

    opening = event_frame("toolUseEvent", {"name": "Write", "toolUseId": "tooluse_X", "input": ""})
    return [opening, frame('{"content":"'), *[frame("line of code\\n")] * (n - 3), frame('"}')]


def thinking_frames(n: int) -> list[bytes]:
    def frame(text: str) -> bytes:
        return event_frame("assistantResponseEvent", {"content": text})

    return [frame("<thinking>\n"), *[frame(_TEXT)] * (n - 2), frame("</thinking>\n\nDone.")]


def burst_frames(n: int) -> list[bytes]:
    """The text frames ten to a chunk, as a burst arrives (one read, several frames)."""
    frames = text_frames(n)
    return [b"".join(frames[i : i + 10]) for i in range(0, n, 10)]


CASES: dict[str, tuple[Callable[[int], list[bytes]], bool]] = {
    "text": (text_frames, False),
    "text burst": (burst_frames, False),
    "tool fragments": (tool_frames, False),
    "thinking tags": (thinking_frames, True),
}


def make_pair(dialect: str, thinking: bool) -> tuple[StreamAssembler, Any]:
    """An assembler and renderer configured as a real request of that dialect would be."""
    asm = StreamAssembler(
        thinking_enabled=thinking,
        tool_names={},
        context_window=200_000,
        input_tokens_estimate=100,
        max_tokens=8192 if dialect == "anthropic" else None,
    )
    if dialect == "anthropic":
        return asm, AnthropicStreamRenderer("claude-sonnet-4.5", "msg_x", 100, thinking)
    if dialect == "responses":
        return asm, ResponsesStreamRenderer("claude-sonnet-4.5", "resp_x", 0)
    return asm, ChatStreamRenderer("claude-sonnet-4.5", "chatcmpl-x", 0, True)


def pipeline(frames: list[bytes], dialect: str, thinking: bool) -> int:
    """One request through decode -> parse -> assemble -> render; returns the bytes written."""
    asm, renderer = make_pair(dialect, thinking)
    decoder = FrameDecoder()
    written = len(renderer.start())
    for chunk in frames:
        for message in decoder.feed(chunk):
            written += len(renderer.render(asm.feed(parse_event(message))))
    decoder.finish()
    return written + len(renderer.render(asm.finish()))


# ---------------------------------------------------------------- the async path


class _Response:
    """What ``UpstreamStream`` uses of an aiohttp ``ClientResponse``."""

    def __init__(self, content: StreamReader) -> None:
        self.content = content
        self.status = 200
        self.headers = CIMultiDictProxy(CIMultiDict())

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Answer:
    """What ``sse_body`` uses of a ``service.Answer``."""

    def __init__(self, stream: UpstreamStream, first: list[Message] | None, asm: StreamAssembler):
        self.stream = stream
        self.assembler = asm
        self._first = first

    def first_batch(self) -> list[Message] | None:
        return self._first

    def remember(self, events: list[OutEvent]) -> None:
        pass

    async def close(self) -> None:
        await self.stream.aclose()


class _Transport:
    """Flow control calls land here; nothing is read from a socket."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _reader(loop: asyncio.AbstractEventLoop) -> StreamReader:
    protocol = ResponseHandler(loop)  # the protocol aiohttp's client really uses
    protocol.transport = _Transport()  # type: ignore[assignment]
    return StreamReader(protocol, 2**16, loop=loop)


async def _produce(reader: StreamReader, frames: list[bytes]) -> None:
    for chunk in frames:  # one chunk per loop iteration: one wakeup per event, as when paced
        reader.feed_data(chunk)
        await asyncio.sleep(0)
    reader.feed_eof()


async def streamed(frames: list[bytes], dialect: str, thinking: bool) -> int:
    loop = asyncio.get_running_loop()
    reader = _reader(loop)
    producer = spawn(_produce(reader, frames), name="bench producer", awaited=True)
    stream = UpstreamStream(_Response(reader), first_deadline=loop.time() + 60, idle_timeout=60)  # type: ignore[arg-type]
    asm, renderer = make_pair(dialect, thinking)
    read = await stream.next_messages()  # as the failover loop reads the first chunk
    first = read if type(read) is list else None
    written = 0
    async for data in sse_body(_Answer(stream, first, asm), renderer):  # type: ignore[arg-type]
        written += len(data)
    await producer
    return written


async def aiohttp_floor(frames: list[bytes]) -> int:
    reader = _reader(asyncio.get_running_loop())
    producer = spawn(_produce(reader, frames), name="bench producer", awaited=True)
    size = 0
    while chunk := await reader.readany():
        size += len(chunk)
    await producer
    return size


# ---------------------------------------------------------------- measuring


def measure(fn: Callable[[], object], repeat: int, rounds: int) -> float:
    """Best-of-``rounds`` CPU seconds for ``repeat`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, time.process_time() - start)
    return best


def measure_async(
    loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[object]], repeat: int, rounds: int
) -> float:
    async def many() -> None:
        for _ in range(repeat):
            await make()

    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        loop.run_until_complete(many())
        best = min(best, time.process_time() - start)
    return best


def stages(frames: list[bytes], repeat: int, rounds: int) -> dict[str, float]:
    """µs per chunk of each stage of the Anthropic text pipeline, each measured alone."""
    messages = [m for chunk in frames for m in FrameDecoder().feed(chunk)]
    events = [parse_event(m) for m in messages]
    outs = [make_pair("anthropic", False)[0].feed(e) for e in events]

    def decode() -> None:
        decoder = FrameDecoder()
        for chunk in frames:
            decoder.feed(chunk)

    def parse() -> None:
        for message in messages:
            parse_event(message)

    def assemble() -> None:
        asm = make_pair("anthropic", False)[0]
        for event in events:
            asm.feed(event)

    def render() -> None:
        renderer = AnthropicStreamRenderer("claude-sonnet-4.5", "msg_x", 1, False)
        for out in outs:
            renderer.render(out)

    fns = {"decode": decode, "parse_event": parse, "assemble": assemble, "render": render}
    return {
        name: round(measure(fn, repeat, rounds) / repeat / len(frames) * 1e6, 3)
        for name, fn in fns.items()
    }


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_micro(repeat: int = 200, rounds: int = 5) -> dict[str, Any]:
    """Every measurement, as a JSON-ready dict (µs per chunk, ms per request)."""
    loop = new_loop()
    per_chunk: list[dict[str, Any]] = []
    try:
        for name, (build, thinking) in CASES.items():
            frames = build(CHUNKS)
            for dialect in DIALECTS:
                sync = measure(
                    lambda f=frames, d=dialect, t=thinking: pipeline(f, d, t), repeat, rounds
                )
                aio = measure_async(
                    loop, lambda f=frames, d=dialect, t=thinking: streamed(f, d, t), repeat, rounds
                )
                per_chunk.append(
                    {
                        "case": name,
                        "dialect": dialect,
                        "pipeline_us": round(sync / repeat / CHUNKS * 1e6, 3),
                        "streamed_us": round(aio / repeat / CHUNKS * 1e6, 3),
                    }
                )
        text = text_frames(CHUNKS)
        floor = measure_async(loop, lambda: aiohttp_floor(text), repeat, rounds)
        requests = {}
        for n in (40, 200):
            frames = text_frames(n)
            seconds = measure_async(
                loop, lambda f=frames: streamed(f, "anthropic", False), repeat, rounds
            )
            requests[f"text_{n}_chunks_ms"] = round(seconds / repeat * 1e3, 4)
    finally:
        loop.close()
    return {
        "per_chunk": per_chunk,
        "aiohttp_floor_us": round(floor / repeat / CHUNKS * 1e6, 3),
        "text_stages_us": stages(text, repeat, rounds),
        "request_cpu": requests,
        "python": sys.version.split()[0],
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"{'case':<16}{'dialect':<11}{'pipeline µs':>12}{'streamed µs':>13}   (per chunk)")
    for row in result["per_chunk"]:
        print(
            f"{row['case']:<16}{row['dialect']:<11}{row['pipeline_us']:>12.2f}{row['streamed_us']:>13.2f}"
        )
    print(f"\naiohttp floor (bare readany loop): {result['aiohttp_floor_us']:.2f} µs per chunk")
    print("\nanthropic text pipeline by stage (µs per chunk):")
    for name, micros in result["text_stages_us"].items():
        print(f"  {name:<12}{micros:>8.2f}")
    print("\nwhole streamed request, anthropic text (CPU, sockets excluded):")
    for name, ms in result["request_cpu"].items():
        print(f"  {name:<22}{ms:>8.3f} ms")


def work(spec: str, requests: int) -> None:
    """Run one workload ``CASE:DIALECT:MODE`` (mode ``pipeline``, ``streamed`` or ``floor``,
    the bare aiohttp read loop) untimed,
    for instruction counting under valgrind (``bench/instructions.py``)."""
    case, dialect, mode = spec.split(":")
    build, thinking = CASES[case]
    frames = build(CHUNKS)
    if mode == "pipeline":
        for _ in range(requests):
            pipeline(frames, dialect, thinking)
        return
    loop = new_loop()
    try:
        for _ in range(requests):
            if mode == "floor":
                loop.run_until_complete(aiohttp_floor(frames))
            else:
                loop.run_until_complete(streamed(frames, dialect, thinking))
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON ('-': stdout)")
    parser.add_argument("--work", metavar="CASE:DIALECT:MODE", help="run one workload untimed")
    args = parser.parse_args()
    if args.repeat < 1 or args.rounds < 1:
        parser.error("--repeat and --rounds must be at least 1")
    if args.work:
        work(args.work, args.repeat)
        return
    result = run_micro(args.repeat, args.rounds)
    if args.json == "-":
        print(json.dumps(result, indent=2))
        return
    print_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

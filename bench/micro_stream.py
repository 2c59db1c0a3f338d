"""Micro-benchmark of the streaming hot path: decode -> parse -> assemble -> render.

Prints CPU microseconds per upstream chunk (one frame per HTTP chunk) for plain text,
tool fragments and tag thinking, for both the Anthropic and the OpenAI renderer, and the
per-request cost of a 40- and a 200-chunk text stream (HTTP and ASGI overhead not included).

    python bench/micro_stream.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.openai_out import ChatStreamRenderer
from kirogate.convert.stream import StreamAssembler
from kirogate.protocol.events import event_frame, parse_event
from kirogate.protocol.eventstream import FrameDecoder

_TEXT = "The quick brown fox jumps over the lazy dog, twice. "  # ~ one upstream text chunk


def text_frames(n: int) -> list[bytes]:
    return [event_frame("assistantResponseEvent", {"content": _TEXT}) for _ in range(n)]


def tool_frames(n: int) -> list[bytes]:
    frames = [event_frame("toolUseEvent", {"name": "Write", "toolUseId": "tooluse_X", "input": ""})]
    frames.append(
        event_frame(
            "toolUseEvent", {"input": '{"content":"', "name": "Write", "toolUseId": "tooluse_X"}
        )
    )
    frames += [
        event_frame(
            "toolUseEvent", {"input": "line of code\\n", "name": "Write", "toolUseId": "tooluse_X"}
        )
        for _ in range(n - 3)
    ]
    frames.append(
        event_frame("toolUseEvent", {"input": '"}', "name": "Write", "toolUseId": "tooluse_X"})
    )
    return frames


def thinking_frames(n: int) -> list[bytes]:
    body = [event_frame("assistantResponseEvent", {"content": "<thinking>\n"})]
    body += [event_frame("assistantResponseEvent", {"content": _TEXT}) for _ in range(n - 2)]
    body.append(event_frame("assistantResponseEvent", {"content": "</thinking>\n\nDone."}))
    return body


def run_once(frames: list[bytes], dialect: str, thinking: bool) -> int:
    """One request: returns the bytes written (so the work cannot be optimised away)."""
    asm = StreamAssembler(
        thinking_enabled=thinking,
        tool_names={},
        context_window=200_000,
        input_tokens_estimate=100,
    )
    renderer: AnthropicStreamRenderer | ChatStreamRenderer
    if dialect == "anthropic":
        renderer = AnthropicStreamRenderer("claude-sonnet-4.5", "msg_x", 100, thinking)
    else:
        renderer = ChatStreamRenderer("claude-sonnet-4.5", "chatcmpl-x", 0, True)
    decoder = FrameDecoder()
    written = len(renderer.start())
    for chunk in frames:
        for message in decoder.feed(chunk):
            written += len(renderer.render(asm.feed(parse_event(message))))
    decoder.finish()
    return written + len(renderer.render(asm.finish()))


def stages(frames: list[bytes], repeat: int) -> dict[str, float]:
    """µs per chunk spent in each stage of a text stream, measured in isolation."""
    messages = [m for chunk in frames for m in FrameDecoder().feed(chunk)]
    events = [parse_event(m) for m in messages]
    asm = StreamAssembler(
        thinking_enabled=False, tool_names={}, context_window=200_000, input_tokens_estimate=1
    )
    outs = [asm.feed(e) for e in events]

    def decode() -> None:
        decoder = FrameDecoder()
        for chunk in frames:
            decoder.feed(chunk)

    def parse() -> None:
        for message in messages:
            parse_event(message)

    def assemble() -> None:
        a = StreamAssembler(
            thinking_enabled=False, tool_names={}, context_window=200_000, input_tokens_estimate=1
        )
        for event in events:
            a.feed(event)

    def render() -> None:
        r = AnthropicStreamRenderer("claude-sonnet-4.5", "msg_x", 1, False)
        for out in outs:
            r.render(out)

    fns = {"decode": decode, "parse_event": parse, "assemble": assemble, "render": render}
    return {name: measure(fn, repeat) / repeat / len(frames) * 1e6 for name, fn in fns.items()}


def measure(fn: Callable[[], object], repeat: int) -> float:
    """Best-of-5 CPU seconds for ``repeat`` calls."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    cases = {
        "text": (text_frames(200), False),
        "tool fragments": (tool_frames(200), False),
        "thinking tags": (thinking_frames(200), True),
    }
    print(f"{'case':<16}{'dialect':<11}{'µs/chunk':>10}")
    for name, (frames, thinking) in cases.items():
        for dialect in ("anthropic", "openai"):
            seconds = measure(
                lambda f=frames, d=dialect, t=thinking: run_once(f, d, t), args.repeat
            )
            per_chunk = seconds / args.repeat / len(frames) * 1e6
            print(f"{name:<16}{dialect:<11}{per_chunk:>10.2f}")
    print()
    for name, micros in stages(text_frames(200), args.repeat).items():
        print(f"text stage {name:<12}{micros:>8.2f} µs/chunk")
    print()
    for n in (40, 200):
        frames = text_frames(n)
        seconds = measure(lambda f=frames: run_once(f, "anthropic", False), args.repeat)
        print(f"text request, {n:>3} chunks, anthropic: {seconds / args.repeat * 1e3:.3f} ms CPU")


if __name__ == "__main__":
    main()

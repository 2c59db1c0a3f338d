from __future__ import annotations

import itertools
import time

import aiohttp

from kirogate.emulator.answers import paced_chunks
from kirogate.emulator.config import Pacing
from kirogate.protocol.events import AssistantText, ContextUsage, Metering
from tests.emulator.conftest import StartEmulator
from tests.emulator.support import bearer, decode_events, request_body, social_token


async def _post(
    session: aiohttp.ClientSession, base: str, token: str, content: str
) -> list[tuple[bytes, float]]:
    """Body pieces as received, with the time since the request was sent."""
    started = time.monotonic()
    pieces = []
    async with session.post(
        f"{base}/generateAssistantResponse", json=request_body(content), headers=bearer(token)
    ) as resp:
        assert resp.status == 200
        async for chunk, _ in resp.content.iter_chunks():
            pieces.append((chunk, time.monotonic() - started))
    return pieces


async def test_paced_reply_has_exact_chunk_count_and_size(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(pacing=Pacing(chunk_count=40, chunk_size=30))
    token = await social_token(session, emu.url)
    pieces = await _post(session, emu.url, token, "ignored")
    events = decode_events(b"".join(p for p, _ in pieces))
    texts = [e.content for e in events if isinstance(e, AssistantText)]
    assert texts == paced_chunks(40, 30)
    assert texts[0] == "abcdefghijklmnopqrstuvwxyzabcd"
    assert texts[1] == "bcdefghijklmnopqrstuvwxyzabcde"
    assert all(a != b for a, b in itertools.pairwise(texts))
    assert isinstance(events[-2], Metering) and isinstance(events[-1], ContextUsage)


async def test_first_event_delay_is_measurable(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(pacing=Pacing(first_event_delay=0.3))
    token = await social_token(session, emu.url)
    pieces = await _post(session, emu.url, token, "hello")
    assert pieces[0][1] >= 0.29
    assert pieces[-1][1] < 1.0


async def test_event_delay_spaces_every_event(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(pacing=Pacing(event_delay=0.05, chunk_count=4, chunk_size=5))
    token = await social_token(session, emu.url)
    pieces = await _post(session, emu.url, token, "x")
    assert len(pieces) == 6  # four text events, metering, context usage
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(pieces)]
    assert all(gap >= 0.04 for gap in gaps)


async def test_http_chunk_splitting_decodes_to_the_same_events(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    plain = await make_emulator()
    split = await make_emulator(http_chunk_split=7, seed=3)
    content = "[[emu:tv3]] ä"
    token = await social_token(session, plain.url)
    whole = await _post(session, plain.url, token, content)
    token = await social_token(session, split.url)
    pieces = await _post(session, split.url, token, content)
    assert len(pieces) > len(whole) * 3
    assert all(1 <= len(chunk) <= 7 for chunk, _ in pieces)
    assert b"".join(p for p, _ in pieces) == b"".join(p for p, _ in whole)
    assert decode_events(b"".join(p for p, _ in pieces)) == decode_events(
        b"".join(p for p, _ in whole)
    )


async def test_chunk_splitting_is_seeded(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    first = await make_emulator(http_chunk_split=5, seed=9)
    second = await make_emulator(http_chunk_split=5, seed=9)
    sizes = []
    for emu in (first, second):
        token = await social_token(session, emu.url)
        pieces = await _post(session, emu.url, token, "[[emu:tv1]]")
        sizes.append([len(chunk) for chunk, _ in pieces])
    assert sizes[0] == sizes[1]

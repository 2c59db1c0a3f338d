"""The event-stream codec: the spec's worked example, round trips, chunking, corruption, limits."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

import pytest
from botocore.eventstream import EventStreamBuffer, ParserError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirogate.errors import CorruptFrame, FrameTooLarge, TruncatedStream
from kirogate.protocol import eventstream
from kirogate.protocol.eventstream import (
    FrameDecoder,
    HeaderValue,
    Int8,
    Int16,
    Int32,
    Int64,
    Message,
    Timestamp,
    decode_headers,
    encode_frame,
    encode_headers,
    event_headers,
    iter_messages,
)

FRAMES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "frames"
RECORDED = sorted(FRAMES_DIR.glob("*.bin"))

# Spec §4.1 worked example.
SPEC_PAYLOAD = b'{"content":"Hi"}'
SPEC_HEX = (
    "0000007c0000005c3bddcf780b3a6576656e742d74797065070016617373697374616e7452657370"
    "6f6e73654576656e740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a73"
    "6f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74223a224869227d"
    "b02babdc"
)

# ---------------------------------------------------------------- strategies

header_names = st.text(min_size=1, max_size=24)  # at most 96 UTF-8 bytes, within 1..255
header_values: st.SearchStrategy[HeaderValue] = st.one_of(
    st.booleans(),
    st.integers(-(2**7), 2**7 - 1).map(Int8),
    st.integers(-(2**15), 2**15 - 1).map(Int16),
    st.integers(-(2**31), 2**31 - 1).map(Int32),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.integers(-(2**63), 2**63 - 1).map(Timestamp),
    st.binary(max_size=40),
    st.text(max_size=40),
    st.uuids(),
)
header_maps = st.dictionaries(header_names, header_values, max_size=6)
messages = st.lists(st.tuples(header_maps, st.binary(max_size=200)), min_size=1, max_size=4)
small_messages = st.lists(
    st.tuples(st.dictionaries(header_names, header_values, max_size=3), st.binary(max_size=48)),
    min_size=1,
    max_size=3,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- helpers


def _encode_all(items: Sequence[tuple[dict[str, HeaderValue], bytes]]) -> list[bytes]:
    return [encode_frame(headers, payload) for headers, payload in items]


def _typed(headers: Iterable[tuple[str, HeaderValue]]) -> list[tuple[str, type, HeaderValue]]:
    return [(name, type(value), value) for name, value in headers]


def _decode_chunks(chunks: Iterable[bytes], **limits: int) -> list[Message]:
    decoder = FrameDecoder(**limits)
    out: list[Message] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    decoder.finish()
    return out


def _split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in pairwise(points)]


def _frame_raw(raw_headers: bytes, payload: bytes = b"") -> bytes:
    """A frame with valid CRCs around an arbitrary (possibly malformed) header block."""
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _prelude(total: int, headers_len: int) -> bytes:
    head = struct.pack(">II", total, headers_len)
    return head + struct.pack(">I", zlib.crc32(head))


def _normalise(value: object) -> tuple[str, object]:
    """A header value as botocore returns it: ints and timestamps as int, UUIDs as 16 bytes."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, uuid.UUID):
        return ("bytes", value.bytes)
    if isinstance(value, bytes):
        return ("bytes", value)
    return ("str", value)


def _ours_byte_by_byte(stream: bytes) -> tuple[list[Message], bool]:
    """Decode one byte at a time; returns the messages and whether the stream was rejected."""
    decoder = FrameDecoder()
    out: list[Message] = []
    try:
        for i in range(len(stream)):
            out.extend(decoder.feed(stream[i : i + 1]))
        decoder.finish()
    except (CorruptFrame, TruncatedStream):
        return out, True
    return out, False


def _botocore_byte_by_byte(stream: bytes) -> tuple[list[tuple[dict[str, object], bytes]], bool]:
    """The oracle: botocore's buffer, fed the same way. Leftover bytes count as a rejection."""
    buffer = EventStreamBuffer()
    out: list[tuple[dict[str, object], bytes]] = []
    try:
        for i in range(len(stream)):
            buffer.add_data(stream[i : i + 1])
            out.extend((message.headers, message.payload) for message in buffer)
    except (ParserError, KeyError, UnicodeDecodeError, struct.error):
        return out, True
    return out, bool(buffer._data)  # botocore has no finish(); look at what it still holds


# ---------------------------------------------------------------- the spec's worked example


def test_spec_worked_example_encodes_to_exact_hex() -> None:
    frame = encode_frame(event_headers("assistantResponseEvent"), SPEC_PAYLOAD)
    assert frame.hex() == SPEC_HEX
    assert len(frame) == 124


def test_spec_worked_example_prelude_fields() -> None:
    total, headers_len, prelude_crc = struct.unpack(">III", bytes.fromhex(SPEC_HEX)[:12])
    assert (total, headers_len, prelude_crc) == (124, 92, 0x3BDDCF78)
    assert bytes.fromhex(SPEC_HEX)[-4:].hex() == "b02babdc"


def test_spec_worked_example_decodes() -> None:
    [message] = iter_messages(bytes.fromhex(SPEC_HEX))
    assert list(message.headers.items()) == [
        (":event-type", "assistantResponseEvent"),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
    assert message.payload == SPEC_PAYLOAD
    assert message.message_type == "event"
    assert message.event_type == "assistantResponseEvent"


# ---------------------------------------------------------------- round trips


@FAST
@given(messages)
def test_round_trip_preserves_headers_types_and_payload(
    items: list[tuple[dict[str, HeaderValue], bytes]],
) -> None:
    decoded = list(iter_messages(b"".join(_encode_all(items))))
    assert len(decoded) == len(items)
    for message, (headers, payload) in zip(decoded, items, strict=True):
        assert _typed(message.headers.items()) == _typed(headers.items())
        assert message.payload == payload


@FAST
@given(messages)
def test_decoded_message_reencodes_to_same_bytes(
    items: list[tuple[dict[str, HeaderValue], bytes]],
) -> None:
    frames = _encode_all(items)
    decoded = list(iter_messages(b"".join(frames)))
    assert [encode_frame(m.headers, m.payload) for m in decoded] == frames


def test_plain_int_header_is_sent_as_int32() -> None:
    [message] = iter_messages(encode_frame({"n": 7}, b""))
    assert type(message.headers["n"]) is Int32
    assert message.headers["n"] == 7


def test_every_header_type_code_on_the_wire() -> None:
    raw = encode_headers(
        {
            "t": True,
            "f": False,
            "b": Int8(-1),
            "s": Int16(2),
            "i": Int32(3),
            "l": Int64(4),
            "a": b"\x00\xff",
            "u": "ä",
            "d": Timestamp(5),
            "g": uuid.UUID(int=6),
        }
    )
    assert raw == (
        b"\x01t\x00"
        + b"\x01f\x01"
        + b"\x01b\x02\xff"
        + b"\x01s\x03\x00\x02"
        + b"\x01i\x04\x00\x00\x00\x03"
        + b"\x01l\x05" + (4).to_bytes(8, "big")
        + b"\x01a\x06\x00\x02\x00\xff"
        + b"\x01u\x07\x00\x02\xc3\xa4"
        + b"\x01d\x08" + (5).to_bytes(8, "big")
        + b"\x01g\x09" + (6).to_bytes(16, "big")
    )  # fmt: skip


def test_empty_frame_is_the_16_byte_minimum() -> None:
    frame = encode_frame({}, b"")
    assert len(frame) == 16
    [message] = iter_messages(frame)
    assert message.headers == {}
    assert message.payload == b""


@pytest.mark.parametrize("name", ["", "x" * 256, "ä" * 128])
def test_encoder_rejects_header_name_outside_1_to_255_bytes(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        encode_frame({name: "v"}, b"")


@pytest.mark.parametrize("value", [b"x" * 65536, "x" * 65536])
def test_encoder_rejects_header_value_over_65535_bytes(value: bytes | str) -> None:
    with pytest.raises(ValueError, match="over 65535 bytes"):
        encode_frame({"h": value}, b"")


def test_encoder_rejects_unsupported_header_value_type() -> None:
    with pytest.raises(TypeError, match="unsupported value type float"):
        encode_frame({"h": 1.5}, b"")  # type: ignore[dict-item]


def test_message_type_defaults_to_event() -> None:
    message = Message({}, b"")
    assert message.message_type == "event"
    assert message.event_type is None


def test_non_string_type_headers_are_ignored() -> None:
    message = Message({":message-type": Int32(1), ":event-type": b"x"}, b"")
    assert message.message_type == "event"
    assert message.event_type is None


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_every_two_piece_split_of_recorded_stream_gives_same_messages(path: Path) -> None:
    data = path.read_bytes()
    expected = list(iter_messages(data))
    for index in range(len(data) + 1):
        assert _decode_chunks([data[:index], data[index:]]) == expected, index


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_one_byte_pieces_of_recorded_stream_give_same_messages(path: Path) -> None:
    data = path.read_bytes()
    pieces = [data[i : i + 1] for i in range(len(data))]
    assert _decode_chunks(pieces) == list(iter_messages(data))


@FAST
@given(st.sampled_from(RECORDED), st.data())
def test_random_chunking_of_recorded_stream_gives_same_messages(
    path: Path, data: st.DataObject
) -> None:
    raw = path.read_bytes()
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=40))
    assert _decode_chunks(_split(raw, cuts)) == list(iter_messages(raw))


@FAST
@given(messages, st.data())
def test_random_chunking_of_generated_stream_gives_same_messages(
    items: list[tuple[dict[str, HeaderValue], bytes]], data: st.DataObject
) -> None:
    raw = b"".join(_encode_all(items))
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20))
    assert _decode_chunks(_split(raw, cuts)) == list(iter_messages(raw))


def test_split_inside_multibyte_utf8_character_of_tv3() -> None:
    data = (FRAMES_DIR / "tv3_two_tools_utf8.bin").read_bytes()
    index = data.index("ä".encode()) + 1
    assert _decode_chunks([data[:index], data[index:]]) == list(iter_messages(data))


def test_feed_accepts_bytearray_and_memoryview() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    decoder = FrameDecoder()
    assert decoder.feed(bytearray(frame[:50])) == []
    [message] = decoder.feed(memoryview(frame)[50:])
    assert message.payload == SPEC_PAYLOAD


def test_buffered_counts_bytes_of_incomplete_frame() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    decoder = FrameDecoder()
    decoder.feed(frame + frame[:30])
    assert decoder.buffered == 30
    decoder.feed(frame[30:])
    assert decoder.buffered == 0


# ---------------------------------------------------------------- truncation


@FAST
@given(messages, st.data())
def test_truncated_tail_raises_truncated_stream_at_finish(
    items: list[tuple[dict[str, HeaderValue], bytes]], data: st.DataObject
) -> None:
    frames = _encode_all(items)
    raw = b"".join(frames)
    boundaries = {sum(len(f) for f in frames[:i]) for i in range(len(frames) + 1)}
    cut = data.draw(st.integers(1, len(raw) - 1).filter(lambda i: i not in boundaries))
    complete = sum(1 for b in boundaries if 0 < b <= cut)
    decoder = FrameDecoder()
    assert len(decoder.feed(raw[:cut])) == complete
    with pytest.raises(TruncatedStream):
        decoder.finish()


def test_stream_cut_on_frame_boundary_finishes_cleanly() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    decoder = FrameDecoder()
    assert len(decoder.feed(frame * 2)) == 2
    decoder.finish()


def test_iter_messages_raises_truncated_stream() -> None:
    with pytest.raises(TruncatedStream):
        list(iter_messages(bytes.fromhex(SPEC_HEX)[:-1]))


# ---------------------------------------------------------------- corruption


def _assert_rejected_without_wrong_messages(
    stream: bytes, frames: list[bytes], first_bad: int, chunk: int, *, truncation_ok: bool
) -> None:
    expected = list(iter_messages(b"".join(frames)))
    decoder = FrameDecoder()
    got: list[Message] = []
    with pytest.raises((CorruptFrame, TruncatedStream)) as caught:
        for start in range(0, len(stream), chunk):
            got.extend(decoder.feed(stream[start : start + chunk]))
        decoder.finish()
    if not truncation_ok:
        assert isinstance(caught.value, CorruptFrame)
    assert got == expected[: len(got)]
    assert len(got) <= first_bad


def _frame_index(frames: list[bytes], offset: int) -> int:
    end = 0
    for index, frame in enumerate(frames):
        end += len(frame)
        if offset < end:
            return index
    raise AssertionError(offset)


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_any_bit_flip_is_detected_as_corrupt_frame(
    items: list[tuple[dict[str, HeaderValue], bytes]], data: st.DataObject
) -> None:
    frames = _encode_all(items)
    raw = bytearray(b"".join(frames))
    offset = data.draw(st.integers(0, len(raw) - 1))
    raw[offset] ^= 1 << data.draw(st.integers(0, 7))
    chunk = data.draw(st.integers(1, 64))
    first_bad = _frame_index(frames, offset)
    # The prelude CRC is checked before waiting for the body, so even a flipped length
    # field is reported as corrupt rather than as a truncated stream.
    _assert_rejected_without_wrong_messages(
        bytes(raw), frames, first_bad, chunk, truncation_ok=False
    )


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_any_byte_change_is_detected_as_corrupt_frame(
    items: list[tuple[dict[str, HeaderValue], bytes]], data: st.DataObject
) -> None:
    frames = _encode_all(items)
    raw = bytearray(b"".join(frames))
    offset = data.draw(st.integers(0, len(raw) - 1))
    raw[offset] ^= data.draw(st.integers(1, 255))
    first_bad = _frame_index(frames, offset)
    chunk = data.draw(st.integers(1, 64))
    _assert_rejected_without_wrong_messages(
        bytes(raw), frames, first_bad, chunk, truncation_ok=False
    )


@FAST
@given(messages, st.data())
def test_scattered_random_corruption_is_never_silent(
    items: list[tuple[dict[str, HeaderValue], bytes]], data: st.DataObject
) -> None:
    frames = _encode_all(items)
    raw = bytearray(b"".join(frames))
    changes = data.draw(
        st.dictionaries(st.integers(0, len(raw) - 1), st.integers(1, 255), min_size=1)
    )
    for offset, mask in changes.items():
        raw[offset] ^= mask
    first_bad = _frame_index(frames, min(changes))
    chunk = data.draw(st.integers(1, 64))
    _assert_rejected_without_wrong_messages(
        bytes(raw), frames, first_bad, chunk, truncation_ok=True
    )


def test_bad_prelude_crc_is_corrupt_frame() -> None:
    frame = bytearray.fromhex(SPEC_HEX)
    frame[8] ^= 0xFF
    with pytest.raises(CorruptFrame, match="prelude CRC"):
        FrameDecoder().feed(bytes(frame))


def test_bad_message_crc_is_corrupt_frame() -> None:
    frame = bytearray.fromhex(SPEC_HEX)
    frame[-1] ^= 0xFF
    with pytest.raises(CorruptFrame, match="message CRC"):
        FrameDecoder().feed(bytes(frame))


def test_bad_prelude_is_detected_before_the_body_arrives() -> None:
    frame = bytearray.fromhex(SPEC_HEX)
    frame[3] ^= 0x01  # total length 125 instead of 124
    with pytest.raises(CorruptFrame, match="prelude CRC"):
        FrameDecoder().feed(bytes(frame[:12]))


@pytest.mark.parametrize("total", [0, 12, 15])
def test_frame_length_below_16_is_corrupt_frame(total: int) -> None:
    with pytest.raises(CorruptFrame, match="below the 16-byte minimum"):
        FrameDecoder().feed(_prelude(total, 0) + b"\x00" * 4)


def test_headers_length_past_frame_end_is_corrupt_frame() -> None:
    with pytest.raises(CorruptFrame, match="headers length exceeds frame length"):
        FrameDecoder().feed(_prelude(20, 5))


def test_frame_over_max_frame_bytes_is_frame_too_large() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    with pytest.raises(FrameTooLarge, match="124 bytes exceeds the 123-byte limit"):
        FrameDecoder(max_frame_bytes=123).feed(frame[:12])


def test_frame_at_max_frame_bytes_is_accepted() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    assert len(FrameDecoder(max_frame_bytes=124).feed(frame)) == 1


def test_header_block_over_max_header_bytes_is_frame_too_large() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    with pytest.raises(FrameTooLarge, match="header block of 92 bytes"):
        FrameDecoder(max_header_bytes=91).feed(frame)
    assert len(FrameDecoder(max_header_bytes=92).feed(frame)) == 1


def test_default_limit_rejects_frames_over_16_mib() -> None:
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(_prelude(16 * 1024 * 1024 + 1, 0))


def test_decoder_refuses_use_after_failure() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    decoder = FrameDecoder()
    with pytest.raises(CorruptFrame):
        decoder.feed(frame[:-1] + b"\x00")
    with pytest.raises(CorruptFrame, match="already failed"):
        decoder.feed(frame)


def test_finish_after_failure_does_not_raise_again() -> None:
    decoder = FrameDecoder()
    with pytest.raises(CorruptFrame):
        decoder.feed(_prelude(15, 0))
    decoder.finish()


def test_malformed_header_block_fails_the_decoder() -> None:
    decoder = FrameDecoder()
    with pytest.raises(CorruptFrame, match="unknown header value type 10"):
        decoder.feed(_frame_raw(b"\x01h\x0a"))
    with pytest.raises(CorruptFrame, match="already failed"):
        decoder.feed(b"")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00", "header name length out of bounds"),
        (b"\x05abc", "header name length out of bounds"),
        (b"\x01h", "header name length out of bounds"),
        (b"\x01h\x0a", "unknown header value type 10"),
        (b"\x01h\x07\x00", "header value length out of bounds"),
        (b"\x01h\x06\x00\x05ab", "header value out of bounds"),
        (b"\x01h\x02", "header value out of bounds"),
        (b"\x01h\x03\x00", "header value out of bounds"),
        (b"\x01h\x04\x00\x00\x00", "header value out of bounds"),
        (b"\x01h\x05\x00", "header value out of bounds"),
        (b"\x01h\x08\x00", "header value out of bounds"),
        (b"\x01h\x09" + b"\x00" * 15, "uuid header out of bounds"),
        (b"\x01\xff\x00", "not valid UTF-8"),
        (b"\x01h\x07\x00\x01\xff", "not valid UTF-8"),
    ],
)
def test_malformed_header_is_corrupt_frame(raw: bytes, reason: str) -> None:
    with pytest.raises(CorruptFrame, match=reason):
        decode_headers(raw)


# ---------------------------------------------------------------- botocore as an oracle


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_recorded_stream_decodes_like_botocore(path: Path) -> None:
    data = path.read_bytes()
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    theirs = [(m.headers, m.payload) for m in buffer]
    ours = [(dict(m.headers), m.payload) for m in iter_messages(data)]
    assert ours == theirs


@SLOW
@given(small_messages)
def test_generated_stream_decodes_like_botocore(
    items: list[tuple[dict[str, HeaderValue], bytes]],
) -> None:
    raw = b"".join(_encode_all(items))
    ours, ours_rejected = _ours_byte_by_byte(raw)
    theirs, theirs_rejected = _botocore_byte_by_byte(raw)
    assert not ours_rejected
    assert not theirs_rejected
    assert [({k: _normalise(v) for k, v in m.headers.items()}, m.payload) for m in ours] == [
        ({k: _normalise(v) for k, v in headers.items()}, payload) for headers, payload in theirs
    ]


@SLOW
@given(small_messages, st.data())
def test_corruption_is_rejected_like_botocore(
    items: list[tuple[dict[str, HeaderValue], bytes]], data: st.DataObject
) -> None:
    raw = bytearray(b"".join(_encode_all(items)))
    offset = data.draw(st.integers(0, len(raw) - 1))
    raw[offset] ^= data.draw(st.integers(1, 255))
    ours, ours_rejected = _ours_byte_by_byte(bytes(raw))
    theirs, theirs_rejected = _botocore_byte_by_byte(bytes(raw))
    assert ours_rejected
    assert theirs_rejected
    assert len(ours) == len(theirs)


def test_unknown_header_type_is_rejected_like_botocore() -> None:
    frame = _frame_raw(b"\x01h\x0a")
    assert _ours_byte_by_byte(frame)[1]
    assert _botocore_byte_by_byte(frame)[1]


# ---------------------------------------------------------------- salvage, shared headers


def test_feed_until_error_returns_the_good_messages_before_a_bad_frame() -> None:
    good = bytes.fromhex(SPEC_HEX)
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    decoder = FrameDecoder()
    messages, error = decoder.feed_until_error(good + good + bytes(bad) + good)
    assert [m.payload for m in messages] == [SPEC_PAYLOAD, SPEC_PAYLOAD]
    assert isinstance(error, CorruptFrame)
    assert "message CRC" in str(error)
    after, again = decoder.feed_until_error(good)
    assert after == []
    assert isinstance(again, CorruptFrame) and "already failed" in str(again)
    with pytest.raises(CorruptFrame, match="already failed"):
        decoder.feed(good)


def test_feed_still_raises_and_drops_the_chunk_with_a_bad_frame() -> None:
    good = bytes.fromhex(SPEC_HEX)
    with pytest.raises(CorruptFrame):
        FrameDecoder().feed(good + good[:-1] + b"\x00")


def test_feed_until_error_without_error_is_feed() -> None:
    data = bytes.fromhex(SPEC_HEX) * 3
    decoder = FrameDecoder()
    messages, error = decoder.feed_until_error(data[:200])
    more, error2 = decoder.feed_until_error(data[200:])
    assert error is None and error2 is None
    assert messages + more == list(iter_messages(data))


def test_identical_header_blocks_decode_to_one_read_only_mapping() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    first, second = FrameDecoder().feed(frame + frame)
    assert first.headers is second.headers
    assert FrameDecoder().feed(frame)[0].headers is first.headers  # across streams too
    with pytest.raises(TypeError):
        first.headers[":event-type"] = "x"  # type: ignore[index]
    assert dict(first.headers) == event_headers("assistantResponseEvent")


def test_header_cache_stays_bounded_when_every_block_differs() -> None:
    from kirogate.protocol import eventstream

    frames = b"".join(
        encode_frame({"n": Int32(k)}, b"") for k in range(3 * eventstream.HEADER_CACHE_SIZE)
    )
    messages = FrameDecoder().feed(frames)
    assert [m.headers["n"] for m in messages] == list(range(3 * eventstream.HEADER_CACHE_SIZE))
    assert len(eventstream._HEADER_CACHE) <= eventstream.HEADER_CACHE_SIZE


def test_a_header_block_seen_before_is_shared_from_the_cache() -> None:
    # The cache is process-wide and emptied when full: start from empty, whatever ran before.
    eventstream._HEADER_CACHE.clear()
    a = encode_frame(event_headers("assistantResponseEvent"), b"{}")
    b = encode_frame(event_headers("meteringEvent"), b"{}")
    first, _, again = FrameDecoder().feed(a + b + a)
    assert again.headers is first.headers


def test_memoryview_and_bytearray_chunks_are_decoded_in_place_or_buffered() -> None:
    frame = bytes.fromhex(SPEC_HEX)
    decoder = FrameDecoder()
    assert len(decoder.feed(memoryview(frame + frame[:5]))) == 1
    assert decoder.buffered == 5
    assert len(decoder.feed(bytearray(frame[5:]))) == 1
    assert decoder.buffered == 0

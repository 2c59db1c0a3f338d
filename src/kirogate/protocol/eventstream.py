"""AWS event-stream (``application/vnd.amazon.eventstream``) framing, sans I/O.

A frame is ``total_len:u32 | headers_len:u32 | prelude_crc:u32 | headers | payload |
message_crc:u32`` (big-endian); both CRCs are CRC-32/ISO-HDLC (zlib's). Feed
:class:`FrameDecoder` arbitrary byte chunks and it yields whole :class:`Message` objects;
:func:`encode_frame` builds frames.

Header values decode to plain Python values where the type is unambiguous (``bool``,
``bytes``, ``str``, ``uuid.UUID``) and to small ``int`` subclasses that remember their
wire width otherwise (:class:`Int8`, :class:`Int16`, :class:`Int32`, :class:`Int64`,
:class:`Timestamp`), so a decoded message re-encodes to the same bytes.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

from kirogate.errors import CorruptFrame, EventStreamError, FrameTooLarge, TruncatedStream

PRELUDE_LEN: Final = 12
MIN_FRAME_LEN: Final = 16
DEFAULT_MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES: Final = 128 * 1024

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_crc32 = zlib.crc32


class Int8(int):
    """A header value sent as a signed byte (type 2)."""


class Int16(int):
    """A header value sent as a signed short (type 3)."""


class Int32(int):
    """A header value sent as a signed 32-bit integer (type 4); plain ints encode as this."""


class Int64(int):
    """A header value sent as a signed 64-bit integer (type 5)."""


class Timestamp(int):
    """A header value sent as a timestamp (type 8): milliseconds since the epoch."""


HeaderValue: TypeAlias = bool | int | bytes | str | uuid.UUID
Headers: TypeAlias = Mapping[str, HeaderValue]


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded event-stream frame."""

    headers: Headers
    payload: bytes

    @property
    def message_type(self) -> str:
        """``event``, ``exception`` or ``error``; peers default a missing header to ``event``."""
        value = self.headers.get(":message-type", "event")
        return value if isinstance(value, str) else "event"

    @property
    def event_type(self) -> str | None:
        value = self.headers.get(":event-type")
        return value if isinstance(value, str) else None


# A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__``, which costs
# as much as the rest of a small frame's decode. The decoder fills the two slots directly
# (what ``__init__`` does, without the Python frame).
_new_message = object.__new__
_set_headers = Message.__dict__["headers"].__set__
_set_payload = Message.__dict__["payload"].__set__


# ---------------------------------------------------------------- encoding

_INT_CODES: Final[dict[type, tuple[int, struct.Struct]]] = {
    Int8: (2, struct.Struct(">b")),
    Int16: (3, struct.Struct(">h")),
    Int32: (4, struct.Struct(">i")),
    Int64: (5, struct.Struct(">q")),
    Timestamp: (8, struct.Struct(">q")),
}


def _encode_header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode("utf-8")
    if not 1 <= len(raw_name) <= 255:
        raise ValueError(f"header name must be 1..255 bytes: {name!r}")
    head = bytes((len(raw_name),)) + raw_name
    if isinstance(value, bool):
        return head + (b"\x00" if value else b"\x01")
    if isinstance(value, int):
        code, packer = _INT_CODES.get(type(value), _INT_CODES[Int32])
        return head + bytes((code,)) + packer.pack(value)
    if isinstance(value, bytes):
        if len(value) > 0xFFFF:
            raise ValueError(f"header {name!r}: byte array over 65535 bytes")
        return head + b"\x06" + _U16.pack(len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValueError(f"header {name!r}: string over 65535 bytes")
        return head + b"\x07" + _U16.pack(len(raw)) + raw
    if isinstance(value, uuid.UUID):
        return head + b"\x09" + value.bytes
    raise TypeError(f"header {name!r}: unsupported value type {type(value).__name__}")


def encode_headers(headers: Headers) -> bytes:
    return b"".join(_encode_header(name, value) for name, value in headers.items())


def encode_frame(headers: Headers, payload: bytes) -> bytes:
    """Build one complete frame with both CRCs."""
    raw_headers = encode_headers(headers)
    total = PRELUDE_LEN + len(raw_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(raw_headers), 0)[:8]
    prelude += _U32.pack(_crc32(prelude))
    body = prelude + raw_headers + payload
    return body + _U32.pack(_crc32(body))


def event_headers(event_type: str) -> dict[str, HeaderValue]:
    """The three string headers Kiro puts on every event frame."""
    return {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }


# ---------------------------------------------------------------- decoding

_S8 = struct.Struct(">b")
_S16 = struct.Struct(">h")
_S32 = struct.Struct(">i")
_S64 = struct.Struct(">q")


def decode_headers(raw: bytes | memoryview) -> dict[str, HeaderValue]:
    """Parse a header block; raise :class:`CorruptFrame` on any inconsistency."""
    headers: dict[str, HeaderValue] = {}
    view = memoryview(raw)
    end = len(view)
    pos = 0
    try:
        while pos < end:
            name_len = view[pos]
            pos += 1
            if name_len == 0 or pos + name_len + 1 > end:
                raise CorruptFrame("header name length out of bounds")
            name = bytes(view[pos : pos + name_len]).decode("utf-8")
            pos += name_len
            kind = view[pos]
            pos += 1
            value: HeaderValue
            if kind == 7 or kind == 6:
                if pos + 2 > end:
                    raise CorruptFrame("header value length out of bounds")
                (size,) = _U16.unpack_from(view, pos)
                pos += 2
                if pos + size > end:
                    raise CorruptFrame("header value out of bounds")
                chunk = bytes(view[pos : pos + size])
                pos += size
                value = chunk.decode("utf-8") if kind == 7 else chunk
            elif kind == 0:
                value = True
            elif kind == 1:
                value = False
            elif kind == 2:
                value = Int8(_S8.unpack_from(view, pos)[0])
                pos += 1
            elif kind == 3:
                value = Int16(_S16.unpack_from(view, pos)[0])
                pos += 2
            elif kind == 4:
                value = Int32(_S32.unpack_from(view, pos)[0])
                pos += 4
            elif kind == 5:
                value = Int64(_S64.unpack_from(view, pos)[0])
                pos += 8
            elif kind == 8:
                value = Timestamp(_S64.unpack_from(view, pos)[0])
                pos += 8
            elif kind == 9:
                if pos + 16 > end:
                    raise CorruptFrame("uuid header out of bounds")
                value = uuid.UUID(bytes=bytes(view[pos : pos + 16]))
                pos += 16
            else:
                raise CorruptFrame(f"unknown header value type {kind}")
            headers[name] = value
    except struct.error as exc:
        # unpack_from bounds-checks the fixed-width values (types 2-5 and 8).
        raise CorruptFrame("header value out of bounds") from exc
    except UnicodeDecodeError as exc:
        raise CorruptFrame("header is not valid UTF-8") from exc
    return headers


# Kiro sends the same few header blocks (event type, content type, message type) on every
# frame, and parsing one costs more than the rest of the frame's decode. Decoded blocks are
# kept by their raw bytes, read-only because every message with that block shares them.
_HEADER_CACHE: dict[bytes, Headers] = {}
HEADER_CACHE_SIZE: Final = 64


def _cache_headers(raw: bytes) -> Headers:
    """Decode a block the cache does not hold (the decoder looks it up inline) and keep it."""
    headers: Headers = MappingProxyType(decode_headers(raw))
    if len(_HEADER_CACHE) >= HEADER_CACHE_SIZE:
        _HEADER_CACHE.clear()  # blocks that vary per frame: stop keeping them
    _HEADER_CACHE[raw] = headers
    return headers


def _bad_lengths(total: int, headers_len: int, max_frame: int, max_header: int) -> EventStreamError:
    """The error for a prelude whose lengths are out of bounds (checked in this order)."""
    if total < MIN_FRAME_LEN:
        return CorruptFrame(f"frame length {total} below the 16-byte minimum")
    if total > max_frame:
        return FrameTooLarge(f"frame of {total} bytes exceeds the {max_frame}-byte limit")
    if headers_len > total - MIN_FRAME_LEN:
        return CorruptFrame("headers length exceeds frame length")
    return FrameTooLarge(f"header block of {headers_len} bytes exceeds the {max_header}-byte limit")


class FrameDecoder:
    """Incremental decoder: ``feed`` bytes, get whole messages; ``finish`` at end of body.

    Both CRCs are checked; frames outside ``[16, max_frame_bytes]`` and header blocks over
    ``max_header_bytes`` are rejected. After an error the decoder is unusable: the stream
    it was reading cannot be trusted any more. Message headers are read-only mappings.
    """

    __slots__ = ("_buf", "_failed", "max_frame_bytes", "max_header_bytes")

    def __init__(
        self,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        self._buf = bytearray()
        self._failed = False
        self.max_frame_bytes = max_frame_bytes
        self.max_header_bytes = max_header_bytes

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Message]:
        """The whole messages completed by ``chunk``; raises on the first bad frame."""
        out, error = self.feed_until_error(chunk)
        if error is not None:
            raise error
        return out

    def feed_until_error(
        self, chunk: bytes | bytearray | memoryview
    ) -> tuple[list[Message], EventStreamError | None]:
        """Like :meth:`feed`, but a bad frame does not discard the good messages before it
        in the same chunk: they are returned together with the error, for the caller to
        deliver first and raise after."""
        # One Python frame per chunk (the stream's hot path), no helper per chunk or frame.
        out: list[Message] = []
        if self._failed:
            return out, CorruptFrame("decoder already failed on this stream")
        buf = self._buf
        if buf:
            buf += chunk
            data: bytes | bytearray = buf
        else:
            # The usual case: the chunk starts on a frame boundary. Decode it in place and
            # keep only a partial tail.
            data = chunk if type(chunk) is bytes else bytes(chunk)
        size = len(data)
        pos = 0
        max_frame, max_header = self.max_frame_bytes, self.max_header_bytes
        self._failed = True  # until the chunk is through: any exception leaves it failed
        try:
            while size - pos >= PRELUDE_LEN:
                total, headers_len, prelude_crc = _PRELUDE.unpack_from(data, pos)
                if _crc32(data[pos : pos + 8]) != prelude_crc:
                    raise CorruptFrame("prelude CRC mismatch")
                if not (
                    MIN_FRAME_LEN <= total <= max_frame
                    and headers_len <= total - MIN_FRAME_LEN
                    and headers_len <= max_header
                ):
                    raise _bad_lengths(total, headers_len, max_frame, max_header)
                end = pos + total
                if end > size:
                    break
                # The message CRC covers the prelude too: continue from the prelude's CRC.
                if (
                    _crc32(data[pos + 8 : end - 4], prelude_crc)
                    != _U32.unpack_from(data, end - 4)[0]
                ):
                    raise CorruptFrame("message CRC mismatch")
                payload_start = pos + PRELUDE_LEN + headers_len
                raw = data[pos + PRELUDE_LEN : payload_start]
                if type(raw) is not bytes:  # a bytearray slice (a frame split over chunks)
                    raw = bytes(raw)
                headers = _HEADER_CACHE.get(raw)
                if headers is None:
                    headers = _cache_headers(raw)
                payload = data[payload_start : end - 4]
                message = _new_message(Message)
                _set_headers(message, headers)
                _set_payload(message, payload if type(payload) is bytes else bytes(payload))
                out.append(message)
                pos = end
        except EventStreamError as exc:
            return out, exc
        self._failed = False
        if buf:
            if pos:
                del buf[:pos]
        elif pos < size:
            buf += data[pos:]
        return out, None

    def finish(self) -> None:
        """Declare the end of the body; raise :class:`TruncatedStream` if a partial frame is left."""
        if self._buf and not self._failed:
            raise TruncatedStream(
                f"stream ended inside a frame ({len(self._buf)} bytes of an incomplete frame)"
            )


def iter_messages(data: bytes) -> Iterator[Message]:
    """Decode a complete body in one go (tests, recorded fixtures)."""
    decoder = FrameDecoder()
    yield from decoder.feed(data)
    decoder.finish()

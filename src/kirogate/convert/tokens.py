"""Local token estimates for count_tokens, message_start and usage fallbacks (spec §4.6, §8.3).

Text is estimated from character-class counts, weighted by coefficients fitted against
Anthropic's published (legacy, Claude 2 era) tokenizer; ``docs/token-estimation.md`` has
the method, the sample and the measured error (mean 3.2 % on a held-out sample: 2-4 % on
prose, code and JSON, 7.8 % on CJK; kiro.rs's estimator: 27 %). No tokenizer is loaded:
one UTF-8 encode, one or two ``bytes.translate`` calls and a few big-integer bit operations
per text, about 15-20 ns per character. Texts of 256+ characters are memoised by hash, so
the history a client re-sends every turn costs only a lookup.

Images use Anthropic's formula (width × height / 750 after its downscale, at most ~1600);
the size comes from the image header (PNG, JPEG, GIF, WebP) without decoding pixels.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import string
from collections.abc import Iterable
from typing import Final, TypeVar

import orjson

from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Instruction,
    Part,
    Text,
    Thinking,
    ToolCall,
    ToolDef,
    Turn,
)

# ---------------------------------------------------------------- text

# Character classes, one bit each, looked up per UTF-8 lead byte (continuation bytes are
# deleted first, so there is one class byte per code point).
_WORD, _DIGIT, _PUNCT, _KANA, _NEWLINE, _HAN, _CYRILLIC, _OTHER = (1 << i for i in range(8))


def _class_table() -> bytes:
    table = bytearray(256)
    for byte in string.ascii_letters.encode():
        table[byte] = _WORD
    for byte in string.digits.encode():
        table[byte] = _DIGIT
    for byte in [*string.punctuation.encode(), *range(32), 127]:
        table[byte] = _PUNCT
    # Spaces and tabs have no class: they merge into the next token and are not counted.
    table[ord("\n")] = table[ord("\r")] = _NEWLINE
    for byte in range(0xC2, 0x100):
        table[byte] = _OTHER  # Greek, Arabic, symbols, emoji, ...
    for byte in range(0xC3, 0xCA):
        table[byte] = _WORD | _OTHER  # U+00C0-U+027F: accented Latin, part of a word
    for byte in range(0xD0, 0xD4):
        table[byte] = _CYRILLIC  # U+0400-U+04FF
    table[0xE3] = _KANA  # U+3000-U+3FFF: CJK punctuation, kana
    for byte in range(0xE4, 0xEA):
        table[byte] = _HAN  # U+4000-U+9FFF: CJK ideographs
    for byte in range(0xEA, 0xEE):
        table[byte] = _KANA  # U+A000-U+DFFF: mostly Hangul
    table[0xEF] = _PUNCT  # U+F000-U+FFFF, mostly fullwidth punctuation (NFKC -> ASCII)
    return bytes(table)


_CLASSES: Final = _class_table()
_CONTINUATION: Final = bytes(range(0x80, 0xC0))

# Fitted by bench/token_calibration.py (weighted least squares on relative error); the
# order is that of _features().
_COEFFICIENTS: Final = (
    0.9852,  # words (letter runs)
    0.1224,  # letters beyond the 6th in a word (rare and long words split)
    0.9734,  # digit runs
    0.2051,  # digits
    1.0407,  # punctuation runs
    0.0584,  # punctuation characters
    1.0047,  # newlines
    -0.1749,  # newline runs
    1.0603,  # CJK ideographs
    -0.6021,  # runs of CJK ideographs
    1.2265,  # kana, CJK punctuation and Hangul
    2.7569,  # Cyrillic words
    0.1082,  # Cyrillic letters
    3.0208,  # other non-ASCII runs
    0.7637,  # other non-ASCII characters
)
_MEMO_MIN_CHARS: Final = 256
_K = TypeVar("_K", str, int)
_MEMO_MAX_ENTRIES: Final = 16384
_SHORT_MEMO_MAX_ENTRIES: Final = 4096  # holds the texts: at most ~1 MiB
_memo: dict[int, int] = {}  # long texts, by hash: the memo holds no copy of them
_short_memo: dict[str, int] = {}  # texts under _MEMO_MIN_CHARS, by the text itself


def _features(text: str) -> tuple[int, ...]:
    """Per-class character counts and run counts of ``text`` (see _COEFFICIENTS)."""
    raw = text.encode("utf-8", "surrogatepass")
    codes = raw if text.isascii() else raw.translate(None, _CONTINUATION)
    flags = int.from_bytes(codes.translate(_CLASSES), "little")
    ones = int.from_bytes(b"\x01" * len(codes), "little")  # bit 0 of every byte
    starts = flags & ~(flags << 8)  # a class bit set where the previous character lacks it
    words = flags & ones
    long_words = words
    for shift in range(8, 56, 8):
        long_words &= words << shift  # letters preceded by six more in the same word

    def count(value: int, bit: int) -> int:
        return (value & (ones << bit)).bit_count()

    return (
        count(starts, 0),
        long_words.bit_count(),
        count(starts, 1),
        count(flags, 1),
        count(starts, 2),
        count(flags, 2),
        count(flags, 4),
        count(starts, 4),
        count(flags, 5),
        count(starts, 5),
        count(flags, 3),
        count(starts, 6),
        count(flags, 6),
        count(starts, 7),
        count(flags, 7),
    )


def estimate_text_tokens(text: str) -> int:
    """Estimated Claude tokens in ``text``; 0 for the empty string, else at least 1."""
    if not text:
        return 0
    # Short texts (tool names, descriptions, short turns) recur on every request of a
    # conversation and are remembered by the text itself; long ones by hash, so the memo
    # holds no copy of them. A lookup instead of ~3 us of maths.
    if len(text) < _MEMO_MIN_CHARS:
        return _remembered(_short_memo, text, _SHORT_MEMO_MAX_ENTRIES, text)
    return _remembered(_memo, hash(text) ^ len(text), _MEMO_MAX_ENTRIES, text)


def _remembered(memo: dict[_K, int], key: _K, limit: int, text: str) -> int:
    cached = memo.get(key)
    if cached is None:
        cached = _tokens(text)
        if len(memo) >= limit:
            memo.clear()
        memo[key] = cached
    return cached


# Past this many characters the features are counted piece by piece: each big-integer
# operation of _features holds the interpreter for its whole length (~0.1 s per step on
# 50 MB), so a worker thread could not let the event loop in between. A piece boundary
# can miscount one run or long word, ~1 token in 16,000.
_PIECE_CHARS: Final = 64 * 1024


def _tokens(text: str) -> int:
    if len(text) <= _PIECE_CHARS:
        features = _features(text)
    else:
        pieces = range(0, len(text), _PIECE_CHARS)
        counts = [_features(text[start : start + _PIECE_CHARS]) for start in pieces]
        features = tuple(map(sum, zip(*counts, strict=True)))
    return max(1, round(sum(c * f for c, f in zip(_COEFFICIENTS, features, strict=True))))


_CJK_RE: Final = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
CHARS_PER_TOKEN: Final = 3.7  # non-CJK text and JSON, measured on the calibration sample


def cjk_count(text: str) -> int:
    """Kana, CJK ideographs and Hangul in ``text`` (0 at once for ASCII)."""
    return 0 if text.isascii() else len(_CJK_RE.findall(text))


def output_tokens_for(*, chars: int, cjk_chars: int = 0) -> int:
    """Generated tokens from running character counts (text plus tool-input JSON).

    For streams where only lengths were kept: about one token per CJK character and
    :data:`CHARS_PER_TOKEN` characters per token otherwise (RS uses 2/3 and 4). When the
    whole text is at hand, :func:`estimate_text_tokens` is closer.
    """
    if chars <= 0:
        return 0
    return max(1, math.ceil((chars - cjk_chars) / CHARS_PER_TOKEN + cjk_chars))


# ---------------------------------------------------------------- images

IMAGE_MAX_TOKENS: Final = 1600
_IMAGE_MAX_EDGE: Final = 1568


def image_size(data: str) -> tuple[int, int] | None:
    """(width, height) from the header of a base64 PNG, JPEG, GIF or WebP; None if unknown."""
    try:
        head = _decode(data, 0, 32)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return _be(head, 16, 4), _be(head, 20, 4)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return _le(head, 6, 2), _le(head, 8, 2)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(data)
    except (binascii.Error, ValueError, IndexError):
        return None
    return None


def image_tokens(image: Image) -> int:
    """Anthropic's image cost: width × height / 750 after its downscale, at most ~1600."""
    size = image_size(image.data)
    if size is None:
        return IMAGE_MAX_TOKENS
    width, height = size
    scale = min(1.0, _IMAGE_MAX_EDGE / max(width, height, 1))
    pixels = width * scale * height * scale
    return max(1, min(IMAGE_MAX_TOKENS, math.ceil(pixels / 750)))


def _decode(data: str, offset: int, size: int) -> bytes:
    """Bytes ``offset`` to ``offset + size`` of base64 ``data``, decoding only that window."""
    start = offset // 3 * 4
    end = -(-(offset + size) // 3) * 4
    chunk = base64.b64decode(data[start:end])
    skip = offset - start // 4 * 3
    return chunk[skip : skip + size]


def _be(raw: bytes, at: int, size: int) -> int:
    return int.from_bytes(raw[at : at + size], "big")


def _le(raw: bytes, at: int, size: int) -> int:
    return int.from_bytes(raw[at : at + size], "little")


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 ":
        return _le(head, 26, 2) & 0x3FFF, _le(head, 28, 2) & 0x3FFF
    if chunk == b"VP8L":
        bits = _le(head, 21, 4)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return _le(head, 24, 3) + 1, _le(head, 27, 3) + 1
    return None


# Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MAX_SEGMENTS: Final = 256


def _jpeg_size(data: str) -> tuple[int, int] | None:
    """Walk the JPEG segments (decoding 9 bytes each) to the first start-of-frame."""
    offset = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        segment = _decode(data, offset, 9)
        if len(segment) < 4 or segment[0] != 0xFF:
            return None
        marker = segment[1]
        if marker in _SOF_MARKERS:
            if len(segment) < 9:
                return None
            return _be(segment, 7, 2), _be(segment, 5, 2)
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2  # markers without a length
            continue
        offset += 2 + _be(segment, 2, 2)
    return None


# ---------------------------------------------------------------- conversations

MESSAGE_OVERHEAD: Final = (
    3  # role and turn markers per message (OpenAI's figure; Anthropic's is unpublished)
)
REPLY_OVERHEAD: Final = 3  # the assistant turn the model is primed with
# Anthropic's tool-use system prompt (docs: 346 tokens for auto/none, 313 for any/tool).
TOOL_SYSTEM_TOKENS: Final = 346
TOOL_SYSTEM_TOKENS_FORCED: Final = 313
PDF_PAGE_TOKENS: Final = 2250  # Anthropic: 1,500-3,000 text tokens per page; mid-point
_PDF_PAGE: Final = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def estimate_conversation_tokens(conv: Conversation) -> int:
    """Estimated input tokens of ``conv`` as Anthropic would count them; at least 1."""
    total = REPLY_OVERHEAD + estimate_text_tokens(conv.system)
    total += sum(map(tool_tokens, conv.tools))
    if conv.tools:
        forced = conv.tool_choice is not None and conv.tool_choice.mode in ("any", "tool")
        total += TOOL_SYSTEM_TOKENS_FORCED if forced else TOOL_SYSTEM_TOKENS
    total += sum(map(turn_tokens, conv.turns))
    return max(1, total)


def tool_tokens(tool: ToolDef) -> int:
    """One tool definition's share of :func:`estimate_conversation_tokens`."""
    total = estimate_text_tokens(tool.name) + estimate_text_tokens(tool.description)
    return total + estimate_text_tokens(orjson.dumps(tool.input_schema).decode())


def turn_tokens(turn: Turn) -> int:
    """One turn's share of :func:`estimate_conversation_tokens`."""
    return MESSAGE_OVERHEAD + _parts_tokens(turn.parts)


def _parts_tokens(parts: Iterable[Part]) -> int:
    total = 0
    for part in parts:
        match part:
            case Text(text=text) | Thinking(text=text) | Instruction(text=text):
                total += estimate_text_tokens(text)
            case Image():
                total += image_tokens(part)
            case Document():
                total += document_tokens(part)
            case ToolCall(name=name, input=tool_input):
                total += estimate_text_tokens(name)
                total += estimate_text_tokens(orjson.dumps(tool_input).decode())
            case _:  # ToolResult
                total += estimate_text_tokens(part.content) + sum(map(image_tokens, part.images))
    return total


def document_tokens(document: Document) -> int:
    """Text documents by their text; PDFs by page count × :data:`PDF_PAGE_TOKENS`."""
    title = estimate_text_tokens(document.title or "")
    if document.media_type.startswith("text/"):
        return title + estimate_text_tokens(document.data)
    try:
        raw = base64.b64decode(document.data)
    except (binascii.Error, ValueError):
        return title + PDF_PAGE_TOKENS
    return title + max(1, len(_PDF_PAGE.findall(raw))) * PDF_PAGE_TOKENS

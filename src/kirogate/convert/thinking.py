"""Streaming extraction of the first ``<thinking>`` block from Kiro text (spec data §5.2).

With prompt-injected thinking the model answers ``<thinking>\\n…\\n</thinking>\\n\\n…`` as
ordinary text, and the tags may be split at any character. :class:`ThinkingParser` follows
kiro.rs (RS), with its rules stated so that the output does not depend on where chunks
split (a property test feeds every split):

- The open tag is the first ``<thinking>`` whose neighbouring characters are not quote or
  punctuation characters (``_QUOTES``). A tag at the very end of the text is real.
- Text before it is emitted only when it is not pure whitespace (4.6 models send ``\\n\\n``
  first); whitespace is therefore held until something else arrives. One ``\\n`` directly
  after the tag is dropped.
- Inside, the close is the first unquoted ``</thinking>`` followed by ``\\n\\n``. At a tool
  call or the end of the stream, an unquoted ``</thinking>`` followed only by whitespace
  also closes. Unclosed thinking is all thinking.
- Only the first block is parsed; everything after it is text.

Differences from RS, where RS's output depends on the split: RS decides on a tag at the end
of a chunk without seeing the next character, forgets the character before a held-back tag,
and drops or keeps whitespace between earlier text and the tag depending on the chunking. A tool call inside an unclosed block ends the block here (RS keeps treating the text
after the tool call as thinking, which cannot be rendered as one block).
"""

from __future__ import annotations

from typing import Final, TypeAlias

from kirogate.convert.ir import TextDelta, ThinkingDelta, ThinkingStop

ThinkingOut: TypeAlias = TextDelta | ThinkingDelta | ThinkingStop

# ---------------------------------------------------------------- effort

# Anthropic's ``output_config.effort`` values (``xhigh`` since Opus 4.7).
ANTHROPIC_EFFORTS: Final = ("low", "medium", "high", "xhigh", "max")
# The effort tag the upstream knows (spec §5.1 and the catalogue of §5.4).
EFFORT_TAGS: Final = ("low", "medium", "high", "max")
# Effort name (Anthropic's, plus OpenAI's "minimal") -> (thinking budget in tokens, upstream
# effort tag). "high" is RS's default budget for -thinking models; the top end stays within
# AC's clamp and the 64k output cap. xhigh lies between high and max and, as the upstream's
# tag has no such value, is sent as max.
EFFORT_BUDGETS: Final[dict[str, tuple[int, str]]] = {
    "minimal": (1024, "low"),
    "low": (4096, "low"),
    "medium": (10240, "medium"),
    "high": (20000, "high"),
    "xhigh": (24576, "max"),
    "max": (32000, "max"),
}

OPEN_TAG: Final = "<thinking>"
CLOSE_TAG: Final = "</thinking>"
_OPEN_LEN: Final = len(OPEN_TAG)
_CLOSE_LEN: Final = len(CLOSE_TAG)
# A tag next to one of these is quoted or part of prose about tags, not a real tag (RS).
_QUOTES: Final = frozenset("`\"'\\#!@$%^&*()-_=+[]{};:<>,.?/")

_BEFORE: Final = 0
_INSIDE: Final = 1
_AFTER: Final = 2


def _partial_start(buf: str, tag: str) -> int:
    """Start of the longest suffix of ``buf`` that is a proper prefix of ``tag``, else len(buf)."""
    size = len(buf)
    i = buf.find("<", max(0, size - len(tag) + 1))
    while i != -1:
        if tag.startswith(buf[i:]):
            return i
        i = buf.find("<", i + 1)
    return size


def _close_at_end(buf: str, prev: str) -> int:
    """Position of an unquoted ``</thinking>`` followed only by whitespace, or -1."""
    i = buf.find(CLOSE_TAG)
    while i != -1:
        before = buf[i - 1] if i else prev
        if before not in _QUOTES and not buf[i + _CLOSE_LEN :].strip():
            return i
        i = buf.find(CLOSE_TAG, i + 1)
    return -1


class ThinkingParser:
    """Split ``assistantResponseEvent`` text into thinking and text deltas.

    ``feed`` each text chunk in order; call ``flush`` when a tool call starts and at the end of
    the stream. The outputs, merged per kind, are the same for every way of chunking the text.
    """

    __slots__ = ("_buf", "_mode", "_prev", "_seen_text", "_strip_newline")

    def __init__(self) -> None:
        self._mode = _BEFORE
        self._buf = ""
        self._prev = ""  # the last character already released: the quote check needs it
        self._seen_text = False  # non-whitespace text was released before the open tag
        self._strip_newline = False

    @property
    def in_thinking(self) -> bool:
        return self._mode == _INSIDE

    def feed(self, text: str) -> list[ThinkingOut]:
        if self._mode == _AFTER:
            return [TextDelta(text)] if text else []
        if not text:
            return []
        out: list[ThinkingOut] = []
        self._buf += text
        if self._mode == _BEFORE:
            self._scan_open(out, final=False)
        if self._mode == _INSIDE:
            self._scan_close(out)
        return out

    def flush(self) -> list[ThinkingOut]:
        """End of a text run (a tool call follows, or the stream ended): release everything."""
        out: list[ThinkingOut] = []
        if self._mode == _BEFORE:
            self._scan_open(out, final=True)
            self._prev = ""  # a tool call separates this text from the next
        if self._mode == _INSIDE:
            buf = self._buf  # a pending leading newline was stripped when buf got text
            end = _close_at_end(buf, self._prev)
            content = buf if end == -1 else buf[:end]
            if content:
                out.append(ThinkingDelta(content))
            out.append(ThinkingStop())
            self._mode = _AFTER
            self._buf = ""
        return out

    def _scan_open(self, out: list[ThinkingOut], *, final: bool) -> None:
        buf = self._buf
        size = len(buf)
        i = buf.find(OPEN_TAG)
        while i != -1:
            after = i + _OPEN_LEN
            if after >= size and not final:
                hold = i  # the next character decides whether the tag is quoted
                break
            before = buf[i - 1] if i else self._prev
            if before not in _QUOTES and (after >= size or buf[after] not in _QUOTES):
                self._open(out, i)
                return
            i = buf.find(OPEN_TAG, i + 1)
        else:
            hold = size if final else _partial_start(buf, OPEN_TAG)
        released = buf[:hold]
        if released and (final or self._seen_text or not released.isspace()):
            out.append(TextDelta(released))
            self._seen_text = self._seen_text or not released.isspace()
            self._prev = released[-1]
            self._buf = buf[hold:]

    def _open(self, out: list[ThinkingOut], i: int) -> None:
        buf = self._buf
        prefix = buf[:i]
        if prefix and (self._seen_text or not prefix.isspace()):
            out.append(TextDelta(prefix))
        self._mode = _INSIDE
        self._buf = buf[i + _OPEN_LEN :]
        self._prev = ""
        self._strip_newline = True

    def _scan_close(self, out: list[ThinkingOut]) -> None:
        buf = self._buf
        if self._strip_newline and buf:
            self._strip_newline = False
            if buf[0] == "\n":
                buf = buf[1:]
        i = buf.find(CLOSE_TAG)
        while i != -1:
            before = buf[i - 1] if i else self._prev
            if before not in _QUOTES:
                after = i + _CLOSE_LEN
                tail = buf[after : after + 2]
                if tail == "\n\n":
                    if i:
                        out.append(ThinkingDelta(buf[:i]))
                    out.append(ThinkingStop())
                    self._mode = _AFTER
                    self._buf = ""
                    rest = buf[after + 2 :]
                    if rest:
                        out.append(TextDelta(rest))
                    return
                if len(tail) < 2 or buf[after:].isspace():
                    hold = i  # wait for "\n\n", or for the end of the run (§5.2 edge cases)
                    break
            i = buf.find(CLOSE_TAG, i + 1)
        else:
            hold = _partial_start(buf, CLOSE_TAG)
        if hold:
            out.append(ThinkingDelta(buf[:hold]))
            self._prev = buf[hold - 1]
        self._buf = buf[hold:]

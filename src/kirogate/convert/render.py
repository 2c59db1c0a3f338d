"""The contract every dialect renderer keeps: output events in, the client's bytes out.

:class:`StreamRenderer` is what the relay loop (``service.answer.relay``) talks to: ``start``
once, ``render`` per upstream chunk (``render_text`` for a plain text chunk that needs no
parsing), ``ping`` while the upstream is quiet, ``finish`` with the assembler's last events,
or ``error`` once the stream failed. A dialect implements ``feed`` (one event) and
``error``; the rest has defaults that are right for any dialect.
"""

from __future__ import annotations

from typing import Final

from kirogate.convert.ir import OutEvent, TextDelta
from kirogate.errors import KirogateError

COMMENT_PING: Final = b": ping\n\n"  # for dialects without a ping event; every SSE client skips it


class StreamRenderer:
    """Bytes for one response, drawn from output events (the dialects subclass it)."""

    __slots__ = ()

    def start(self) -> bytes:
        """The opening of the response (``b""`` when the dialect has none)."""
        return b""

    def feed(self, event: OutEvent) -> bytes:
        raise NotImplementedError

    def render(self, events: list[OutEvent]) -> bytes:
        """``feed`` several events; one bytes object for one write."""
        if len(events) == 1:  # the common case: one upstream chunk, one delta
            return self.feed(events[0])
        return b"".join([self.feed(event) for event in events])

    def render_text(self, text: str) -> bytes:
        """``render([TextDelta(text)])``; dialects draw it without the event object (the
        streaming hot path)."""
        return self.feed(TextDelta(text))

    def ping(self) -> bytes:
        """A keep-alive while the upstream is quiet; ``b""`` when the dialect has no ping
        event (the relay then sends nothing, or :data:`COMMENT_PING` where one is needed)."""
        return b""

    def finish(self, events: list[OutEvent]) -> bytes:
        """The end of a stream that ended well: the assembler's closing events drawn."""
        return self.render(events)

    def error(self, exc: KirogateError) -> bytes:
        """The end of a stream that failed with ``exc`` (already classified for the client)."""
        raise NotImplementedError

"""StreamRenderer: the defaults every dialect renderer inherits."""

from __future__ import annotations

import pytest

from kirogate.convert.ir import Finish, OutEvent, TextDelta
from kirogate.convert.render import StreamRenderer
from kirogate.errors import KirogateError


class _Echo(StreamRenderer):
    """Draws each event as its class name, so the defaults can be seen."""

    def feed(self, event: OutEvent) -> bytes:
        if type(event) is TextDelta:
            return event.text.encode()
        return type(event).__name__.encode()

    def error(self, exc: KirogateError) -> bytes:
        return b"error"


def test_render_joins_the_fed_events_into_one_write() -> None:
    finish = Finish("end_turn", 1, 2)
    assert _Echo().render([TextDelta("a"), finish]) == b"aFinish"
    assert _Echo().render([TextDelta("a")]) == b"a"


def test_render_text_draws_what_render_draws_for_the_text() -> None:
    assert _Echo().render_text("hi") == _Echo().render([TextDelta("hi")])


def test_a_dialect_without_an_opening_or_a_ping_draws_nothing_for_them() -> None:
    assert _Echo().start() == b""
    assert _Echo().ping() == b""


def test_finish_draws_the_closing_events() -> None:
    assert _Echo().finish([Finish("end_turn", 1, 2)]) == b"Finish"


def test_feed_and_error_are_the_dialects_to_write() -> None:
    with pytest.raises(NotImplementedError):
        StreamRenderer().feed(TextDelta("a"))
    with pytest.raises(NotImplementedError):
        StreamRenderer().error(KirogateError("x"))

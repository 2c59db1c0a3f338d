"""The service's request log: rows queued or held for bodies, the event, the cursor."""

from datetime import UTC, datetime

import pytest

from kirogate.errors import InvalidRequest
from kirogate.events import EventBus
from kirogate.service.logs import (
    NOTE,
    RequestLogEntry,
    RequestNote,
    decode_cursor,
    encode_cursor,
    finished,
)


class Queue:
    def __init__(self) -> None:
        self.rows: list[RequestLogEntry] = []

    def log_request(self, entry: RequestLogEntry) -> None:
        self.rows.append(entry)


def row(**fields: object) -> RequestLogEntry:
    values: dict[str, object] = {
        "at": datetime(2030, 1, 1, tzinfo=UTC),
        "request_id": "r1",
        "endpoint": "/v1/messages",
        "model": "claude-sonnet-4",
        "status": 200,
    }
    values.update(fields)
    return RequestLogEntry(**values)  # type: ignore[arg-type]


def test_a_row_is_queued_and_published_without_secrets_or_bodies() -> None:
    store, bus = Queue(), EventBus()
    feed = bus.subscribe(["request.finished"])
    entry = row(api_key_name="alice", request_body="secret body", model_asked="sonnet")
    finished(store, bus, entry)  # type: ignore[arg-type]
    assert store.rows == [entry]
    event = feed._queue.get_nowait()
    assert event.data["key_name"] == "alice" and event.data["model"] == "sonnet"
    assert "secret body" not in repr(event.data)


def test_nothing_is_built_for_an_unwatched_bus() -> None:
    store, bus = Queue(), EventBus()
    finished(store, bus, row())  # type: ignore[arg-type]
    assert len(store.rows) == 1


def test_rows_wait_in_the_note_while_bodies_are_recorded() -> None:
    store = Queue()
    note = RequestNote("1.2.3.4", 0.0, held=[])
    token = NOTE.set(note)
    try:
        finished(store, None, row())  # type: ignore[arg-type]
    finally:
        NOTE.reset(token)
    assert store.rows == [] and len(note.held or []) == 1


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for bad in ("", "abc", encode_cursor(1)[:-2] + "!!", "bG9nOng"):
        with pytest.raises(InvalidRequest) as caught:
            decode_cursor(bad)
        assert caught.value.param == "cursor"

"""The client API's request-log helpers: the note, and refusals on the routes that log."""

from types import SimpleNamespace

from starlette.requests import Request

from kirogate.api.request_log import log_failure, log_refusal, note_request
from kirogate.errors import AuthenticationFailed
from kirogate.events import EventBus
from kirogate.service.logs import NOTE, RequestNote


class Queue:
    def __init__(self) -> None:
        self.rows: list[object] = []

    def log_request(self, entry: object) -> None:
        self.rows.append(entry)


def request_for(path: str, gateway: object) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(gateway=gateway))
    scope = {"type": "http", "path": path, "client": ("198.51.100.7", 1), "app": app}
    return Request(scope)


def test_the_note_is_made_once_with_the_peer() -> None:
    token = NOTE.set(None)
    try:
        request = request_for("/v1/messages", None)
        note = note_request(request)
        assert note.peer == "198.51.100.7"
        assert note_request(request) is note
    finally:
        NOTE.reset(token)


def test_a_refusal_on_a_client_route_is_queued() -> None:
    store = Queue()
    gateway = SimpleNamespace(store=store, events=EventBus())
    token = NOTE.set(None)
    try:
        log_refusal(request_for("/v1/messages", gateway), AuthenticationFailed("no key"), 401)
        log_refusal(request_for("/api/admin/logs", gateway), AuthenticationFailed("x"), 401)
        log_refusal(request_for("/health", gateway), AuthenticationFailed("x"), 401)
    finally:
        NOTE.reset(token)
    (entry,) = store.rows
    assert (entry.status, entry.client_address, entry.error_type) == (  # type: ignore[attr-defined]
        401,
        "198.51.100.7",
        "authentication_error",
    )


def test_no_row_after_an_answer_made_one() -> None:
    store = Queue()
    gateway = SimpleNamespace(store=store, events=EventBus())
    token = NOTE.set(RequestNote("x", 0.0, answered=True))
    try:
        log_failure(gateway, "/v1/messages", AuthenticationFailed("x"), 401)  # type: ignore[arg-type]
    finally:
        NOTE.reset(token)
    assert store.rows == []


def test_a_gateway_without_store_or_watchers_builds_nothing() -> None:
    gateway = SimpleNamespace()
    log_failure(gateway, "/v1/messages", AuthenticationFailed("x"), 401)  # type: ignore[arg-type]

"""Every operation of ``/openapi.json``, fuzzed by schemathesis against a gateway on the emulator.

For each operation a bounded number of bodies, parameters and paths, both ones the schema
allows and ones it forbids: never a 5xx, never a hang, and every 4xx in the envelope the
schema documents (Anthropic's, OpenAI's or the admin API's). The gateway runs on an event
loop in its own thread so hypothesis (synchronous) can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from kirogate.admin.schemas import AdminError
from kirogate.api.errors import Dialect, dialect_for_path
from kirogate.api.schemas import AnthropicError, OpenAIError
from kirogate.convert.models import list_public_models
from tests.emulated_gateway import CLIENT_KEY, running

# In the test extra; a checkout whose environment predates it skips this module.
schemathesis = pytest.importorskip("schemathesis")
GenerationMode = schemathesis.GenerationMode

ADMIN_KEY = "admin-key-for-the-fuzzer"
HANG_GUARD = 30.0  # seconds; a generous bound, only to turn a hang into a failure
EXAMPLES = 15  # per operation and generation mode

# Every documented operation but the probes (no body, no parameters; tested elsewhere).
OPERATIONS = [
    ("POST", "/v1/messages"),
    ("POST", "/cc/v1/messages"),
    ("POST", "/v1/messages/count_tokens"),
    ("POST", "/cc/v1/messages/count_tokens"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/responses"),
    ("GET", "/v1/responses/{response_id}"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model_id}"),
    ("GET", "/api/admin/credentials"),
    ("POST", "/api/admin/credentials"),
    ("DELETE", "/api/admin/credentials/{credential_id}"),
    ("POST", "/api/admin/credentials/{credential_id}/disabled"),
    ("POST", "/api/admin/credentials/{credential_id}/priority"),
    ("POST", "/api/admin/credentials/{credential_id}/reset"),
    ("GET", "/api/admin/credentials/{credential_id}/balance"),
    ("POST", "/api/admin/credentials/import"),
    ("GET", "/api/admin/credentials/export"),
    ("POST", "/api/admin/credentials/{credential_id}/refresh"),
    ("POST", "/api/admin/credentials/verify"),
    ("POST", "/api/admin/credentials/enable-all"),
    ("POST", "/api/admin/credentials/disable-all"),
    ("POST", "/api/admin/credentials/delete-failed"),
    ("GET", "/api/admin/jobs/{job_id}"),
    ("GET", "/api/admin/config/load-balancing"),
    ("PUT", "/api/admin/config/load-balancing"),
    ("GET", "/api/admin/groups"),
    ("POST", "/api/admin/groups"),
    ("GET", "/api/admin/groups/{name}"),
    ("PATCH", "/api/admin/groups/{name}"),
    ("DELETE", "/api/admin/groups/{name}"),
    ("PUT", "/api/admin/groups/{name}/credentials"),
    ("POST", "/api/admin/groups/{name}/credentials"),
    ("DELETE", "/api/admin/groups/{name}/credentials/{credential_id}"),
    ("POST", "/api/admin/logins/device"),
    ("POST", "/api/admin/logins/social"),
    ("GET", "/api/admin/logins/{login_id}"),
    ("POST", "/api/admin/logins/{login_id}/complete"),
    ("GET", "/api/admin/audit"),
    ("GET", "/api/admin/alerts/webhooks"),
    ("POST", "/api/admin/alerts/webhooks"),
    ("GET", "/api/admin/alerts/webhooks/{webhook}"),
    ("PATCH", "/api/admin/alerts/webhooks/{webhook}"),
    ("DELETE", "/api/admin/alerts/webhooks/{webhook}"),
    ("POST", "/api/admin/alerts/webhooks/{webhook}/test"),
    ("GET", "/api/admin/backup"),
    ("POST", "/api/admin/backup"),
    ("GET", "/api/admin/settings"),
    ("PATCH", "/api/admin/settings"),
    ("DELETE", "/api/admin/settings/{key}"),
    ("GET", "/api/admin/models"),
    ("GET", "/api/admin/models/resolve"),
    ("GET", "/api/admin/ips"),
    ("POST", "/api/admin/ips"),
    ("DELETE", "/api/admin/ips"),
    ("DELETE", "/api/admin/ips/{ip}"),
    ("GET", "/api/admin/ips/visitors"),
    ("GET", "/api/admin/proxies"),
    ("POST", "/api/admin/proxies"),
    ("GET", "/api/admin/proxies/{proxy_id}"),
    ("PATCH", "/api/admin/proxies/{proxy_id}"),
    ("DELETE", "/api/admin/proxies/{proxy_id}"),
    ("POST", "/api/admin/proxies/{proxy_id}/test"),
    ("PUT", "/api/admin/credentials/{credential_id}/proxy"),
    ("GET", "/api/admin/keys"),
    ("POST", "/api/admin/keys"),
    ("GET", "/api/admin/keys/{key_id}"),
    ("PATCH", "/api/admin/keys/{key_id}"),
    ("DELETE", "/api/admin/keys/{key_id}"),
    ("POST", "/api/admin/keys/{key_id}/regenerate"),
    ("GET", "/api/admin/logs"),
    ("DELETE", "/api/admin/logs"),
    ("GET", "/api/admin/logs/export"),
    ("GET", "/api/admin/logs/{log_id}"),
    ("GET", "/api/admin/stats"),
]
# The login callback answers a browser with HTML pages (tests/admin/test_logins.py); the
# live feed never ends by itself (tests/admin/test_logs.py drives it).
PROBES = {
    "/health",
    "/healthz",
    "/version",
    "/ready",
    "/metrics",
    "/api/admin/logins/callback",
    "/api/admin/live",
}
# Random model names and credential numbers are all 404s, and random conversations 400s:
# often enough a real model, credential or the documented example's conversation is put in,
# so the fuzzed options around them reach the converters, the emulator and the streams.
MODELS = [info.public_id for info in list_public_models()][:3]
CREDENTIAL_IDS = ["1", "2"]


class Served:
    """A gateway on the emulator (:func:`tests.emulated_gateway.running`) on a private loop."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed gateway")
        self.ready = threading.Event()
        self.http: httpx2.AsyncClient | None = None
        self.tmp_path = tmp_path
        self.closing: asyncio.Event | None = None
        self.held: Future[None] | None = None

    async def _hold(self) -> None:
        self.closing = asyncio.Event()
        overrides = {"server.admin_key": ADMIN_KEY}
        # Persistent: the store-backed operations (addresses, proxies) answer as when served.
        async with running(self.tmp_path, persistent=True, **overrides) as (http, _emulator):
            self.http = http
            self.ready.set()
            await self.closing.wait()

    def start(self) -> None:
        self.thread.start()
        self.held = asyncio.run_coroutine_threadsafe(self._hold(), self.loop)
        if not self.ready.wait(HANG_GUARD):
            self.held.result(timeout=0)  # raises the start-up error, if any
            raise RuntimeError("the gateway did not start")

    def stop(self) -> None:
        try:
            if self.closing is not None:
                self.loop.call_soon_threadsafe(self.closing.set)
            if self.held is not None:
                self.held.result(timeout=HANG_GUARD)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(HANG_GUARD)
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def send(self, **request: Any) -> httpx2.Response:
        assert self.http is not None
        sent = asyncio.run_coroutine_threadsafe(self.http.request(**request), self.loop)
        try:
            return sent.result(timeout=HANG_GUARD)
        except TimeoutError:
            sent.cancel()
            pytest.fail(f"no answer within {HANG_GUARD}s: {request['method']} {request['url']}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    gateway = Served(tmp_path)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def document(served: Served) -> dict[str, Any]:
    response = served.send(method="GET", url="/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def envelope_for(path: str) -> type[BaseModel]:
    if path.startswith("/api/admin"):
        return AdminError
    return OpenAIError if dialect_for_path(path) is Dialect.OPENAI else AnthropicError


def request_of(case: Any) -> dict[str, Any]:
    """A schemathesis case as keyword arguments of ``httpx2.AsyncClient.request``."""
    sent = case.as_transport_kwargs(base_url="http://test")
    key = ADMIN_KEY if case.path.startswith("/api/admin") else CLIENT_KEY
    headers = {str(k): str(v) for k, v in (sent.get("headers") or {}).items()}
    headers = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"].removeprefix("http://test"),
        "headers": {**headers, "x-api-key": key},
        "params": sent.get("params"),
    }
    if "json" in sent:
        request["json"] = sent["json"]
    elif sent.get("data") is not None:
        request["content"] = sent["data"]
    return request


def documented_example(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = document["paths"][path][method.lower()]
    media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    example: dict[str, Any] = media.get("example", {})
    return example


def steer(
    case: Any,
    model: str | None,
    credential_id: str | None,
    conversation: dict[str, Any] | None,
) -> None:
    """Put a real model, credential number or the documented example's conversation into
    ``case``, the fuzzed fields around them kept."""
    if isinstance(case.body, dict):
        if conversation:
            case.body.update(conversation)
        if model is not None and "model" in case.body:
            case.body["model"] = model
    if credential_id is not None and "credential_id" in (case.path_parameters or {}):
        case.path_parameters["credential_id"] = credential_id


def check_answer(path: str, response: httpx2.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    if response.status_code >= 400:
        envelope = envelope_for(path)
        try:
            envelope.model_validate_json(response.content)
        except ValidationError as exc:
            pytest.fail(
                f"{where}: not a {envelope.__name__} envelope: {response.text[:300]}\n{exc}"
            )


def test_the_fuzzed_operations_are_every_documented_one(document: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if path not in PROBES
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx_hangs_or_leaves_its_envelope(
    served: Served, document: dict[str, Any], method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_dict(document)
    operation = schema[path][method]
    example = documented_example(document, method, path)
    conversation = {key: value for key, value in example.items() if key != "model"}
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=cases,
        model=st.sampled_from([None, *MODELS]),
        credential_id=st.sampled_from([None, *CREDENTIAL_IDS]),
        plain=st.booleans(),
    )
    def fuzz(case: Any, model: str | None, credential_id: str | None, plain: bool) -> None:
        steer(case, model, credential_id, conversation if plain else None)
        # A header or URL that no HTTP client would send is refused before it leaves.
        with contextlib.suppress(httpx2.InvalidURL, httpx2.LocalProtocolError):
            check_answer(path, served.send(**request_of(case)))

    fuzz()


# ---------------------------------------------------------------- routes over the store
# Alert webhooks and backups need a store: the in-memory gateway above answers them 404, so
# they are fuzzed again against a persistent one (its store in the test's data dir).
STORED_PREFIXES = ("/api/admin/alerts", "/api/admin/backup")
STORED_OPERATIONS = [(m, p) for m, p in OPERATIONS if p.startswith(STORED_PREFIXES)]


class StoredServed(Served):
    async def _hold(self) -> None:
        from kirogate.api.app import create_app
        from kirogate.metrics import GatewayMetrics
        from kirogate.service import Gateway
        from kirogate.settings import load_settings

        self.closing = asyncio.Event()
        overrides = {"server.admin_key": ADMIN_KEY, "data_dir": self.tmp_path,
                     "upstream.usage_interval": 0}  # fmt: skip
        gateway = Gateway(load_settings({}, overrides), [], persistent=True)
        await gateway.start()
        try:
            await gateway.operations.create_webhook(
                name="fuzz", format="generic", url="http://127.0.0.1:21799/hook"
            )
            app = create_app(gateway, metrics=GatewayMetrics(), environ={})
            transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
            async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
                self.http = http
                self.ready.set()
                await self.closing.wait()
        finally:
            await gateway.close()


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Served]:
    gateway = StoredServed(tmp_path)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("method", "path"), STORED_OPERATIONS, ids=[f"{m} {p}" for m, p in STORED_OPERATIONS]
)
def test_routes_over_the_store_never_answer_5xx(stored: Served, method: str, path: str) -> None:
    document = stored.send(method="GET", url="/openapi.json").json()
    operation = schemathesis.openapi.from_dict(document)[path][method]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(max_examples=2 * EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=cases, real_id=st.booleans())
    def fuzz(case: Any, real_id: bool) -> None:
        if real_id and isinstance(case.path_parameters, dict) and "webhook" in case.path_parameters:
            case.path_parameters["webhook"] = "1"
        with contextlib.suppress(httpx2.InvalidURL, httpx2.LocalProtocolError):
            check_answer(path, stored.send(**request_of(case)))

    fuzz()

"""Every upstream fault the emulator can produce, through a live gateway with two credentials.

Each case checks what the client receives (a status and error in its own dialect, or an error
event and the stream's end), that requests beside the faulty one keep being served, and what
the admin API shows of the pool afterwards.

Account faults are set on the credential the pool is using (the emulator's per-account
scenario), so the gateway must fail over to the other one. Stream faults are markers in one
request's message, so only that request meets them. Fleet faults are markers too, so every
credential meets them and the client must get the mapped error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.live import REFRESH_TOKEN, LiveStack, live_stack

pytestmark = pytest.mark.timeout(90)

SECOND_TOKEN = "aorAAAAAGfaults" + "f" * 120
ADMIN_KEY = "faults-admin-key-" + "a" * 24
MODEL = "claude-sonnet-4-6"
# Library or internal text that must never reach a client.
LEAKS = ("Traceback", "aiohttp", "httpx", "ClientPayloadError", "TransferEncodingError", "Errno")


@dataclass(frozen=True)
class Pair:
    """The live stack, and the emulator account behind each gateway credential id."""

    stack: LiveStack
    accounts: dict[int, str]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp: Path = tmp_path_factory.mktemp("faults")
    creds = [
        {"refreshToken": REFRESH_TOKEN, "authMethod": "social", "priority": 0},
        {"refreshToken": SECOND_TOKEN, "authMethod": "social", "priority": 1},
    ]
    serve = [
        "--admin-key",
        ADMIN_KEY,
        # Stall faults cost a timeout per attempt: short ones (a shared, loaded CI machine
        # still answers a plain echo well within 2 s).
        "--first-token-timeout",
        "2",
        "--stream-idle-timeout",
        "2",
        "--set",
        "pool.backoff_base=0.02",
        "--set",
        "pool.backoff_cap=0.05",
        "--set",
        "upstream.first_byte_grace=0",
    ]
    with live_stack(tmp, credentials=creds, serve_args=serve) as stack:
        # Known to the emulator before the gateway's first refresh rotates the tokens.
        first = stack.emulator_json("/_emulator/credentials", {"refreshToken": REFRESH_TOKEN})
        second = stack.emulator_json("/_emulator/credentials", {"refreshToken": SECOND_TOKEN})
        assert isinstance(first, dict) and isinstance(second, dict)
        yield Pair(stack, {1: str(first["id"]), 2: str(second["id"])})


@pytest.fixture
def clean(pair: Pair) -> Iterator[Pair]:
    """The pair with every scripted fault cleared and both credentials reset afterwards."""
    yield pair
    pair.stack.emulator_json("/_emulator/refresh-outage", {"status": None})
    for cid, account in pair.accounts.items():
        pair.stack.emulator_json("/_emulator/credentials", {"id": account, "scenario": ""})
        admin(pair.stack, "POST", f"/api/admin/credentials/{cid}/reset")


def admin(stack: LiveStack, method: str, path: str) -> dict[str, Any]:
    response = httpx.request(
        method, stack.base_url + path, headers={"x-api-key": ADMIN_KEY}, timeout=10
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def pool(stack: LiveStack) -> dict[str, Any]:
    return admin(stack, "GET", "/api/admin/credentials")


def by_id(listing: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(item["id"]): item for item in listing["credentials"]}


def current_credential(stack: LiveStack) -> int:
    """The credential the priority pool is staying on (the first one before any pick)."""
    listing = pool(stack)
    current = listing["currentId"]
    return int(current) if current is not None else int(listing["credentials"][0]["id"])


# ------------------------------------------------------------------ clients


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    text: str

    def events(self) -> list[tuple[str | None, str]]:
        """(event name, data) of each SSE event."""
        out: list[tuple[str | None, str]] = []
        for block in self.text.split("\n\n"):
            name, data = None, []
            for line in block.splitlines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
            if data:
                out.append((name, "\n".join(data)))
        return out


async def ask(
    http: httpx.AsyncClient, stack: LiveStack, text: str, *, openai: bool, stream: bool = True
) -> Answer:
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    if openai:
        path, headers = "/v1/chat/completions", {"authorization": f"Bearer {stack.api_key}"}
    else:
        path, headers = "/v1/messages", {"x-api-key": stack.api_key}
    response = await http.post(stack.base_url + path, json=body, headers=headers)
    return Answer(response.status_code, response.headers, response.text)


def assert_complete(answer: Answer, text: str, *, openai: bool) -> None:
    """A whole, successful streaming answer echoing ``text``, with its end marker."""
    assert answer.status == 200, answer.text
    events = answer.events()
    if openai:
        assert events[-1][1] == "[DONE]"
        said = "".join(
            choice["delta"].get("content") or ""
            for _, data in events[:-1]
            for choice in orjson.loads(data)["choices"]
        )
    else:
        assert events[-1][0] == "message_stop"
        said = "".join(
            orjson.loads(data)["delta"].get("text", "")
            for name, data in events
            if name == "content_block_delta"
        )
    assert said == f"Echo: {text}"


async def bystanders(http: httpx.AsyncClient, stack: LiveStack, tag: str) -> None:
    """Four clean requests (both dialects, streaming or not) that must all be answered."""
    texts = [f"{tag} bystander {n}" for n in range(4)]
    answers = await asyncio.gather(
        *(ask(http, stack, t, openai=n % 2 == 1, stream=n < 2) for n, t in enumerate(texts))
    )
    for n, (text, answer) in enumerate(zip(texts, answers, strict=True)):
        if n < 2:
            assert_complete(answer, text, openai=n % 2 == 1)
        else:
            assert answer.status == 200, answer.text
            body = answer.text
            assert f"Echo: {text}" in body


def no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text


# ------------------------------------------------------------------ account faults: fail over


@dataclass(frozen=True)
class AccountFault:
    spec: str
    cooldown: str | None  # the faulty credential rests for this reason, or else is disabled
    error: str  # a piece of its lastError


ACCOUNT_FAULTS = [
    AccountFault("throttle", "throttled", "throttled the request (429)"),
    AccountFault("http status=429", "throttled", "(429)"),
    AccountFault("quota", "quota_exceeded", "quota exhausted (402)"),
    AccountFault("suspended", "suspended", "temporarily is suspended"),
    AccountFault("bad-token", None, "refused the token (403)"),
    AccountFault("http status=401", None, "refused the token (401)"),
    AccountFault("http status=403", None, "denied access (403)"),
    AccountFault("server-error", None, "(500)"),
    AccountFault("http status=502", None, "(502)"),
    AccountFault("unavailable", None, "(503)"),
    AccountFault("stall seconds=4 headers=0", None, "no response from upstream"),
    AccountFault("corrupt at=0 kind=prelude", None, "prelude CRC mismatch"),
    AccountFault("corrupt at=0 kind=message", None, "message CRC mismatch"),
]


@pytest.mark.parametrize("fault", ACCOUNT_FAULTS, ids=lambda fault: fault.spec)
async def test_account_fault_fails_over_and_marks_the_credential(
    clean: Pair, fault: AccountFault
) -> None:
    stack = clean.stack
    bad = current_credential(stack)
    stack.emulator_json(
        "/_emulator/credentials", {"id": clean.accounts[bad], "scenario": fault.spec}
    )
    async with httpx.AsyncClient(timeout=30) as http:
        first = await ask(http, stack, "through the fault", openai=False)
        assert_complete(first, "through the fault", openai=False)
        await bystanders(http, stack, fault.spec)

    listing = pool(stack)
    states = by_id(listing)
    faulty, other = states[bad], states[3 - bad]
    assert fault.error in (faulty["lastError"] or "")
    assert faulty["errorCount"] >= 1
    if fault.cooldown is not None:
        # One failure rests it at once (a cooling credential is not counted as available).
        assert (faulty["state"], faulty["cooldownReason"]) == ("cooling", fault.cooldown)
        assert not faulty["disabled"]
    else:
        # Five requests each tried it first (it stays current while healthy): past the
        # threshold of three consecutive failures it is disabled, healable.
        assert faulty["state"] == "disabled"
        assert faulty["disabledReason"] == "too_many_failures"
        assert faulty["failureCount"] >= 3
    assert other["state"] == "ready"
    assert not other["disabled"]
    assert listing["available"] == 1


async def test_refresh_outage_cools_the_credential_and_the_other_serves(clean: Pair) -> None:
    stack = clean.stack
    bad = current_credential(stack)
    # Its access token is refused, and every refresh answers 503.
    stack.emulator_json("/_emulator/refresh-outage", {"status": 503})
    stack.emulator_json(
        "/_emulator/credentials", {"id": clean.accounts[bad], "scenario": "bad-token"}
    )
    async with httpx.AsyncClient(timeout=30) as http:
        first = await ask(http, stack, "during the outage", openai=True)
        assert_complete(first, "during the outage", openai=True)
        await bystanders(http, stack, "outage")

    faulty = by_id(pool(stack))[bad]
    assert faulty["state"] == "cooling"
    assert faulty["cooldownReason"] == "refresh_failed"
    assert not faulty["disabled"]
    assert "HTTP 503" in faulty["lastError"]


async def test_revoked_refresh_token_disables_the_credential_and_the_other_serves(
    clean: Pair,
) -> None:
    stack = clean.stack
    bad = current_credential(stack)
    listing = stack.emulator_json("/_emulator/credentials")
    assert isinstance(listing, dict)
    [account] = [a for a in listing["credentials"] if a["id"] == clean.accounts[bad]]
    # Its access token is refused, and its refresh token is dead (invalid_grant).
    stack.emulator_json("/_emulator/revoke", {"refreshToken": account["refreshToken"]})
    stack.emulator_json(
        "/_emulator/credentials", {"id": clean.accounts[bad], "scenario": "bad-token"}
    )
    async with httpx.AsyncClient(timeout=30) as http:
        first = await ask(http, stack, "after the revocation", openai=False)
        assert_complete(first, "after the revocation", openai=False)
        await bystanders(http, stack, "revoked")

    faulty = by_id(pool(stack))[bad]
    assert faulty["state"] == "disabled"
    assert faulty["disabledReason"] == "invalid_refresh_token"
    # Give it a working refresh token again for the tests after this one.
    stack.emulator_json(
        "/_emulator/credentials",
        {"id": clean.accounts[bad], "refreshToken": account["refreshToken"]},
    )


# ------------------------------------------------------------------ stream faults: error event


@dataclass(frozen=True)
class StreamFault:
    spec: str
    anthropic_type: str
    openai_type: str
    message: str


STREAM_FAULTS = [
    StreamFault(
        "exception type=ThrottlingException", "rate_limit_error", "rate_limit_error", "Throttling"
    ),
    StreamFault(
        "exception type=InternalServerException",
        "overloaded_error",
        "server_error",
        "InternalServerException",
    ),
    StreamFault("tv6-error", "overloaded_error", "server_error", "InternalServerException"),
    StreamFault("drop after=2", "api_error", "api_error", "connection broke mid-answer"),
    StreamFault("corrupt at=1 kind=prelude", "api_error", "api_error", "prelude CRC mismatch"),
    StreamFault("corrupt at=1 kind=message", "api_error", "api_error", "message CRC mismatch"),
    StreamFault("stall seconds=4 after=1", "api_error", "timeout", "no bytes from upstream"),
]


@pytest.mark.parametrize("fault", STREAM_FAULTS, ids=lambda fault: fault.spec)
async def test_stream_fault_ends_with_an_error_event_and_others_are_served(
    clean: Pair, fault: StreamFault
) -> None:
    stack = clean.stack
    marker = f"faulty [[emu:{fault.spec}]]"
    async with httpx.AsyncClient(timeout=30) as http:
        anthropic, openai, _ = await asyncio.gather(
            ask(http, stack, marker, openai=False),
            ask(http, stack, marker, openai=True),
            bystanders(http, stack, fault.spec),
        )

    # Text had reached the client before the fault: a 200 stream ending in an error event.
    assert anthropic.status == 200
    events = anthropic.events()
    assert events[0][0] == "message_start"
    assert any(name == "content_block_delta" for name, _ in events)
    name, data = events[-1]
    assert name == "error"
    error = orjson.loads(data)
    assert error["type"] == "error"
    assert error["error"]["type"] == fault.anthropic_type
    assert fault.message in error["error"]["message"]
    assert not any(name == "message_stop" for name, _ in events)

    assert openai.status == 200
    events = openai.events()
    assert events[-1][1] == "[DONE]"
    error = orjson.loads(events[-2][1])["error"]
    assert error["type"] == fault.openai_type
    assert fault.message in error["message"]
    no_leak(anthropic.text + openai.text)

    # A fault after the first byte is not held against an account: nothing is disabled.
    listing = pool(stack)
    assert listing["available"] == 2
    assert all(item["state"] == "ready" for item in listing["credentials"])


# ------------------------------------------------------------------ fleet faults: mapped errors


@dataclass(frozen=True)
class FleetFault:
    spec: str
    status: int  # Anthropic dialect
    anthropic_type: str
    openai_status: int
    openai_type: str
    cooling: str | None = None  # every credential's cooldown reason afterwards


FLEET_FAULTS = [
    FleetFault("throttle", 429, "rate_limit_error", 429, "rate_limit_error", "throttled"),
    FleetFault("quota", 429, "rate_limit_error", 429, "insufficient_quota", "quota_exceeded"),
    FleetFault("suspended", 403, "permission_error", 429, "rate_limit_error", "suspended"),
    FleetFault("bad-token", 401, "authentication_error", 401, "invalid_request_error"),
    FleetFault("http status=403", 403, "permission_error", 403, "permission_error"),
    FleetFault("server-error", 529, "overloaded_error", 529, "server_error"),
    FleetFault("unavailable", 529, "overloaded_error", 529, "server_error"),
    FleetFault("malformed", 400, "invalid_request_error", 400, "invalid_request_error"),
]


@pytest.mark.parametrize("fault", FLEET_FAULTS, ids=lambda fault: fault.spec)
async def test_fault_on_every_credential_maps_to_the_dialect_error(
    clean: Pair, fault: FleetFault
) -> None:
    stack = clean.stack
    async with httpx.AsyncClient(timeout=30) as http:
        anthropic = await ask(http, stack, f"x [[emu:{fault.spec}]]", openai=False)
        if fault.cooling is None:
            # Nothing rests, so the other dialect meets the same upstream answer.
            openai = await ask(http, stack, f"x [[emu:{fault.spec}]]", openai=True)
            await bystanders(http, stack, fault.spec)
        else:
            # Every credential now rests: the other dialect gets the pool's answer at once.
            openai = await ask(http, stack, "anything", openai=True)

    assert anthropic.status == fault.status, anthropic.text
    body = orjson.loads(anthropic.text)
    assert body["type"] == "error"
    assert body["error"]["type"] == fault.anthropic_type
    assert openai.status == fault.openai_status, openai.text
    error = orjson.loads(openai.text)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if fault.cooling is None:
        assert error["type"] == fault.openai_type
    no_leak(anthropic.text + openai.text)

    listing = pool(stack)
    if fault.cooling is not None:
        # The client is told to come back when a credential is usable, not in 1 s.
        for answer in (anthropic, openai):
            if answer.status == 429:
                assert int(answer.headers["retry-after"]) > 1
        assert listing["available"] == 0
        assert {item["cooldownReason"] for item in listing["credentials"]} == {fault.cooling}
    else:
        assert listing["available"] == 2
        assert not any(item["disabled"] for item in listing["credentials"])

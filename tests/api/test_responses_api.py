"""``POST /v1/responses`` and ``GET /v1/responses/{id}`` on a real Gateway over the emulator:
answers plain and streamed, kept for ``previous_response_id`` and for reading back."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from kirogate.emulator.app import RunningEmulator
from tests.emulated_gateway import CLIENT_KEY

KEY = {"authorization": f"Bearer {CLIENT_KEY}"}
Live = tuple[httpx2.AsyncClient, RunningEmulator]


def body(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "input": text, **fields}


def output_text(response: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]


async def test_a_response_is_completed_and_can_be_read_back(live: Live) -> None:
    http, _ = live
    reply = await http.post("/v1/responses", json=body("hello"), headers=KEY)
    assert reply.status_code == 200, reply.text
    response = reply.json()
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["id"].startswith("resp_") and output_text(response)
    again = await http.get(f"/v1/responses/{response['id']}", headers=KEY)
    assert again.status_code == 200 and again.json() == response


async def test_an_unknown_response_id_is_a_404_naming_it(live: Live) -> None:
    http, _ = live
    reply = await http.get("/v1/responses/resp_nothing", headers=KEY)
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and "resp_nothing" in error["message"]


async def test_previous_response_id_sends_the_earlier_turns_upstream(live: Live) -> None:
    http, emulator = live
    first = (await http.post("/v1/responses", json=body("my name is Ada"), headers=KEY)).json()
    reply = await http.post(
        "/v1/responses", json=body("what is my name?", previous_response_id=first["id"]), headers=KEY
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    sent = emulator.state.requests.entries()[-1]  # the Kiro request the upstream received
    assert "my name is Ada" in orjson.dumps(sent.body).decode()


async def test_a_streamed_response_ends_completed_and_is_kept(live: Live) -> None:
    http, _ = live
    reply = await http.post("/v1/responses", json=body("hello", stream=True), headers=KEY)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = sse_events(reply.content)
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.completed"
    final = events[-1]["response"]
    kept = await http.get(f"/v1/responses/{final['id']}", headers=KEY)
    assert kept.status_code == 200 and kept.json()["status"] == "completed"


async def test_both_routes_need_a_client_key(live: Live) -> None:
    http, _ = live
    posted = await http.post("/v1/responses", json=body("hello"))
    read = await http.get("/v1/responses/resp_1")
    assert posted.status_code == read.status_code == 401
    assert "API key" in posted.json()["error"]["message"]


async def test_a_bad_request_is_a_400_in_openais_shape(live: Live) -> None:
    http, _ = live
    reply = await http.post("/v1/responses", json={"model": "claude-sonnet-4-6"}, headers=KEY)
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"

"""Shared helpers for the emulator tests: request bodies, logins, stream decoding."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp

from kirogate.emulator.config import SOCIAL_PROFILE_ARN
from kirogate.protocol.events import KiroEvent, parse_event
from kirogate.protocol.eventstream import FrameDecoder, Message

MODEL = "claude-sonnet-4.5"


def tool_spec(name: str, description: str = "A tool") -> dict[str, Any]:
    return {
        "toolSpecification": {
            "name": name,
            "description": description,
            "inputSchema": {"json": {"type": "object", "properties": {}}},
        }
    }


def request_body(
    content: str = "hello",
    *,
    model: str = MODEL,
    tools: list[str] | None = None,
    tool_results: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
    profile_arn: str | None = SOCIAL_PROFILE_ARN,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"content": content, "modelId": model, "origin": "AI_EDITOR"}
    context: dict[str, Any] = {}
    if tools:
        context["tools"] = [tool_spec(name) for name in tools]
    if tool_results:
        context["toolResults"] = tool_results
    if context:
        message["userInputMessageContext"] = context
    state: dict[str, Any] = {
        "chatTriggerType": "MANUAL",
        "conversationId": "conv-1",
        "currentMessage": {"userInputMessage": message},
    }
    if history:
        state["history"] = history
    body: dict[str, Any] = {"conversationState": state}
    if profile_arn is not None:
        body["profileArn"] = profile_arn
    body.update(extra or {})
    return body


def bearer(token: str, *, api_key: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if api_key:
        headers["tokentype"] = "API_KEY"
    return headers


async def social_refresh(
    session: aiohttp.ClientSession, base: str, refresh_token: str = "aorTESTrefresh"
) -> dict[str, Any]:
    async with session.post(f"{base}/refreshToken", json={"refreshToken": refresh_token}) as resp:
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data


_fresh = itertools.count(1)


async def social_token(session: aiohttp.ClientSession, base: str) -> str:
    """An access token for a brand-new social account (a never-seen refresh token)."""
    token = f"aorTESTrefresh{next(_fresh)}"
    return str((await social_refresh(session, base, token))["accessToken"])


def decode_messages(data: bytes) -> list[Message]:
    decoder = FrameDecoder()
    messages = decoder.feed(data)
    decoder.finish()
    return messages


def decode_events(data: bytes) -> list[KiroEvent]:
    return [parse_event(message) for message in decode_messages(data)]


async def generate(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    body: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[int, bytes, aiohttp.ClientResponse]:
    """POST /generateAssistantResponse; returns status, raw body and the response."""
    async with session.post(
        f"{base}/generateAssistantResponse",
        json=body if body is not None else request_body(**kwargs),
        headers=bearer(token),
    ) as resp:
        return resp.status, await resp.read(), resp


async def events_for(
    session: aiohttp.ClientSession, base: str, token: str, content: str, **kwargs: Any
) -> list[KiroEvent]:
    status, data, _ = await generate(session, base, token, content=content, **kwargs)
    assert status == 200, data
    return decode_events(data)

"""Drive LiteLLM against kirogate in a child process; print one JSON line with what came back.

Usage: python litellm_client.py <anthropic|openai> <plain|stream|tools> <base_url>
The key comes from KIROGATE_CLIENT_KEY. Set LITELLM_LOCAL_MODEL_COST_MAP=True in the
environment: LiteLLM otherwise fetches its model cost map from the internet on import.
"""

from __future__ import annotations

import json
import os
import sys

import litellm

litellm.telemetry = False
litellm.suppress_debug_info = True

route, mode, base_url = sys.argv[1:4]
KEY = os.environ["KIROGATE_CLIENT_KEY"]
MODEL = "claude-sonnet-4-6"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look up a city's weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def complete(messages: list[dict[str, object]], **extra: object) -> object:
    if route == "anthropic":
        target = {"model": f"anthropic/{MODEL}", "api_base": base_url}
    else:
        target = {"model": f"openai/{MODEL}", "api_base": f"{base_url}/v1"}
    return litellm.completion(
        messages=messages, api_key=KEY, max_tokens=256, num_retries=0, **target, **extra
    )


def main() -> dict[str, object]:
    if mode == "plain":
        reply = complete([{"role": "user", "content": "Say hi litellm-plain"}])
        return {"text": reply.choices[0].message.content, "usage": reply.usage.total_tokens}
    if mode == "stream":
        chunks = list(complete([{"role": "user", "content": "Say hi litellm-stream"}], stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return {"text": text, "chunks": len(chunks)}
    prompt = 'Weather? [[emu:tool name=lookup input=\'{"city":"Paris"}\']]'
    messages: list[dict[str, object]] = [{"role": "user", "content": prompt}]
    first = complete(messages, tools=TOOLS)
    message = first.choices[0].message
    calls = [
        {"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)}
        for c in message.tool_calls or []
    ]
    messages.append(message.model_dump(exclude_none=True))
    for call in calls:
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "sunny in Paris"})
    second = complete(messages, tools=TOOLS)
    return {
        "calls": [{"name": c["name"], "arguments": c["arguments"]} for c in calls],
        "finish": first.choices[0].finish_reason,
        "text": second.choices[0].message.content,
    }


try:
    print(json.dumps(main()))
except Exception as exc:  # report any client failure as data for the test's message
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(1)

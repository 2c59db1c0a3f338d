"""``kirogate test``: a smoke request through a running gateway, one ✓/✗ line per check."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kirogate.cli.command_kit import (
    EXIT_FAILURE,
    EXIT_OK,
    FAIL_MARK,
    OK_MARK,
    add_address_options,
    add_config_options,
    add_json_option,
    console,
    print_json,
    run,
    say,
)

DEFAULT_MODEL = "claude-sonnet-4-5"
PROMPT = "Reply with one short sentence: is the kirogate smoke test working?"
REPLY_SHOWN = 200


@dataclass(slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    ms: float = 0.0
    reply: str | None = None


def add_parser(commands: Any) -> None:
    test = commands.add_parser(
        "test",
        help="smoke-test a running gateway (health, models, one Anthropic and one OpenAI request)",
    )
    add_config_options(test)
    add_address_options(test)
    test.add_argument("-k", "--api-key", action="append", dest="api_keys", metavar="KEY",
                      help="client key to use (default: the configured or generated one)")  # fmt: skip
    test.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model to ask (default {DEFAULT_MODEL})"
    )
    test.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per request (default 60)"
    )
    add_json_option(test)
    test.set_defaults(handler=cmd_test)


def _key_in_argv(argv: list[str]) -> str | None:
    for index, token in enumerate(argv):
        if token in ("-k", "--api-key") and index + 1 < len(argv):
            return argv[index + 1]
        if token.startswith("--api-key="):
            return token.partition("=")[2]
    return None


def client_key(args: argparse.Namespace, settings: Any, running: Any = None) -> str | None:
    """The key to send: ``-k``, the configured ones, the daemon's ``-k``, else the generated one."""
    given = getattr(args, "api_keys", None)
    if given:
        return str(given[0])
    if settings.server.api_keys:
        return str(settings.server.api_keys[0])
    state = getattr(running, "state", None)
    from_daemon = _key_in_argv(state.argv) if state is not None else None
    if from_daemon:
        return from_daemon
    key_file: Path = settings.data_path / "api_key"
    try:
        return key_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _error_text(status: int, body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"HTTP {status}: {error['message']}"
        if isinstance(error, str):
            return f"HTTP {status}: {error}"
    return f"HTTP {status}"


async def _call(
    session: Any, method: str, url: str, headers: dict[str, str], body: Any | None
) -> tuple[int, Any, float]:
    import aiohttp

    started = time.perf_counter()
    try:
        async with session.request(method, url, headers=headers, json=body) as response:
            raw = await response.read()
            status = int(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ConnectionError(str(exc) or type(exc).__name__) from exc
    elapsed = (time.perf_counter() - started) * 1000
    try:
        return status, json.loads(raw), elapsed
    except ValueError:
        return status, None, elapsed


def _anthropic_text(body: Any) -> str:
    blocks = body.get("content") if isinstance(body, dict) else None
    return "".join(b.get("text", "") for b in blocks or [] if isinstance(b, dict))


def _openai_text(body: Any) -> str:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return ""
    return str((choices[0].get("message") or {}).get("content") or "")


async def smoke(url: str, key: str | None, model: str, per_request: float) -> list[Check]:
    import aiohttp

    auth = {"Authorization": f"Bearer {key}"} if key else {}
    anthropic = {"x-api-key": key or "", "anthropic-version": "2023-06-01"}
    messages = [{"role": "user", "content": PROMPT}]
    checks: list[Check] = []
    client_timeout = aiohttp.ClientTimeout(total=per_request)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        try:
            status, body, ms = await _call(session, "GET", f"{url}/health", {}, None)
        except ConnectionError as exc:
            checks.append(Check("health", False, f"cannot reach {url}: {exc}"))
            return checks
        version = body.get("version") if isinstance(body, dict) else None
        ok = status == 200
        checks.append(Check("health", ok, f"ok, version {version}" if ok else f"HTTP {status}", ms))
        calls = [
            ("models", "GET", "/v1/models", auth, None),
            ("messages", "POST", "/v1/messages", anthropic,
             {"model": model, "max_tokens": 128, "messages": messages}),
            ("chat completions", "POST", "/v1/chat/completions", auth,
             {"model": model, "max_tokens": 128, "messages": messages}),
        ]  # fmt: skip
        for name, method, path, headers, payload in calls:
            try:
                status, body, ms = await _call(session, method, url + path, headers, payload)
            except ConnectionError as exc:
                checks.append(Check(name, False, f"request failed: {exc}"))
                continue
            checks.append(_judge(name, status, body, ms))
    return checks


def _judge(name: str, status: int, body: Any, ms: float) -> Check:
    if status != 200:
        hint = " (wrong or missing client key? pass -k KEY)" if status == 401 else ""
        return Check(name, False, _error_text(status, body) + hint, ms)
    if name == "models":
        data = body.get("data") if isinstance(body, dict) else None
        count = len(data) if isinstance(data, list) else 0
        return Check(name, count > 0, f"{count} models" if count else "no models listed", ms)
    text = _anthropic_text(body) if name == "messages" else _openai_text(body)
    if not text.strip():
        return Check(name, False, "HTTP 200 but the answer has no text", ms)
    return Check(name, True, "answered", ms, reply=text)


def cmd_test(args: argparse.Namespace) -> int:
    from kirogate.cli.control import locate

    settings, url, running = locate(args)
    key = client_key(args, settings, running)
    model = getattr(args, "model", DEFAULT_MODEL)
    checks = run(smoke(url, key, model, getattr(args, "timeout", 60.0)))
    failed = [check for check in checks if not check.ok]
    if getattr(args, "json", False):
        print_json({"url": url, "ok": not failed, "checks": [asdict(check) for check in checks]})
    else:
        console().print(f"Testing the gateway at {url} with model {model}", markup=False)
        for check in checks:
            timing = f" ({check.ms:.0f} ms)" if check.ms else ""
            say(OK_MARK if check.ok else FAIL_MARK, f"{check.name}: {check.detail}{timing}")
            if check.reply is not None:
                shown = check.reply.strip().replace("\n", " ")
                more = "…" if len(shown) > REPLY_SHOWN else ""
                say("", f"    reply: {shown[:REPLY_SHOWN]}{more}")
        if len(checks) == 1 and failed:
            say("", "  is it running? start it with: kirogate serve --daemon")
    return EXIT_FAILURE if failed else EXIT_OK

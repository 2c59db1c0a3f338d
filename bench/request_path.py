"""Exact instruction counts of the request path's steps, one step at a time.

    python bench/request_path.py --count [--cases upstream,anthropic,...] [--n 2000]
                                 [--src DIR ...]
    python bench/request_path.py --work CASE --repeat N     (what --count runs)

Each case runs its step ``N`` times in one process under ``valgrind --tool=callgrind``; the
same script with ``N = 0`` is subtracted and the difference divided by ``N``: the
instructions of one call, without start-up, imports or set-up. ``--src`` (repeatable) puts
a source tree first on ``PYTHONPATH``, so a change is compared with its base tree
(``git worktree add ../base main``) in one command. The cases:

- ``upstream``: ``KiroClient.open_stream`` (headers, aiohttp's request, the response head)
  for the bench's serialised Kiro body, then the one-frame body read to its end and the
  connection released, against a keep-alive HTTP/1.1 server in the same process that
  answers every request with the same bytes (its share is the same in both trees);
- ``anthropic`` / ``openai``: the body of the bench's request parsed and converted to the
  IR (``json_object`` + ``messages_to_ir`` / ``chat_to_ir``);
- ``kiro``: ``Gateway.build``'s call, ``build_kiro_request`` for the Anthropic IR.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = ("upstream", "anthropic", "openai", "kiro")
MODEL = "claude-sonnet-4-5-20250929"
PROMPT = "Benchmark request: answer with the configured text."
_REFS = re.compile(r"Collected : (\d+)")


def _anthropic_raw() -> bytes:
    import orjson

    messages = [{"role": "user", "content": PROMPT}]
    return orjson.dumps({"model": MODEL, "max_tokens": 8192, "stream": True, "messages": messages})


def _openai_raw() -> bytes:
    import orjson

    messages = [{"role": "user", "content": PROMPT}]
    return orjson.dumps({"model": MODEL, "stream": True, "messages": messages})


def _converting(case: str) -> Any:
    from kirogate.api.request_gate import json_object
    from kirogate.convert.anthropic_in import messages_to_ir
    from kirogate.convert.openai_in import chat_to_ir

    raw = _anthropic_raw() if case == "anthropic" else _openai_raw()
    convert = messages_to_ir if case == "anthropic" else chat_to_ir

    def step() -> None:
        convert(json_object(raw))

    return step


def _building() -> Any:
    from kirogate.api.request_gate import json_object
    from kirogate.convert.anthropic_in import messages_to_ir
    from kirogate.convert.kiro import KiroBuildOptions, build_kiro_request
    from kirogate.convert.models import resolve_model
    from kirogate.upstream.identity import random_uuid

    conv = messages_to_ir(json_object(_anthropic_raw()))
    model = resolve_model(conv.model)
    options = KiroBuildOptions()

    def step() -> None:
        build_kiro_request(
            conv, model, conversation_id=random_uuid(), new_id=random_uuid, options=options
        )

    return step


class _Answerer(asyncio.Protocol):
    """Answers each request (head + Content-Length body) with the same response bytes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(self.answer)


async def _upstream(repeat: int) -> None:
    from kirogate.api.request_gate import json_object
    from kirogate.convert.anthropic_in import messages_to_ir
    from kirogate.convert.kiro import KiroBuildOptions, build_kiro_request
    from kirogate.convert.models import resolve_model
    from kirogate.protocol.events import event_frame
    from kirogate.settings import UpstreamSettings
    from kirogate.upstream.client import KiroClient
    from kirogate.upstream.credentials import AuthMethod, Credential
    from kirogate.upstream.http import HttpPool

    frame = event_frame("assistantResponseEvent", {"content": "Hello."})
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
        b"x-amzn-requestid: 0f1e2d3c-aaaa-bbbb-cccc-123456789abc\r\n"
        + f"content-length: {len(frame)}\r\n\r\n".encode()
        + frame
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Answerer(answer), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = UpstreamSettings(url=f"http://127.0.0.1:{port}")
    conv = messages_to_ir(json_object(_anthropic_raw()))
    build = build_kiro_request(
        conv,
        resolve_model(conv.model),
        conversation_id="c" * 36,
        new_id=lambda: "d" * 36,
        options=KiroBuildOptions(),
    )
    request = build.body if build.body is not None else build.request
    credential = Credential(
        AuthMethod.SOCIAL,
        refresh_token="r" * 40,
        access_token="a" * 60,
        profile_arn="arn:aws:codewhisperer:us-east-1:123456789012:profile/ABCDEFGHIJ",
        id=1,
    )
    async with HttpPool(settings, environ={}) as pool:
        client = KiroClient(settings, pool)
        for _ in range(repeat):
            stream = await client.open_stream(credential, request, machine_id="f" * 64)
            while await stream.next_messages() is not None:
                pass
    server.close()


def work(case: str, repeat: int) -> None:
    if case == "upstream":
        import uvloop  # what the gateway's server runs on

        uvloop.run(_upstream(repeat))
        return
    step = _building() if case == "kiro" else _converting(case)
    step()  # warm: first-call caches are not the per-request cost
    for _ in range(repeat):
        step()


def _collected(case: str, repeat: int, src: str | None) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/cg.out",
                sys.executable,
                str(Path(__file__).resolve()),
                "--work",
                case,
                "--repeat",
                str(repeat),
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    found = _REFS.search(out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", choices=CASES)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--count", action="store_true")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--src", action="append", default=[])
    args = parser.parse_args()
    if args.work:
        work(args.work, args.repeat)
        return
    if not args.count:
        parser.error("--work CASE or --count")
    trees = args.src or [None]
    for case in args.cases.split(","):
        cells = []
        for src in trees:
            per_call = (_collected(case, args.n, src) - _collected(case, 0, src)) / args.n
            cells.append(f"{src or 'PYTHONPATH'}: {per_call:,.0f}")
        print(f"{case}: " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()

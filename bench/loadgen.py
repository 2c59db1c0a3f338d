"""Load generator: streaming requests at a fixed concurrency, with a request count and a time bound.

Run by ``bench/run.py`` in its own process. It reads a JSON spec (a file path argument),
prints ``ready``, waits for a line on stdin (so the caller can sample the gateway's CPU
counters right before the load starts), runs, and prints one JSON result line::

    {"target": "anthropic", "concurrency": 16, "requested": 400, "completed": 400, "ok": 400,
     "errors": 0, "timeouts": 0, "invalid": 0, "mismatched": 0, "wall_s": 3.2, "rps": 125.0,
     "ttft_ms": {"p50": ..., "p99": ...}, "total_ms": {...}, "samples": [...]}

Spec fields: ``target`` (``anthropic``, ``openai`` or ``direct``), ``urls`` (base URLs,
used round-robin: several gateway processes), ``concurrency``, ``requests``, ``time_limit``
(seconds), ``expected_text``, ``api_key`` and, for ``direct``, ``direct_headers`` and
``direct_body`` (a recorded Kiro request, sent to ``/generateAssistantResponse``), and
``signal_open``: print ``open N`` the first time all ``concurrency`` streams are open at once
(their first text arrived, their end not yet), so the caller can read the tested process's
memory with every stream open. The result's ``max_open`` is the most streams open at once.
An ``https://`` URL is trusted through ``SSL_CERT_FILE``, as the gateway trusts it.

Every response is validated (see :mod:`bench.sse_check`) and its reassembled text compared
with what the emulator sent: ``invalid`` counts grammar violations, ``mismatched`` lost,
added or reordered text.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sse_check import CHECKERS, InvalidStream
from kirogate.tasks import spawn

MODEL = "claude-sonnet-4-5-20250929"
PROMPT = "Benchmark request: answer with the configured text."
MAX_SAMPLES = 5


def request_for(spec: dict[str, Any], base: str) -> tuple[str, dict[str, str], bytes]:
    """URL, headers and body of one request to ``base`` for the spec's target."""
    target = spec["target"]
    if target == "direct":
        headers = {
            k: v
            for k, v in spec["direct_headers"].items()
            if k.lower() not in ("host", "content-length", "connection")
        }
        return f"{base}/generateAssistantResponse", headers, orjson.dumps(spec["direct_body"])
    messages = [{"role": "user", "content": PROMPT}]
    if target == "anthropic":
        body = {"model": MODEL, "max_tokens": 8192, "stream": True, "messages": messages}
        headers = {
            "x-api-key": spec["api_key"],
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        }
        return f"{base}/v1/messages", headers, orjson.dumps(body)
    if target == "openai":
        body = {"model": MODEL, "stream": True, "messages": messages}
        headers = {
            "authorization": f"Bearer {spec['api_key']}",
            "content-type": "application/json",
        }
        return f"{base}/v1/chat/completions", headers, orjson.dumps(body)
    raise ValueError(f"unknown target {target!r}")


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)

    return {
        "p50": rank(0.50),
        "p99": rank(0.99),
        "mean": round(sum(ordered) / len(ordered), 3),
        "max": round(ordered[-1], 3),
    }


@dataclass
class Tally:
    started: int = 0
    ok: int = 0
    errors: int = 0
    invalid: int = 0
    mismatched: int = 0
    ttft_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    open: int = 0
    max_open: int = 0
    open_target: int = 0  # print "open N" when ``open`` first reaches it (0: never)

    def opened(self) -> None:
        self.open += 1
        if self.open > self.max_open:
            self.max_open = self.open
            if self.max_open == self.open_target:
                print(f"open {self.open}", flush=True)

    def note(self, message: str) -> None:
        if len(self.samples) < MAX_SAMPLES and message not in self.samples:
            self.samples.append(message)


async def one_request(
    session: aiohttp.ClientSession,
    spec: dict[str, Any],
    call: tuple[str, dict[str, str], bytes],
    tally: Tally,
) -> None:
    url, headers, body = call
    checker = CHECKERS[spec["target"]]()
    started = time.perf_counter()
    first: float | None = None
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                text = (await response.read())[:200].decode(errors="replace")
                tally.errors += 1
                tally.note(f"HTTP {response.status}: {text}")
                return
            async for chunk in response.content.iter_any():
                if checker.feed(chunk) and first is None:
                    first = time.perf_counter()
                    tally.opened()
            checker.finish()
    except InvalidStream as exc:
        tally.invalid += 1
        tally.note(f"invalid stream: {exc}")
        return
    except (aiohttp.ClientError, OSError) as exc:
        tally.errors += 1
        tally.note(f"{type(exc).__name__}: {exc}")
        return
    finally:
        if first is not None:
            tally.open -= 1
    done = time.perf_counter()
    if checker.text != spec["expected_text"]:
        tally.mismatched += 1
        got, want = checker.text, spec["expected_text"]
        at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
        tally.note(f"text differs: {len(got)} chars vs {len(want)} expected, first diff at {at}")
        return
    tally.ok += 1
    tally.total_ms.append((done - started) * 1000)
    if first is not None:
        tally.ttft_ms.append((first - started) * 1000)


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    calls = [request_for(spec, base) for base in spec["urls"]]
    concurrency = int(spec["concurrency"])
    total = int(spec["requests"])
    tally = Tally(open_target=concurrency if spec.get("signal_open") else 0)
    counter = itertools.count()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(k: int) -> None:
            call = calls[k % len(calls)]  # one gateway process per worker, round-robin
            while next(counter) < total:
                tally.started += 1
                await one_request(session, spec, call, tally)

        started = time.perf_counter()
        cpu_started = time.process_time()
        tasks = [
            spawn(worker(k), name=f"loadgen worker {k}", awaited=True) for k in range(concurrency)
        ]
        done, pending = await asyncio.wait(tasks, timeout=float(spec["time_limit"]))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        for task in done:
            if task.exception() is not None:
                tally.errors += 1
                tally.note(f"worker crashed: {task.exception()!r}")
    finished = tally.ok + tally.errors + tally.invalid + tally.mismatched
    timeouts = tally.started - finished
    return {
        "target": spec["target"],
        "concurrency": concurrency,
        "requested": total,
        "completed": finished,
        "ok": tally.ok,
        "errors": tally.errors + timeouts,
        "timeouts": timeouts,
        "invalid": tally.invalid,
        "mismatched": tally.mismatched,
        "wall_s": round(wall, 3),
        "rps": round(tally.ok / wall, 2) if wall > 0 else 0.0,
        "ttft_ms": percentiles(tally.ttft_ms),
        "total_ms": percentiles(tally.total_ms),
        "loadgen_cpu_ms_per_req": round(cpu * 1000 / max(finished, 1), 3),
        "max_open": tally.max_open,
        "samples": tally.samples,
    }


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: loadgen.py SPEC.json  (see the module docstring)")
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print("ready", flush=True)
    if spec.get("wait_go", True):
        sys.stdin.readline()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

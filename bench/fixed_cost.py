"""Exact instructions per call of the per-request bookkeeping steps (issue #16, round 3).

    python bench/fixed_cost.py [--src PATH] [--calls N] [CASE ...]

One process under ``valgrind --tool=callgrind`` (counting off) sets up and warms every
case; then each case runs its step ``N`` times (default 2000) with counting on, and once
with no call: the difference divided by ``N`` is the step's own count, without the
interpreter's start, the imports and the set-up.
``--src`` names the ``src`` directory to import kirogate from (another worktree's, to
compare two trees); the cases use only interfaces both trees have. Cases:

- ``access``: ``AccessControl.check`` as ``bench/stack.py``'s operator run meets it (a
  stored key with every limit, a blocked network, the per-address rate limit, in-process
  counters), with the response's end (the key's slot released) run too;
- ``model``: ``AccessControl.check_model`` for that key (patterns ``claude-*``);
- ``pool``: ``SharedPoolState.update`` twice (selected, then success), as a request does;
- ``lease``: ``CredentialPool.acquire``, ``report_success`` and the lease's release, one
  credential in a shared (written-behind) state, as the bench's gateway has;
- ``usage``: ``KeyMeter.count_answer`` of an answer's tokens (in-process counters);
- ``log``: ``service.answer._log_answer``, the request-log row of an answer (queued);
- ``grace``: ``api.waiting.open_stream`` up to its body, the upstream answering at once.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

CASES = ("access", "model", "pool", "lease", "usage", "log", "grace")
WARM_UP = 50
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


async def _access_case() -> Callable[[], Awaitable[None]]:
    from starlette.requests import Request

    from kirogate.api import access as access_module
    from kirogate.api.access import AccessControl
    from kirogate.api.middleware import ON_END
    from kirogate.cluster.ratelimit import MemoryCounters, MemoryRateLimiter
    from kirogate.events import EventBus
    from kirogate.service.changes import ChangeFeed
    from kirogate.service.keys import KeyRecord, parse_limits
    from kirogate.settings import Settings
    from kirogate.store.addresses import BlockRecord

    access_module.CACHE_SECONDS = 1e9  # no background recheck while valgrind slows the run
    limits = parse_limits(
        {
            "rpm": 1_000_000,
            "requests_per_day": 10_000_000,
            "tokens_per_day": 10_000_000_000,
            "tokens_per_month": 100_000_000_000,
            "models": ["claude-*"],
            "max_concurrency": 10_000,
        }
    )
    record = KeyRecord(7, "bench-operator", "kg-", datetime.now(UTC), limits=limits)

    @dataclass
    class Store:
        counted: int = 0

        async def find_client_key(self, plaintext: str) -> Any:
            return record

        async def key_usage(self, now: Any = None, *, key_id: int | None = None) -> Any:
            return {}

        def count_key_usage(self, key_id: int, **counts: int) -> None:
            self.counted += 1

        async def blocks(self) -> list[Any]:
            return [BlockRecord("203.0.113.0/24", None, datetime.now(UTC), None)]

    @dataclass
    class Gateway:
        settings: Settings
        store: Store = field(default_factory=Store)
        cluster: Any = field(
            default_factory=lambda: SimpleNamespace(
                rate_limiter=MemoryRateLimiter(), counters=MemoryCounters()
            )
        )
        database: Any = None
        changes: ChangeFeed = field(default_factory=lambda: ChangeFeed(lambda: None))
        events: EventBus = field(default_factory=EventBus)

    base = Settings()
    settings = replace(base, server=replace(base.server, ip_rate_limit=1_000_000))
    access = AccessControl(Gateway(settings))  # type: ignore[arg-type]
    headers = [(b"x-api-key", b"kg-bench-operator-key")]

    async def step() -> None:
        request = Request({"type": "http", "headers": headers, "client": ("127.0.0.1", 5555)})
        await access.check(request)
        for callback in request.scope["state"].get(ON_END, ()):
            callback()

    return step


async def _model_case() -> Callable[[], Awaitable[None]]:
    from starlette.requests import Request

    from kirogate.api.access import AccessControl
    from kirogate.convert.models import ModelTable
    from kirogate.service.keys import KeyRecord, parse_limits

    record = KeyRecord(
        7, "bench", "kg-", datetime.now(UTC), limits=parse_limits({"models": ["claude-*"]})
    )
    gateway = SimpleNamespace(changes=SimpleNamespace(on=lambda topic, callback: None))
    access = AccessControl(gateway)  # type: ignore[arg-type]
    request = Request({"type": "http", "headers": [], "state": {"key_record": record}})
    name = "claude-sonnet-4-5"
    info = ModelTable().resolve(name)

    async def step() -> None:
        access.check_model(request, name, info)

    return step


async def _log_case() -> Callable[[], Awaitable[None]]:
    from kirogate.convert.ir import Finish
    from kirogate.convert.models import ModelTable
    from kirogate.events import EventBus
    from kirogate.service.answer import _log_answer

    class Store:
        def log_request(self, entry: Any) -> None:
            return None

    answer = SimpleNamespace(
        store=Store(),
        events=EventBus(),
        endpoint="/v1/messages",
        finish=Finish(stop_reason="end_turn", input_tokens=1200, output_tokens=80),
        error=None,
        model=ModelTable().resolve("claude-sonnet-4-5"),
        credential=SimpleNamespace(id=1),
        input_estimate=1200,
        started=0.0,
        first_event_at=0.05,
        asked="claude-sonnet-4-5",
        streamed=True,
    )

    async def step() -> None:
        _log_answer(answer)  # type: ignore[arg-type]

    return step


class _NoStates:
    """The pool state's store, holding nothing and writing nowhere."""

    async def load_states(self) -> list[Any]:
        return []

    async def apply_state(self, *args: Any) -> None:
        return None


async def _pool_case() -> Callable[[], Awaitable[None]]:
    from kirogate.cluster.state import SharedPoolState
    from kirogate.pool import state as transitions
    from kirogate.pool.state import CredentialState

    state = SharedPoolState(_NoStates())
    state.ensure(CredentialState(id=1))
    await state.sync()

    async def step() -> None:
        now = datetime.now(UTC)
        state.update(1, lambda s: transitions.with_selected(s, now))
        state.update(1, lambda s: transitions.with_success(s, now))
        state._pending.clear()  # as the background flush does, so each call starts the same

    return step


async def _lease_case() -> Callable[[], Awaitable[None]]:
    from kirogate.cluster.state import SharedPoolState
    from kirogate.pool.credential_pool import CredentialPool
    from kirogate.upstream.credentials import Credential

    state = SharedPoolState(_NoStates())
    credential = Credential(id=1, refresh_token="r" * 40, auth_method="social")
    pool = CredentialPool([credential], state=state)
    await state.sync()

    async def step() -> None:
        lease = await pool.acquire(model="claude-sonnet-4-5")
        pool.report_success(lease)
        lease.release_nowait()
        state._pending.clear()  # as the background flush does, so each call starts the same

    return step


async def _usage_case() -> Callable[[], Awaitable[None]]:
    from kirogate.service.keys import KeyMeter

    class Store:
        def count_key_usage(self, key_id: int, **counts: int) -> None:
            return None

    store = Store()
    meter = KeyMeter(lambda: None, lambda: store)  # type: ignore[arg-type,return-value]

    async def step() -> None:
        meter.count_answer(7, 1200, 80)

    return step


async def _grace_case() -> Callable[[], Awaitable[None]]:
    from kirogate.api.waiting import open_stream
    from kirogate.settings import Settings

    answer = SimpleNamespace(input_estimate=10)

    class Gateway:
        settings = Settings()

        async def open_answer(self, conv: Any, model: Any, *, endpoint: str) -> Any:
            return answer

    gateway = Gateway()

    async def step() -> None:
        body = await open_stream(
            gateway,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            endpoint="/v1/messages",
            renderer_for=lambda tokens: None,  # type: ignore[arg-type,return-value]
        )
        await body.aclose()

    return step


SETUPS = {
    "access": _access_case,
    "model": _model_case,
    "pool": _pool_case,
    "lease": _lease_case,
    "usage": _usage_case,
    "log": _log_case,
    "grace": _grace_case,
}


async def _serve(cases: list[str]) -> None:
    """The measured process: set up and warm every case, then run ``N CASE`` lines from
    stdin, answering each with a line once the calls are done."""
    steps = {case: await SETUPS[case]() for case in cases}
    for step in steps.values():
        for _ in range(WARM_UP):
            await step()
    # Every object made so far leaves the collector's view: an old-generation collection
    # then walks only what the calls made, not the imported modules, and two runs that
    # happen to collect at different moments still count alike.
    gc.collect()
    gc.freeze()
    print("ready", flush=True)
    for line in sys.stdin:
        calls, case = line.split()
        step = steps[case]
        gc.collect()
        for _ in range(int(calls)):
            await step()
        print("done", flush=True)


def _measure(cases: list[str], calls: int, src: Path) -> dict[str, float]:
    """Instructions per call of each case, counted in one process: a round of ``calls``
    less a round of none (the request line and the answer), each between a switch of
    counting on and a dump; the imports and the set-up are never counted."""
    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--serve",
            *cases,
        ]
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        ) as measured:
            assert measured.stdin is not None and measured.stdout is not None
            if measured.stdout.readline().strip() != "ready":
                raise RuntimeError("the measured process did not start")
            dumps = 0

            def rounds(case: str, n: int) -> int:
                nonlocal dumps
                assert measured.stdin is not None and measured.stdout is not None
                _control(measured.pid, "-i", "on")
                measured.stdin.write(f"{n} {case}\n")
                measured.stdin.flush()
                measured.stdout.readline()
                _control(measured.pid, "-i", "off")
                _control(measured.pid, "-d")
                dumps += 1
                return _dumped_total(out, dumps)

            for case in cases:
                empty = rounds(case, 0)
                full = rounds(case, calls)
                found[case] = (full - empty) / calls
            measured.stdin.close()
            measured.wait()
    return found


def _control(pid: int, *options: str) -> None:
    subprocess.run(["callgrind_control", *options, str(pid)], check=True, capture_output=True)


def _dumped_total(out: Path, number: int, timeout: float = 120) -> int:
    dump = out.with_name(f"{out.name}.{number}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dump.exists():
            totals = _TOTALS.search(dump.read_text(errors="replace"))
            if totals is not None:
                return int(totals.group(1))
        time.sleep(0.1)
    raise RuntimeError(f"callgrind wrote no dump to {dump}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=list(CASES), help=", ".join(CASES))
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)} (cases: {', '.join(CASES)})")
    if args.serve:
        asyncio.run(_serve(args.cases))
        return
    for case, per_call in _measure(args.cases, args.calls, args.src).items():
        print(f"{case}: {per_call:,.0f} instructions per call", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Soak: concurrent streaming clients for a fixed time, watching the gateway for leaks.

    python bench/soak.py [--duration 60] [--clients 32] [--interval 5] [--setting paced]
                         [--url URL --pid PID] [--settle 30] [--json FILE]

Starts a paced ``kirogate emulator`` and ``kirogate serve`` (SQLite, as ``bench/run.py``
does), or targets a running gateway (``--url``; ``--pid`` for its RSS and descriptors; its
emulator must run with the ``--setting``'s pacing, see ``bench/stack.py``). Half the clients
speak Anthropic, half OpenAI; every answer is checked (grammar and text, ``bench/sse_check``).
Every ``--interval`` seconds it samples the gateway's RSS, open descriptors
(``/proc/PID/fd``) and asyncio tasks (the ``kirogate_asyncio_tasks`` gauge of ``/metrics``).
After the load it waits up to ``--settle`` seconds (pooled upstream connections close after
their 15 s keep-alive) for descriptors and tasks to come back to the baseline taken after
warm-up. Exits 1 if any request failed or they did not come back. Not part of the test run;
``tests/bench_smoke/test_soak.py`` runs it for a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen, procs
from bench.stack import ADMIN_KEY, API_KEY, SETTINGS, stack
from kirogate.emulator.answers import paced_chunks
from kirogate.tasks import spawn

TARGETS = ("anthropic", "openai")
# Descriptors that may stay above the baseline at rest: the listening socket's accept
# backlog aside, nothing should; two absorb a scrape's own connection and a log rotation.
FD_SLACK = 2
TASK_SLACK = 2


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    rss_mb: float | None
    fds: int | None
    tasks: int | None
    ok: int

    def to_json(self) -> dict[str, Any]:
        return {
            "t": round(self.at, 1),
            "rss_mb": self.rss_mb,
            "fds": self.fds,
            "tasks": self.tasks,
            "ok": self.ok,
        }


def open_fds(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        return round(procs.rss_mb(pid), 1)
    return None


def asyncio_tasks(url: str, admin_key: str = ADMIN_KEY) -> int | None:
    """The gateway's ``kirogate_asyncio_tasks`` gauge (None if it has none)."""
    request = urllib.request.Request(f"{url}/metrics", headers={"x-api-key": admin_key})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("kirogate_asyncio_tasks "):
            return int(float(line.split()[1]))
    return None


def sample(url: str, pid: int | None, at: float, ok: int, admin_key: str = ADMIN_KEY) -> Sample:
    return Sample(at, rss_mb(pid), open_fds(pid), asyncio_tasks(url, admin_key), ok)


async def load(
    url: str, pid: int | None, args: argparse.Namespace, expected: str
) -> tuple[dict[str, loadgen.Tally], list[Sample]]:
    """``args.clients`` clients for ``args.duration`` seconds, sampled every ``args.interval``."""
    specs = {
        target: {"target": target, "api_key": API_KEY, "expected_text": expected}
        for target in TARGETS
    }
    tallies = {target: loadgen.Tally() for target in TARGETS}
    samples: list[Sample] = []
    started = time.monotonic()
    deadline = started + args.duration

    def ok() -> int:
        return sum(tally.ok for tally in tallies.values())

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120, sock_connect=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client(k: int) -> None:
            target = TARGETS[k % len(TARGETS)]
            call = loadgen.request_for(specs[target], url)
            while time.monotonic() < deadline:
                tallies[target].started += 1
                await loadgen.one_request(session, specs[target], call, tallies[target])

        async def sampler() -> None:
            while time.monotonic() < deadline:
                await asyncio.sleep(min(args.interval, max(deadline - time.monotonic(), 0)))
                at = time.monotonic() - started
                samples.append(await asyncio.to_thread(sample, url, pid, at, ok(), args.admin_key))

        tasks = [
            spawn(client(k), name=f"soak client {k}", awaited=True) for k in range(args.clients)
        ]
        tasks.append(spawn(sampler(), name="soak sampler", awaited=True))
        await asyncio.gather(*tasks)
    return tallies, samples


def settle(
    url: str, pid: int | None, baseline: Sample, wait: float, admin_key: str = ADMIN_KEY
) -> Sample:
    """The first sample back at the baseline within ``wait`` seconds, else the last one."""
    deadline = time.monotonic() + wait
    while True:
        now = sample(url, pid, 0.0, 0, admin_key)
        fds_back = now.fds is None or baseline.fds is None or now.fds <= baseline.fds + FD_SLACK
        tasks_back = (
            now.tasks is None or baseline.tasks is None or now.tasks <= baseline.tasks + TASK_SLACK
        )
        if (fds_back and tasks_back) or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


def errors_of(tally: loadgen.Tally) -> int:
    finished = tally.ok + tally.errors + tally.invalid + tally.mismatched
    return tally.errors + tally.invalid + tally.mismatched + (tally.started - finished)


def report(
    args: argparse.Namespace,
    tallies: dict[str, loadgen.Tally],
    baseline: Sample,
    samples: list[Sample],
    after: Sample,
) -> dict[str, Any]:
    errors = sum(errors_of(tally) for tally in tallies.values())
    fds_back = after.fds is None or baseline.fds is None or after.fds <= baseline.fds + FD_SLACK
    tasks_back = (
        after.tasks is None or baseline.tasks is None or after.tasks <= baseline.tasks + TASK_SLACK
    )
    # RSS after warm-up: the second half of the samples against the first sample.
    rss = [s.rss_mb for s in samples if s.rss_mb is not None]
    half = rss[len(rss) // 2 :]
    return {
        "duration_s": args.duration,
        "clients": args.clients,
        "setting": args.setting,
        "requests": {target: tally.ok for target, tally in tallies.items()},
        "ok": sum(tally.ok for tally in tallies.values()),
        "errors": errors,
        "error_samples": [note for tally in tallies.values() for note in tally.samples],
        "baseline": baseline.to_json(),
        "samples": [s.to_json() for s in samples],
        "after": after.to_json(),
        "rss_mb": {
            "first": rss[0] if rss else None,
            "second_half_min": min(half) if half else None,
            "second_half_max": max(half) if half else None,
        },
        "fds_back": fds_back,
        "tasks_back": tasks_back,
        "passed": errors == 0 and fds_back and tasks_back,
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"soak: {result['duration_s']} s, {result['clients']} clients, "
        f"{result['ok']} answers ({result['requests']}), {result['errors']} errors"
    )
    for note in result["error_samples"]:
        print(f"  error: {note}")
    print("      t   rss MiB   fds  tasks    answers")
    rows = [("base", result["baseline"])]
    rows += [(f"{row['t']:.1f}", row) for row in result["samples"]]
    rows.append(("rest", result["after"]))
    for label, row in rows:
        print(
            f"  {label:>5}  {row['rss_mb'] or '-':>8}  {row['fds'] or '-':>4}"
            f"  {row['tasks'] or '-':>5}  {row['ok']:>9}"
        )
    print(
        f"baseline fds {result['baseline']['fds']} tasks {result['baseline']['tasks']}; "
        f"after fds {result['after']['fds']} tasks {result['after']['tasks']}; "
        f"RSS second half {result['rss_mb']['second_half_min']}"
        f"-{result['rss_mb']['second_half_max']} MiB"
    )
    print("PASS" if result["passed"] else "FAIL")


@contextlib.contextmanager
def target(args: argparse.Namespace) -> Iterator[tuple[str, int | None]]:
    if args.url:
        yield args.url.rstrip("/"), args.pid
        return
    with (
        tempfile.TemporaryDirectory(prefix="kirogate-soak-") as tmp,
        stack(args.setting, Path(tmp)) as st,
    ):
        yield st.gateway_urls[0], st.gateways[0].pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=32, help="concurrent streaming clients")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--setting", default="paced", choices=sorted(SETTINGS))
    parser.add_argument("--url", help="a running gateway instead of a fresh stack")
    parser.add_argument("--pid", type=int, help="the running gateway's pid (RSS, descriptors)")
    parser.add_argument(
        "--admin-key", default=ADMIN_KEY, help="the running gateway's admin key (its /metrics)"
    )
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait at the end")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    pacing = SETTINGS[args.setting]
    expected = "".join(paced_chunks(pacing["count"], pacing["size"]))
    with target(args) as (url, pid):
        baseline = sample(url, pid, 0.0, 0, args.admin_key)
        tallies, samples = asyncio.run(load(url, pid, args, expected))
        after = settle(url, pid, baseline, args.settle, args.admin_key)
    result = report(args, tallies, baseline, samples, after)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

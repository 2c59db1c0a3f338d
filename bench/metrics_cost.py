"""What recording one request's metrics costs, without sockets.

    python bench/metrics_cost.py [--requests N] [--rounds R] [--instructions] [--json PATH|-]

Per request the gateway records: one in-flight increment and decrement, the token counts,
a TTFT observation, the request counter and a duration observation (``kirogate.metrics``'
hot-path methods, called as the middleware and the service call them). The workloads:

- ``gateway``: those calls on a fresh :class:`kirogate.metrics.GatewayMetrics`, whatever it
  is built on (run with ``PYTHONPATH`` pointing at another tree to compare with it);
- ``client``: the same recording written directly against ``prometheus_client`` metric
  objects (``labels(...).inc()``, ``observe``), one process;
- ``client multiprocess``: the same with ``PROMETHEUS_MULTIPROC_DIR`` set, so every value
  lives in an mmap'ed file (what ``kirogate serve --workers N`` needs);
- ``flush multiprocess``: one request recorded by ``GatewayMetrics`` and then copied into
  the multiprocess files, as each ``--workers`` process does once a second (when a request
  ended in that second): the flush's cost is this minus ``gateway``;
- ``scrape``: one ``render()`` of the gateway's metrics (not per request; for scale).

Timings are CPU microseconds per request, best of R rounds. ``--instructions`` also runs
each workload under ``valgrind --tool=callgrind`` with N and 2N requests and reports the
difference per request, which does not move with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve()
WORKLOADS = ("gateway", "client", "client multiprocess", "flush multiprocess", "scrape")
ENDPOINT = "/v1/messages"
_REFS = re.compile(r"Collected : (\d+)")


def _gateway(flush: bool = False) -> Callable[[], None]:
    from kirogate.metrics import GatewayMetrics

    metrics = GatewayMetrics()

    def one() -> None:
        metrics.request_started()
        metrics.add_tokens(input=1200, output=350)
        metrics.observe_ttft(ENDPOINT, 0.42)
        metrics.request_finished(ENDPOINT, 200, 1.25)

    if not flush:
        return one
    metrics.use_multiprocess(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    shared = metrics.shared
    assert shared is not None

    def one_and_flush() -> None:
        one()
        shared.flush()

    return one_and_flush


def _scrape() -> Callable[[], None]:
    from kirogate.metrics import GatewayMetrics

    metrics = GatewayMetrics()
    for status in (200, 400, 429, 500):
        metrics.request_finished(ENDPOINT, status, 1.0)
    metrics.observe_ttft(ENDPOINT, 0.5)

    def one() -> None:
        metrics.render()

    return one


def _client() -> Callable[[], None]:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from kirogate.metrics.gateway import REQUEST_BUCKETS, TTFT_BUCKETS

    registry = CollectorRegistry()
    requests = Counter("r_total", "x", ("endpoint", "status"), registry=registry)
    duration = Histogram(
        "d_seconds", "x", ("endpoint",), registry=registry, buckets=REQUEST_BUCKETS
    )
    ttft = Histogram("t_seconds", "x", ("endpoint",), registry=registry, buckets=TTFT_BUCKETS)
    tokens = Counter("k_total", "x", ("direction",), registry=registry)
    inflight = Gauge("i", "x", registry=registry, multiprocess_mode="livesum")
    tokens_in, tokens_out = tokens.labels("input"), tokens.labels("output")

    def one() -> None:
        inflight.inc()
        tokens_in.inc(1200)
        tokens_out.inc(350)
        ttft.labels(ENDPOINT).observe(0.42)
        requests.labels(ENDPOINT, "200").inc()
        duration.labels(ENDPOINT).observe(1.25)
        inflight.dec()

    return one


def _workload(name: str) -> Callable[[], None]:
    if name == "scrape":
        return _scrape()
    return _client() if name.startswith("client") else _gateway(name.startswith("flush"))


def _env(name: str, tmp: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("prometheus_multiproc_dir", None)
    if name.endswith("multiprocess"):
        env["PROMETHEUS_MULTIPROC_DIR"] = tmp
    return env


def work(name: str, requests: int) -> None:
    """Run ``requests`` recordings of one workload (the process that valgrind watches)."""
    one = _workload(name)
    for _ in range(requests):
        one()


def timed(name: str, requests: int, rounds: int) -> float:
    """CPU microseconds per request, best of ``rounds``."""
    one = _workload(name)
    for _ in range(min(requests, 1000)):
        one()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(requests):
            one()
        best = min(best, time.process_time() - start)
    return best / requests * 1e6


def _child(name: str, *args: str, valgrind: str | None = None, out: str = "") -> str:
    with tempfile.TemporaryDirectory(prefix="kirogate-metrics-") as tmp:
        command = [sys.executable, str(HERE), "--child", name, *args]
        if valgrind is not None:
            command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={tmp}/cg", *command]
        done = subprocess.run(
            command, env=_env(name, tmp), capture_output=True, text=True, check=True
        )
    return done.stderr if valgrind is not None else done.stdout


def instructions(name: str, requests: int) -> float:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    counts = []
    for n in (requests, 2 * requests):
        found = _REFS.search(_child(name, "--work", str(n), valgrind=valgrind))
        if found is None:
            raise RuntimeError("no instruction count in valgrind's output")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="also count with valgrind")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--json", help="write the results as JSON to PATH (- for stdout)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.work is not None:
            work(args.child, args.work)
        else:
            print(timed(args.child, args.requests, args.rounds))
        return
    results: dict[str, dict[str, float]] = {}
    for name in args.workloads.split(","):
        timing = _child(name, "--requests", str(args.requests), "--rounds", str(args.rounds))
        row = {"us": float(timing)}
        if args.instructions:
            row["instructions"] = instructions(name, max(args.requests // 20, 200))
        results[name] = row
        extra = f"  {row['instructions']:>9.0f} instructions" if "instructions" in row else ""
        print(f"{name:<22} {row['us']:8.2f} µs/request{extra}", flush=True)
    if args.json == "-":
        json.dump(results, sys.stdout, indent=2)
    elif args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(HERE.parent.parent))
    main()

"""End-to-end benchmark: a paced Kiro emulator, kirogate, and a load generator, as separate processes.

    python bench/run.py [--quick] [--workers N] [--settings paced,burst]
                        [--concurrency 1,16,128] [--requests N] [--time-limit S]
                        [--targets direct,anthropic,openai] [--json PATH|-]
                        [--database-url URL] [--upstream-connections N] [--soak MINUTES]

For each setting it starts ``kirogate emulator`` with that pacing and ``kirogate serve``
(fresh data dir, a credentials file for the emulator), warms both up, then at each
concurrency drives the emulator directly and the gateway's Anthropic ``/v1/messages`` and
OpenAI ``/v1/chat/completions`` streaming endpoints with a fixed number of requests
(``bench/loadgen.py``, its own process), and reports requests/s, TTFT and total time
percentiles, errors, invalid SSE sequences, responses whose text differs from what the
emulator sent, the gateway's CPU per request and its peak RSS, then checks the targets of
issue #6. ``--soak MINUTES`` instead runs paced load for that long and samples the RSS.
Method and results: ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench import procs  # noqa: E402
from bench.report import print_soak, print_table, verdicts  # noqa: E402
from bench.stack import API_KEY, SETTINGS, GatewayOptions, Stack, stack  # noqa: E402
from kirogate.emulator.answers import paced_chunks  # noqa: E402

TARGETS = ("direct", "anthropic", "openai")
EXTRA_TARGETS = ("relay",)  # bench/relay.py: the Python stack's floor, run only when asked


def expected_text(setting: str) -> str:
    pacing = SETTINGS[setting]
    return "".join(paced_chunks(pacing["count"], pacing["size"]))


def start_loadgen(spec: dict[str, Any], tmp: Path) -> subprocess.Popen[str]:
    """The load generator process, once it printed ``ready``."""
    spec_file = tmp / "spec.json"
    spec_file.write_text(json.dumps(spec))
    spec_file.chmod(0o600)  # holds the emulator access token of the direct runs
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), str(spec_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the load generator did not start")
    return proc


def run_cell(
    st: Stack, target: str, concurrency: int, requests: int, time_limit: float, tmp: Path
) -> dict[str, Any]:
    """One load cell; CPU and peak RSS are read around it from /proc."""
    urls = {"direct": [st.emulator_url], "relay": [st.relay_url]}.get(target, st.gateway_urls)
    spec = {
        "target": "direct" if target == "relay" else target,  # the relay answers event streams
        "urls": urls,
        "concurrency": concurrency,
        "requests": requests,
        "time_limit": time_limit,
        "expected_text": expected_text(st.setting),
        "api_key": st.api_key,
        "direct_headers": st.direct_headers,
        "direct_body": st.direct_body,
    }
    loadgen = start_loadgen(spec, tmp)
    assert loadgen.stdin is not None and loadgen.stdout is not None
    tested = [st.relay.pid] if target == "relay" and st.relay else [p.pid for p in st.gateways]
    for pid in tested:
        procs.reset_peak_rss(pid)
    gw_before = sum(procs.cpu_ms(pid) for pid in tested)
    emu_before = procs.cpu_ms(st.emulator.pid)
    loadgen.stdin.write("go\n")
    loadgen.stdin.flush()
    line = loadgen.stdout.readline()
    gw_cpu = sum(procs.cpu_ms(pid) for pid in tested) - gw_before
    emu_cpu = procs.cpu_ms(st.emulator.pid) - emu_before
    loadgen.wait(timeout=30)
    if not line:
        raise RuntimeError("the load generator exited without a result")
    result: dict[str, Any] = json.loads(line)
    served = max(result["completed"], 1)
    result["setting"] = st.setting
    result["target"] = target
    result["emulator_cpu_ms_per_req"] = round(emu_cpu / served, 3)
    if target != "direct":  # the gateway's figures, or the relay's in its row
        result["gateway_cpu_ms_per_req"] = round(gw_cpu / served, 3)
        result["gateway_peak_rss_mb"] = round(sum(procs.peak_rss_mb(pid) for pid in tested), 1)
    return result


def warm_pools(
    st: Stack, targets: list[str], concurrency: int, time_limit: float, tmp: Path
) -> None:
    """An unmeasured round at ``concurrency`` through the relay and the gateway first.

    Their upstream connection pools grow on demand: without this the first cell at a new
    level (Anthropic's, as it runs first) would pay for opening every connection and the
    next would not. The direct runs open their own connections in every cell.
    """
    for target in ("relay", "anthropic"):
        if target == "anthropic" and not {"anthropic", "openai"} & set(targets):
            continue
        if target == "relay" and "relay" not in targets:
            continue
        run_cell(st, target, concurrency, concurrency, time_limit, tmp)


def soak(args: argparse.Namespace, tmp: Path, options: GatewayOptions) -> dict[str, Any]:
    """Paced Anthropic load for ``args.soak`` minutes; RSS sampled every ``soak_interval`` s."""
    with stack("paced", tmp, options) as st:
        spec = {
            "target": "anthropic",
            "urls": st.gateway_urls,
            "concurrency": args.soak_concurrency,
            "requests": 10**9,
            "time_limit": args.soak * 60,
            "expected_text": expected_text("paced"),
            "api_key": API_KEY,
            "wait_go": False,
        }
        loadgen = start_loadgen(spec, tmp)
        assert loadgen.stdout is not None
        started = time.monotonic()
        samples: list[tuple[float, float]] = []
        while loadgen.poll() is None:
            samples.append((round(time.monotonic() - started, 1), round(st.gateway_rss_mb(), 1)))
            time.sleep(args.soak_interval)
        result = json.loads(loadgen.stdout.read().strip().splitlines()[-1])
    return {
        "soak_minutes": args.soak,
        "concurrency": args.soak_concurrency,
        "rss": samples,
        "load": result,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 requests per cell, 30 s bound")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument("--settings", default="paced,burst", help="paced, burst and/or single")
    parser.add_argument("--concurrency", default="1,16,128", help="comma-separated levels")
    parser.add_argument("--requests", type=int, help="requests per cell (default 400)")
    parser.add_argument("--time-limit", type=float, help="seconds per cell (default 120)")
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="direct,anthropic,openai (and relay: bench/relay.py, the stack's floor)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON ('-': stdout)")
    parser.add_argument("--database-url", help="PostgreSQL URL: run --workers natively")
    parser.add_argument("--redis-url", help="Redis URL for native --workers")
    parser.add_argument(
        "--upstream-connections",
        type=int,
        default=256,
        help="the gateway's upstream connection pool (0: its default of 100)",
    )
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="soak mode: RSS over time")
    parser.add_argument("--soak-concurrency", type=int, default=16)
    parser.add_argument("--soak-interval", type=float, default=10.0)
    args = parser.parse_args(argv)
    args.settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--concurrency takes comma-separated integers, not {args.concurrency!r}")
    for name in args.settings:
        if name not in SETTINGS:
            parser.error(f"unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
    for target in args.targets:
        if target not in TARGETS + EXTRA_TARGETS:
            choices = ", ".join(TARGETS + EXTRA_TARGETS)
            parser.error(f"unknown target {target!r}; choose from {choices}")
    if not args.concurrency or any(c < 1 for c in args.concurrency) or args.workers < 1:
        parser.error("concurrency levels and --workers must be at least 1")
    if args.requests is None:
        args.requests = 50 if args.quick else 400
    if args.time_limit is None:
        args.time_limit = 30.0 if args.quick else 120.0
    if args.requests < 1 or args.time_limit <= 0:
        parser.error("--requests and --time-limit must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = procs.machine()
    options = GatewayOptions(
        workers=args.workers,
        database_url=args.database_url,
        redis_url=args.redis_url,
        upstream_connections=args.upstream_connections,
    )
    with tempfile.TemporaryDirectory(prefix="kirogate-bench-") as name:
        tmp = Path(name)
        if args.soak:
            result = soak(args, tmp, options) | {"machine": info}
            print_soak(result)
            _write_json(args.json, result)
            return 0
        cells: list[dict[str, Any]] = []
        for setting in args.settings:
            with stack(setting, tmp, options, relay="relay" in args.targets) as st:
                for concurrency in args.concurrency:
                    requests = max(args.requests, 2 * concurrency)
                    warm_pools(st, args.targets, concurrency, args.time_limit, tmp)
                    for target in args.targets:
                        cell = run_cell(st, target, concurrency, requests, args.time_limit, tmp)
                        cells.append(cell)
                        print(_progress(cell), file=sys.stderr, flush=True)
                        time.sleep(0.5)
    info["loadavg_after"] = procs.machine()["loadavg"]
    checks = verdicts(cells)
    print_table(cells, checks, info, workers=args.workers)
    _write_json(
        args.json, {"machine": info, "options": vars(args), "cells": cells, "checks": checks}
    )
    return 1 if any(c["mismatched"] or c["invalid"] for c in cells) else 0


def _progress(cell: dict[str, Any]) -> str:
    return (
        f"  {cell['setting']:<6} c={cell['concurrency']:<4} {cell['target']:<9} "
        f"{cell['rps']:>8.1f} req/s  ok={cell['ok']} err={cell['errors']}"
    )


def _write_json(path: str | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    text = json.dumps(data, indent=2)
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

"""End-to-end benchmark: a paced Kiro emulator, kirogate, and a load generator, as separate processes.

    python bench/run.py [--quick] [--workers N] [--settings paced,burst]
                        [--concurrency 1,16,128] [--requests N] [--time-limit S]
                        [--targets direct,anthropic,openai] [--json PATH|-] [--markdown PATH|-]
                        [--tls] [--round3] [--slow-from N] [--slow-delay S] [--operator]
                        [--database-url URL] [--upstream-connections N] [--soak MINUTES]

For each setting it starts ``kirogate emulator`` with that pacing and ``kirogate serve``
(fresh data dir, a credentials file for the emulator), warms both up, then at each
concurrency drives the emulator directly and the gateway's Anthropic ``/v1/messages`` and
OpenAI ``/v1/chat/completions`` streaming endpoints with a fixed number of requests
(``bench/loadgen.py``, its own process), and reports requests/s, TTFT and total time
percentiles, errors, invalid SSE sequences, responses whose text differs from what the
emulator sent, the gateway's CPU per request and its peak RSS, then checks the targets of
issues #6 and #16 and prints markdown tables (``--markdown`` also writes them to a file).

``--tls``: the emulator serves HTTPS with a throwaway certificate that the gateway, the
relay and the direct runs trust through ``SSL_CERT_FILE`` (``bench/stack.py``).

Scale: levels of ``--slow-from`` (default 1000) and above run in the ``slow`` setting only
(the paced text, chunks ``--slow-delay`` s apart: ~20 s a stream), one stream per load
worker, so every stream is open at once. The load generator says when they all are; the
tested process's RSS then, less its RSS at rest (after the warm-up, before any scale load),
divided by the level, is the memory per open stream. No pool warm-up precedes these cells:
the upstream connections they open are part of what an open stream costs.

``--round3`` is issue #16's whole run: direct, relay, Anthropic and OpenAI at c=1,16,128
(paced and burst) and c=1000 (slow), plain and with TLS (14.5 min on 2 busy shared cores).
Default request counts: 400 a cell, 100 at c=1 (paced c=1 takes 0.25 s a request).
``--soak MINUTES`` instead runs paced load for that long and samples the RSS.
Method and results: ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
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
from bench.report import markdown, print_soak, print_table, verdicts  # noqa: E402
from bench.stack import API_KEY, SETTINGS, GatewayOptions, Stack, stack  # noqa: E402
from kirogate.emulator.answers import paced_chunks  # noqa: E402

TARGETS = ("direct", "anthropic", "openai")
EXTRA_TARGETS = ("relay",)  # bench/relay.py: the Python stack's floor, run only when asked
SCALE_SETTING = "slow"  # levels of --slow-from and above run here, every stream held open
DEFAULT_REQUESTS = 400
DEFAULT_REQUESTS_C1 = 100
ROUND3 = {
    "targets": "direct,relay,anthropic,openai",
    "concurrency": "1,16,128,1000",
    "settings": "paced,burst",
}


def expected_text(setting: str) -> str:
    pacing = SETTINGS[setting]
    return "".join(paced_chunks(pacing["count"], pacing["size"]))


def start_loadgen(
    spec: dict[str, Any], tmp: Path, ca_file: Path | None = None
) -> subprocess.Popen[str]:
    """The load generator process, once it printed ``ready``; it trusts ``ca_file`` (the
    emulator's throwaway certificate) through ``SSL_CERT_FILE``, as the gateway does."""
    spec_file = tmp / "spec.json"
    spec_file.write_text(json.dumps(spec))
    spec_file.chmod(0o600)  # holds the emulator access token of the direct runs
    env = None if ca_file is None else os.environ | {"SSL_CERT_FILE": str(ca_file)}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), str(spec_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the load generator did not start")
    return proc


def tested_pids(st: Stack, target: str) -> list[int]:
    """The processes whose CPU and memory a cell reports: the relay's, or the gateway's."""
    if target == "direct":
        return []
    return [st.relay.pid] if target == "relay" and st.relay else [p.pid for p in st.gateways]


def run_cell(
    st: Stack,
    target: str,
    concurrency: int,
    requests: int,
    time_limit: float,
    tmp: Path,
    *,
    rest_mb: float | None = None,
) -> dict[str, Any]:
    """One load cell; CPU and peak RSS are read around it from /proc.

    With ``rest_mb`` (the tested process's RSS at rest) the cell is a scale cell: the load
    generator signals when all ``concurrency`` streams are open, the RSS is read then, and
    the difference per stream is reported (``stream_kib``).
    """
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
        "signal_open": rest_mb is not None,
    }
    loadgen = start_loadgen(spec, tmp, st.ca_file)
    assert loadgen.stdin is not None and loadgen.stdout is not None
    tested = tested_pids(st, target)
    for pid in tested:
        procs.reset_peak_rss(pid)
    gw_before = sum(procs.cpu_ms(pid) for pid in tested)
    emu_before = procs.cpu_ms(st.emulator.pid)
    loadgen.stdin.write("go\n")
    loadgen.stdin.flush()
    line = loadgen.stdout.readline()
    open_mb = None
    if line.startswith("open "):  # every stream open at once: the memory they hold
        open_mb = sum(procs.rss_mb(pid) for pid in tested)
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
    result["tls"] = st.ca_file is not None
    result["emulator_cpu_ms_per_req"] = round(emu_cpu / served, 3)
    if target != "direct":  # the gateway's figures, or the relay's in its row
        result["gateway_cpu_ms_per_req"] = round(gw_cpu / served, 3)
        result["gateway_peak_rss_mb"] = round(sum(procs.peak_rss_mb(pid) for pid in tested), 1)
        if rest_mb is not None:
            result["rss_rest_mb"] = round(rest_mb, 1)
            result["rss_open_mb"] = None if open_mb is None else round(open_mb, 1)
            result["stream_kib"] = (
                None if open_mb is None else round((open_mb - rest_mb) * 1024 / concurrency, 1)
            )
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
        loadgen = start_loadgen(spec, tmp, st.ca_file)
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
    parser.add_argument("--settings", help="paced, burst, single and/or slow (default paced,burst)")
    parser.add_argument("--concurrency", help="comma-separated levels (default 1,16,128)")
    parser.add_argument(
        "--requests",
        type=int,
        help="requests per cell (default 400, 100 at c=1; slow: one a worker)",
    )
    parser.add_argument("--time-limit", type=float, help="seconds per cell (default 120)")
    parser.add_argument(
        "--targets", help="direct,anthropic,openai (and relay: bench/relay.py, the stack's floor)"
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON ('-': stdout)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the markdown tables here")
    parser.add_argument("--tls", action="store_true", help="the emulator serves HTTPS")
    parser.add_argument(
        "--round3",
        action="store_true",
        help="issue #16: direct,relay,anthropic,openai at 1,16,128,1000, plain and TLS",
    )
    parser.add_argument(
        "--slow-from", type=int, default=1000, help="levels from here run in the slow setting"
    )
    parser.add_argument(
        "--slow-delay", type=float, default=SETTINGS[SCALE_SETTING]["event_delay"],
        help="seconds between the slow setting's 40 chunks (how long streams stay open)",
    )  # fmt: skip
    parser.add_argument("--operator", action="store_true", help="issue #16's operator features")
    parser.add_argument("--database-url", help="PostgreSQL URL: run --workers natively")
    parser.add_argument("--redis-url", help="Redis URL for native --workers")
    parser.add_argument(
        "--upstream-connections",
        type=int,
        help="the gateway's upstream connection pool (default: 256, or the highest level + 64; "
        "0: its default of 100)",
    )
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="soak mode: RSS over time")
    parser.add_argument("--soak-concurrency", type=int, default=16)
    parser.add_argument("--soak-interval", type=float, default=10.0)
    args = parser.parse_args(argv)
    defaults = ROUND3 if args.round3 else {"targets": ",".join(TARGETS), "concurrency": "1,16,128"}
    args.settings = [s.strip() for s in (args.settings or "paced,burst").split(",") if s.strip()]
    targets = args.targets or defaults["targets"]
    args.targets = [t.strip() for t in targets.split(",") if t.strip()]
    levels = args.concurrency or defaults["concurrency"]
    try:
        args.concurrency = [int(c) for c in levels.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--concurrency takes comma-separated integers, not {levels!r}")
    args.modes = [False, True] if args.round3 else [args.tls]
    for name in args.settings:
        if name not in SETTINGS:
            parser.error(f"unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
    for target in args.targets:
        if target not in TARGETS + EXTRA_TARGETS:
            choices = ", ".join(TARGETS + EXTRA_TARGETS)
            parser.error(f"unknown target {target!r}; choose from {choices}")
    if not args.concurrency or any(c < 1 for c in args.concurrency) or args.workers < 1:
        parser.error("concurrency levels and --workers must be at least 1")
    if args.quick and args.requests is None:
        args.requests = 50
    if args.time_limit is None:
        args.time_limit = 30.0 if args.quick else 120.0
    if (args.requests is not None and args.requests < 1) or args.time_limit <= 0:
        parser.error("--requests and --time-limit must be positive")
    if args.slow_delay <= 0:
        parser.error("--slow-delay must be positive")
    if args.upstream_connections is None:
        args.upstream_connections = max(256, max(args.concurrency) + 64)
    return args


def plan(settings: list[str], levels: list[int], slow_from: int) -> list[tuple[str, list[int]]]:
    """The levels each setting runs at: those from ``slow_from`` up in the slow setting only."""
    low = [c for c in levels if c < slow_from]
    high = [c for c in levels if c >= slow_from]
    out = [(s, levels if s == SCALE_SETTING else low) for s in settings]
    if high and SCALE_SETTING not in settings:
        out.append((SCALE_SETTING, high))
    return [(setting, at) for setting, at in out if at]


def requests_for(args: argparse.Namespace, setting: str, concurrency: int) -> int:
    if setting == SCALE_SETTING:
        return concurrency  # one stream a worker: all open at once
    if args.requests is not None:
        return max(args.requests, 2 * concurrency)
    return max(DEFAULT_REQUESTS_C1 if concurrency == 1 else DEFAULT_REQUESTS, 2 * concurrency)


def run_setting(
    args: argparse.Namespace, setting: str, levels: list[int], tmp: Path, options: GatewayOptions
) -> list[dict[str, Any]]:
    """Every target at every level of one setting, in one stack."""
    cells: list[dict[str, Any]] = []
    pacing = SETTINGS[setting]
    if setting == SCALE_SETTING:
        pacing = pacing | {"event_delay": args.slow_delay}
    with stack(setting, tmp, options, relay="relay" in args.targets, pacing=pacing) as st:
        rest = {t: sum(procs.rss_mb(pid) for pid in tested_pids(st, t)) for t in args.targets}
        for concurrency in levels:
            requests = requests_for(args, setting, concurrency)
            scale = setting == SCALE_SETTING
            if not scale:
                warm_pools(st, args.targets, concurrency, args.time_limit, tmp)
            for target in args.targets:
                rest_mb = rest[target] if scale and target != "direct" else None
                cell = run_cell(
                    st, target, concurrency, requests, args.time_limit, tmp, rest_mb=rest_mb
                )
                cells.append(cell)
                print(_progress(cell), file=sys.stderr, flush=True)
                time.sleep(0.5)
    return cells


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = procs.machine()
    info["open_files"] = procs.raise_open_files()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kirogate-bench-") as name:
        tmp = Path(name)
        if args.soak:
            options = _options(args, args.tls)
            result = soak(args, tmp, options) | {"machine": info}
            print_soak(result)
            _write_json(args.json, result)
            return 0
        cells: list[dict[str, Any]] = []
        for tls in args.modes:
            options = _options(args, tls)
            for setting, levels in plan(args.settings, args.concurrency, args.slow_from):
                cells += run_setting(args, setting, levels, tmp, options)
    info["loadavg_after"] = procs.machine()["loadavg"]
    info["wall_s"] = round(time.monotonic() - started, 1)
    checks = verdicts(cells)
    print_table(cells, checks, info, workers=args.workers)
    tables = markdown(cells, checks, info)
    if args.json != "-":
        print("\n" + tables)
    if args.markdown:
        Path(args.markdown).write_text(tables, encoding="utf-8")
    _write_json(
        args.json, {"machine": info, "options": vars(args), "cells": cells, "checks": checks}
    )
    return 1 if any(c["mismatched"] or c["invalid"] for c in cells) else 0


def _options(args: argparse.Namespace, tls: bool) -> GatewayOptions:
    return GatewayOptions(
        workers=args.workers,
        database_url=args.database_url,
        redis_url=args.redis_url,
        upstream_connections=args.upstream_connections,
        operator=args.operator,
        tls=tls,
    )


def _progress(cell: dict[str, Any]) -> str:
    mode = "TLS" if cell.get("tls") else "plain"
    return (
        f"  {mode:<5} {cell['setting']:<6} c={cell['concurrency']:<4} {cell['target']:<9} "
        f"{cell['rps']:>8.1f} req/s  ok={cell['ok']} err={cell['errors']}  "
        f"[{time.strftime('%H:%M:%S')}]"
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

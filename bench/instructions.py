"""Instructions counted by valgrind: stable on a busy machine, unlike timings.

    python bench/instructions.py [--cases text:anthropic:streamed,...] [--small 10] [--large 60]
    python bench/instructions.py --live [--setting single|paced|burst]
                                 [--target anthropic|openai|relay] [--requests N] [--src DIR]
                                 [--operator] [--idle SECONDS] [--callgrind-out PATH]

Per chunk (the default): each workload of ``bench/micro.py --work`` runs twice under
``valgrind --tool=callgrind`` (``--small`` and ``--large`` requests of 200 chunks); the
difference divided by the extra chunks is the instruction count per chunk, without
interpreter start-up and imports.

Per request (``--live``): a real ``kirogate serve`` (or, with ``--target relay``, the bare
uvicorn+aiohttp relay of ``bench/relay.py``) runs under callgrind with instrumentation off
(``--instr-atstart=no``) in front of an emulator paced for ``--setting``. After start-up and
a warm-up pass of the load generator, ``callgrind_control -i on`` turns counting on,
``--requests`` streamed requests run one at a time, counting goes off and the counters are
dumped: user-space instructions of every thread of the process, divided by the requests
served. ``--src`` puts another source tree first on ``PYTHONPATH`` (say an extract of
``git archive HEAD src``) to compare a change with its base. ``--setting single`` (one chunk
per answer) gives the fixed cost of a request, the figure issue #6 tracks.
Timings on a shared machine swing with the load; instruction counts do not (+-1 %), so
optimisations are compared with these.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent))

from bench import procs  # noqa: E402
from bench.micro import CHUNKS  # noqa: E402
from bench.run import expected_text, start_loadgen  # noqa: E402
from bench.stack import (  # noqa: E402
    API_KEY,
    SETTINGS,
    GatewayOptions,
    _emulator_args,
    _serve_args,
    operator_setup,
    recorded_request,
    warm_up,
)

DEFAULT_CASES = (
    "text:anthropic:pipeline",
    "text:openai:pipeline",
    "tool fragments:anthropic:pipeline",
    "thinking tags:anthropic:pipeline",
    "text:anthropic:streamed",
    "text:openai:streamed",
    "text:responses:streamed",
    "text burst:anthropic:streamed",
)
_REFS = re.compile(r"Collected : (\d+)")
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)
LIVE_TARGETS = ("anthropic", "openai", "relay")
WARM_UP_REQUESTS = 10


def instructions(case: str, requests: int) -> int:
    valgrind = _valgrind()
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                str(HERE / "micro.py"),
                "--work",
                case,
                "--repeat",
                str(requests),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = _REFS.search(out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def _valgrind() -> str:
    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    return valgrind


def _callgrind_control(pid: int, *options: str) -> None:
    subprocess.run(["callgrind_control", *options, str(pid)], check=True, capture_output=True)


def _dumped_total(out: Path, number: int = 1, timeout: float = 60) -> int:
    """The instruction total of callgrind's dump ``<out>.<number>``, once it is written."""
    dump = out.with_name(f"{out.name}.{number}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dump.exists():
            found = _TOTALS.search(dump.read_text(errors="replace"))
            if found is not None:
                return int(found.group(1))
        time.sleep(0.1)
    raise RuntimeError(f"callgrind wrote no dump to {dump}")


def _load(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    loadgen = start_loadgen(spec, tmp)
    assert loadgen.stdin is not None and loadgen.stdout is not None
    loadgen.stdin.write("go\n")
    loadgen.stdin.flush()
    line = loadgen.stdout.readline()
    loadgen.wait(timeout=30)
    if not line:
        raise RuntimeError("the load generator exited without a result")
    result: dict[str, Any] = json.loads(line)
    return result


def live(
    setting: str,
    target: str,
    requests: int,
    src: str | None = None,
    keep: str | None = None,
    operator: bool = False,
    idle: float = 0.0,
) -> dict[str, Any]:
    """Instructions per streamed request of a live gateway (or the relay) under callgrind;
    with ``keep``, callgrind's dump of the measured requests is copied to that path; with
    ``operator``, the gateway answers with issue #16's operator features on (a stored key with
    limits, an IP block and the per-address rate limit, see ``bench/stack.py``). With ``idle``
    the process is also counted for that many seconds with no request (before the requests):
    its background timers' instructions per second, to split a run's total into the timers'
    share (their rate times the run's wall time, stretched by valgrind) and the rest."""
    valgrind = _valgrind()
    with tempfile.TemporaryDirectory(prefix="kirogate-instr-") as name:
        tmp = Path(name)
        (tmp / "home").mkdir()
        env = procs.clean_env(tmp / "home")
        if src:
            env["PYTHONPATH"] = str(Path(src).resolve())
        creds = tmp / "credentials.json"
        token = f"aorAAAAAGbenchinstr{setting}" + "r" * 120
        creds.write_text(json.dumps([{"refreshToken": token, "authMethod": "social"}]))
        creds.chmod(0o600)
        emulator_port = procs.free_port()
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        port = procs.free_port()
        url = f"http://127.0.0.1:{port}"
        out = tmp / "callgrind.out"
        callgrind = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
        ]
        with contextlib.ExitStack() as exits:
            exits.enter_context(
                procs.running(
                    _emulator_args(setting, emulator_port),
                    f"{emulator_url}/_emulator/stats",
                    env,
                    tmp / "emulator.log",
                )
            )
            headers: dict[str, str] = {}
            body: Any = None
            if target == "relay":
                # The relay replays the request a gateway sends: record one first.
                recorder_port = procs.free_port()
                recorder = f"http://127.0.0.1:{recorder_port}"
                args = _serve_args(
                    recorder_port, creds, emulator_url, tmp / "rec", GatewayOptions()
                )
                with procs.running(args, f"{recorder}/health", env, tmp / "recorder.log"):
                    warm_up([recorder], rounds=1)
                    headers, body = recorded_request(emulator_url)
                command = [*callgrind, str(HERE / "relay.py")]
                env = env | {"UPSTREAM": emulator_url, "PORT": str(port)}
                ready = url
            else:
                options = GatewayOptions(operator=operator)
                args = _serve_args(port, creds, emulator_url, tmp / "data", options)
                command = [*callgrind, "-m", "kirogate", *args]
                ready = f"{url}/health"
            measured = exits.enter_context(
                # Start-up under callgrind takes minutes when the machine is busy.
                procs.running_command(command, ready, env, tmp / "measured.log", ready_timeout=600)
            )
            api_key = API_KEY
            if operator and target != "relay":
                api_key = operator_setup(url)
            spec: dict[str, Any] = {
                "target": "direct" if target == "relay" else target,
                "urls": [url],
                "concurrency": 1,
                "requests": WARM_UP_REQUESTS,
                "time_limit": 600,
                "expected_text": expected_text(setting),
                "api_key": api_key,
                "direct_headers": headers,
                "direct_body": body,
            }
            warm = _load(spec, tmp)  # token refresh, profile, connections, lazy imports
            if warm["ok"] != WARM_UP_REQUESTS:
                raise RuntimeError(f"warm-up failed: {warm}")
            idle_total = 0
            if idle > 0:
                _callgrind_control(measured.pid, "-i", "on")
                time.sleep(idle)
                _callgrind_control(measured.pid, "-i", "off")
                _callgrind_control(measured.pid, "-d")
                idle_total = _dumped_total(out)  # a dump zeroes the counters
            _callgrind_control(measured.pid, "-i", "on")
            started = time.monotonic()
            result = _load(spec | {"requests": requests}, tmp)
            elapsed = time.monotonic() - started
            _callgrind_control(measured.pid, "-i", "off")
            _callgrind_control(measured.pid, "-d")
            dump = 2 if idle > 0 else 1
            total = _dumped_total(out, dump)
            if keep:
                shutil.copyfile(out.with_name(f"{out.name}.{dump}"), keep)
    bad = result["errors"] + result["invalid"] + result["mismatched"]
    return {
        "setting": setting,
        "target": target,
        "operator": operator,
        "requests": result["ok"],
        "bad": bad,
        "instructions": total,
        "per_request": round(total / max(result["ok"], 1)),
        "seconds": round(elapsed, 2),
        "idle_per_second": round(idle_total / idle) if idle > 0 else None,
    }


def main_live(args: argparse.Namespace) -> None:
    row = live(
        args.setting,
        args.target,
        args.requests,
        args.src,
        args.callgrind_out,
        args.operator,
        args.idle,
    )
    label = " operator" if args.operator else ""
    print(
        f"{args.setting} {args.target}{label}: {row['per_request']:,} instructions per request "
        f"({row['requests']} ok, {row['bad']} bad)",
        flush=True,
    )
    if row["idle_per_second"] is not None:
        timers = row["idle_per_second"] * row["seconds"] / max(row["requests"], 1)
        print(
            f"  idle: {row['idle_per_second']:,} instructions per second; the run took "
            f"{row['seconds']} s, so ~{timers:,.0f} per request are the timers' and "
            f"~{row['per_request'] - timers:,.0f} the requests' own",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    if row["bad"]:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--live", action="store_true", help="instructions per request of a live gateway"
    )
    parser.add_argument("--setting", default="single", choices=sorted(SETTINGS), help="--live")
    parser.add_argument("--target", default="anthropic", choices=LIVE_TARGETS, help="--live")
    parser.add_argument("--requests", type=int, default=100, help="--live: measured requests")
    parser.add_argument("--src", help="--live: source tree to put first on PYTHONPATH")
    parser.add_argument(
        "--operator",
        action="store_true",
        help="--live: a stored key with limits, an IP block, the per-address rate limit",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="--live: first count the idle process that long (its timers' cost per second)",
    )
    parser.add_argument(
        "--callgrind-out", metavar="PATH", help="--live: keep the dump (for callgrind_annotate)"
    )
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES))
    parser.add_argument("--small", type=int, default=10, help="requests in the first run")
    parser.add_argument("--large", type=int, default=60, help="requests in the second run")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    if args.live:
        if args.requests < 1:
            parser.error("--requests must be positive")
        main_live(args)
        return
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    results = {}
    for case in args.cases.split(","):
        low, high = instructions(case, args.small), instructions(case, args.large)
        per_chunk = (high - low) / ((args.large - args.small) * CHUNKS)
        results[case] = round(per_chunk)
        print(f"{case:<36}{per_chunk:>10.0f} instructions per chunk", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

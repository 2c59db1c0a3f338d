"""Profile the gateway under benchmark load with py-spy (``pip install py-spy``).

    python bench/profile.py [--setting paced] [--target anthropic] [--concurrency 16]
                            [--requests 400] [--rate 500] [--out DIR] [--native] [--operator]

Starts the same emulator + gateway stack as ``bench/run.py``, attaches ``py-spy record``
to the gateway for one load cell, and writes ``DIR/profile.txt`` (collapsed stacks, for
flamegraph tools or speedscope), then prints the functions with the
largest share of samples, by own time and by inclusive time.
"""

from __future__ import annotations

import argparse
import collections
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402
from bench.stack import SETTINGS, GatewayOptions, stack  # noqa: E402


def summarise(collapsed: Path, top: int = 25) -> str:
    """Own and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [
            f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
            for f in stack.split(";")
        ]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def profile_with_cprofile(args: argparse.Namespace) -> int:
    """The gateway under ``cProfile`` with a CPU clock, for the load cell only (start-up and
    warm-up excluded): functions by own time, with calls and microseconds per request."""
    out = (args.out / "gateway.prof").resolve()
    python_args = ("-c", _CPROFILE_BOOT, str(out))
    with tempfile.TemporaryDirectory(prefix="kirogate-profile-") as name:
        tmp = Path(name)
        options = GatewayOptions(python_args=python_args, operator=args.operator)
        with stack(args.setting, tmp, options) as st:
            st.gateways[0].send_signal(signal.SIGUSR1)  # start profiling now
            time.sleep(0.2)
            cell = run.run_cell(st, args.target, args.concurrency, args.requests, 300, tmp)
    served = max(cell["completed"], 1)
    print(f"cell: {cell['rps']} req/s, ok={cell['ok']} errors={cell['errors']} (under cProfile)")
    stats = pstats.Stats(str(out))
    rows = sorted(stats.stats.items(), key=lambda item: item[1][args.sort], reverse=True)  # type: ignore[attr-defined]
    total = sum(row[1][2] for row in rows)
    print(f"{'own %':>6} {'own us/req':>10} {'cum us/req':>10} {'calls/req':>9}  function")
    for (path, line, func), (_, calls, own, cum, _) in rows[: args.top]:
        where = f"{Path(path).name}:{line}" if line else path
        print(
            f"{own * 100 / total:6.1f} {own * 1e6 / served:10.1f} {cum * 1e6 / served:10.1f}"
            f" {calls / served:9.1f}  {func} ({where})"
        )
    return 0


# Run ``python -m kirogate ARGS``; profile (CPU clock) from SIGUSR1, write the stats on exit.
_CPROFILE_BOOT = """
import cProfile, runpy, signal, sys, time
out, rest = sys.argv[1], sys.argv[2:]
if rest[:2] == ["-m", "kirogate"]:
    rest = rest[2:]
sys.argv = ["kirogate", *rest]
profiler = cProfile.Profile(time.process_time)
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
# uvicorn re-raises SIGTERM after its shutdown; exit through ``finally`` instead of dying.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    runpy.run_module("kirogate", run_name="__main__")
except SystemExit:
    pass
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="paced", choices=sorted(SETTINGS))
    parser.add_argument("--target", default="anthropic", choices=["anthropic", "openai"])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="include C frames")
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="run the gateway under cProfile (CPU timer) instead: exact call counts per request",
    )
    parser.add_argument(
        "--operator",
        action="store_true",
        help="a stored key with limits, an IP block, the per-address rate limit (bench/stack.py)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-profile"))
    parser.add_argument("--top", type=int, default=40, help="rows of the cProfile table")
    parser.add_argument(
        "--by-cumulative",
        dest="sort",
        action="store_const",
        const=3,
        default=2,
        help="sort the cProfile table by inclusive instead of own time",
    )
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cprofile:
        return profile_with_cprofile(args)
    with tempfile.TemporaryDirectory(prefix="kirogate-profile-") as name:
        tmp = Path(name)
        with stack(args.setting, tmp, GatewayOptions(operator=args.operator)) as st:
            pid = st.gateways[0].pid
            cmd = [py_spy, "record", "-p", str(pid), "-r", str(args.rate), "-f", "raw"]
            cmd += ["-o", str(args.out / "profile.txt")]
            cmd += ["--native"] if args.native else ["--nonblocking"]
            log = (args.out / "py-spy.log").open("wb")
            spy = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            time.sleep(1.0)  # py-spy attaches
            cell = run.run_cell(st, args.target, args.concurrency, args.requests, 300, tmp)
            spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            spy.wait(timeout=120)
            log.close()
    print(
        f"cell: {cell['rps']} req/s, gateway CPU {cell['gateway_cpu_ms_per_req']} ms/request "
        f"(under py-spy), ok={cell['ok']} errors={cell['errors']}"
    )
    print(summarise(args.out / "profile.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

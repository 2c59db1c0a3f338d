"""Instructions per chunk of the hot path, counted by valgrind: stable on a busy machine.

    python bench/instructions.py [--cases text:anthropic:streamed,...] [--small 10] [--large 60]

Each workload of ``bench/micro.py --work`` runs twice under ``valgrind --tool=callgrind``
(``--small`` and ``--large`` requests of 200 chunks); the difference divided by the extra
chunks is the instruction count per chunk, without interpreter start-up and imports. Timings
on a shared machine swing with the load; instruction counts do not, so optimisations are
compared with these.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent))

from bench.micro import CHUNKS  # noqa: E402

DEFAULT_CASES = (
    "text:anthropic:pipeline",
    "text:openai:pipeline",
    "tool fragments:anthropic:pipeline",
    "thinking tags:anthropic:pipeline",
    "text:anthropic:streamed",
    "text:openai:streamed",
)
_REFS = re.compile(r"Collected : (\d+)")


def instructions(case: str, requests: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES))
    parser.add_argument("--small", type=int, default=10, help="requests in the first run")
    parser.add_argument("--large", type=int, default=60, help="requests in the second run")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
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

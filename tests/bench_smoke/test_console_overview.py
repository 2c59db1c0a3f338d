"""bench/console_overview.py on a small log: it seeds, serves, signs in and times the overview."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.timeout(180)
def test_the_overview_bench_runs_on_a_small_log() -> None:
    if not CHROMIUM.exists():
        pytest.skip("the bench drives Debian's Chromium (apt-get install -y chromium)")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "console_overview.py"),
            *("--rows", "2000", "--credentials", "3", "--runs", "1", "--ranges", "24h"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.split("cold drawn runs", 1)[1]
    assert table.split()[0] == "24h"  # a row of figures for the range asked

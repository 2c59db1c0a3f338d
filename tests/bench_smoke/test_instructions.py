"""bench/instructions.py --live: a gateway under callgrind, a handful of counted requests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("callgrind_control") is None,
    reason="valgrind is not installed",
)
def test_live_mode_counts_instructions_per_request(tmp_path: Path) -> None:
    out = tmp_path / "row.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "instructions.py"),
            "--live",
            "--setting",
            "single",
            "--target",
            "openai",
            "--requests",
            "3",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    row = json.loads(out.read_text())
    assert (row["target"], row["requests"], row["bad"]) == ("openai", 3, 0)
    # A streamed request costs about 2M instructions; a broken count is 0 or absurd.
    assert 100_000 < row["per_request"] < 50_000_000
    assert "instructions per request" in done.stdout


@pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("callgrind_control") is None,
    reason="valgrind is not installed",
)
def test_live_mode_with_the_operator_features_and_the_idle_count(tmp_path: Path) -> None:
    out = tmp_path / "row.json"
    command = [sys.executable, str(ROOT / "bench" / "instructions.py"), "--live", "--operator"]
    command += ["--setting", "single", "--requests", "3", "--idle", "0.5", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    row = json.loads(out.read_text())
    # The stored key answered (a refused key would make every request bad).
    assert (row["target"], row["operator"], row["requests"], row["bad"]) == (
        "anthropic",
        True,
        3,
        0,
    )
    assert 100_000 < row["per_request"] < 50_000_000
    assert row["idle_per_second"] > 0 and row["seconds"] > 0
    assert "anthropic operator:" in done.stdout and "idle:" in done.stdout


def test_live_mode_refuses_a_bad_request_count() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "instructions.py"), "--live", "--requests", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--requests must be positive" in done.stderr

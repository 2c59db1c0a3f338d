"""bench/soak.py for a few seconds: no errors, descriptors and tasks back at rest, a JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_a_short_soak_passes_and_reports_samples(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            *("--duration", "3", "--clients", "4", "--interval", "1"),
            *("--settle", "60", "--json", str(out)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout
    result = json.loads(out.read_text())
    assert result["errors"] == 0
    assert set(result["requests"]) == {"anthropic", "openai"}
    assert all(count > 0 for count in result["requests"].values())
    assert result["samples"] and all(s["fds"] and s["rss_mb"] for s in result["samples"])
    assert result["baseline"]["tasks"] is not None
    assert result["fds_back"] and result["tasks_back"]

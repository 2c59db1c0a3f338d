"""bench/metrics_cost.py runs every workload once (untimed assertions only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import metrics_cost


def test_every_workload_runs_and_reports_json(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    subprocess.run(
        [
            sys.executable,
            metrics_cost.__file__,
            "--requests",
            "3",
            "--rounds",
            "1",
            "--json",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = json.loads(out.read_text())
    assert set(result) == set(metrics_cost.WORKLOADS)
    assert all(row["us"] >= 0 for row in result.values())

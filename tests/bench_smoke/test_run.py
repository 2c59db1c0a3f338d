"""bench/run.py end to end, as small as it gets: real emulator, gateway and load generator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench import run

ROOT = Path(__file__).resolve().parents[2]


def test_run_drives_every_target_and_reports_json(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--settings",
            "single",
            "--concurrency",
            "2",
            "--requests",
            "4",
            "--targets",
            "direct,relay,anthropic,openai",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    cells = {cell["target"]: cell for cell in result["cells"]}
    assert set(cells) == {"direct", "relay", "anthropic", "openai"}
    for cell in cells.values():
        assert (cell["ok"], cell["errors"], cell["invalid"], cell["mismatched"]) == (4, 0, 0, 0)
    assert cells["anthropic"]["gateway_peak_rss_mb"] > 0
    assert "gateway_cpu_ms_per_req" in cells["openai"]
    assert "no errors" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--settings", "nope"], "unknown setting"),
        (["--targets", "nope"], "unknown target"),
        (["--concurrency", "0"], "at least 1"),
        (["--concurrency", "x"], "comma-separated integers"),
        (["--requests", "0"], "must be positive"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run.parse_args(argv)
    assert message in capsys.readouterr().err

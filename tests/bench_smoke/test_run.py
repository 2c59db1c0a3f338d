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


def test_tls_run_with_a_scale_level_reports_memory_per_open_stream(tmp_path: Path) -> None:
    out, tables = tmp_path / "result.json", tmp_path / "tables.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--tls", "--settings", "single",
         "--concurrency", "2,3", "--slow-from", "3", "--slow-delay", "0.05", "--requests", "4",
         "--targets", "direct,relay,anthropic,openai", "--json", str(out),
         "--markdown", str(tables)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    cells = {(cell["setting"], cell["target"]): cell for cell in result["cells"]}
    assert len(cells) == 8
    for cell in cells.values():
        assert cell["tls"] is True
        assert (cell["errors"], cell["invalid"], cell["mismatched"]) == (0, 0, 0)
    for target in ("relay", "anthropic", "openai"):
        scale = cells["slow", target]
        assert (scale["concurrency"], scale["ok"], scale["max_open"]) == (3, 3, 3)
        assert scale["rss_open_mb"] >= scale["rss_rest_mb"] > 0
        assert scale["stream_kib"] is not None
    assert "stream_kib" not in cells["slow", "direct"]
    checks = {(c["check"], c["mode"]) for c in result["checks"]}
    assert ("memory per open stream c=3 anthropic <= 64 KiB", "TLS") in checks
    assert ("c=3 openai: every stream answered, no errors", "TLS") in checks
    markdown = tables.read_text()
    assert "**Scale: slow streams all open at once" in markdown
    assert "| anthropic, TLS | 3 | 3/3 | 0 | 3 |" in markdown
    assert "| target | TLS |" in markdown  # the targets, one column per mode


def test_levels_from_slow_from_run_in_the_slow_setting_only() -> None:
    assert run.plan(["paced", "burst"], [1, 16, 1000], 1000) == [
        ("paced", [1, 16]),
        ("burst", [1, 16]),
        ("slow", [1000]),
    ]
    assert run.plan(["paced"], [1000], 1000) == [("slow", [1000])]
    assert run.plan(["slow"], [4], 1000) == [("slow", [4])]


def test_round3_is_every_target_at_every_level_plain_and_tls() -> None:
    args = run.parse_args(["--round3"])
    assert args.targets == ["direct", "relay", "anthropic", "openai"]
    assert args.concurrency == [1, 16, 128, 1000]
    assert args.modes == [False, True]
    assert args.upstream_connections == 1064  # every c=1000 stream gets its own connection
    assert [
        run.requests_for(args, s, c) for s, c in [("paced", 1), ("paced", 16), ("slow", 1000)]
    ] == [
        100,
        400,
        1000,
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--settings", "nope"], "unknown setting"),
        (["--targets", "nope"], "unknown target"),
        (["--concurrency", "0"], "at least 1"),
        (["--concurrency", "x"], "comma-separated integers"),
        (["--requests", "0"], "must be positive"),
        (["--slow-delay", "0"], "--slow-delay must be positive"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run.parse_args(argv)
    assert message in capsys.readouterr().err

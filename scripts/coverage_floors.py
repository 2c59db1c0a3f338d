"""Fail unless protocol/ and convert/ are fully covered (lines and branches) in the last run.

Reads the coverage data the test run left (``.coverage``; ``pytest`` collects it on every
run, see pyproject). The overall floor is ``fail_under`` in pyproject, which pytest-cov
checks itself; these packages may not fall below 100 %.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import coverage
from coverage.exceptions import NoDataError

ROOT = Path(__file__).resolve().parent.parent
FULL = ("protocol", "convert")  # packages under src/kirogate that stay at 100 %


def main() -> int:
    cov = coverage.Coverage(
        data_file=str(ROOT / ".coverage"), config_file=str(ROOT / "pyproject.toml")
    )
    cov.load()
    failures = 0
    for package in FULL:
        out = io.StringIO()
        try:
            percent = cov.report(
                include=[f"*/kirogate/{package}/*"], show_missing=True, skip_covered=True, file=out
            )
        except NoDataError:
            print(f"{package}/: no coverage data; run the whole suite first (pytest)")
            return 1
        if percent < 100:
            failures += 1
            print(f"{package}/ is at {percent:.2f} %, below its 100 % floor:")
            print(out.getvalue())
        else:
            print(f"{package}/: 100 %")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``--workers`` metrics directory, prepared by a supervisor that loads no prometheus_client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kirogate.metrics import fresh_directory


def test_fresh_directory_removes_the_last_runs_files(tmp_path: Path) -> None:
    old = tmp_path / "metrics"
    old.mkdir()
    (old / "counter_123.db").write_bytes(b"old")
    path = fresh_directory(tmp_path)
    assert path == old
    assert list(path.iterdir()) == []
    assert path.stat().st_mode & 0o777 == 0o700


def test_the_directory_loads_without_prometheus_client() -> None:
    code = (
        "import sys\n"
        "from kirogate.metrics import MULTIPROC_ENV, fresh_directory\n"
        "assert 'prometheus_client' not in sys.modules\n"
        "from kirogate.metrics import METRICS\n"
        "assert 'prometheus_client' in sys.modules and METRICS is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    import kirogate.metrics

    try:
        kirogate.metrics.NOT_A_METRIC  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NOT_A_METRIC" in str(exc)
    else:
        raise AssertionError("no AttributeError")

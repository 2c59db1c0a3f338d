"""Where ``--workers`` processes keep their metrics files: the variable and the directory.

Apart from :mod:`.multiprocess` so that the supervisor, which only prepares the directory,
does not load ``prometheus_client``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DIRECTORY = "metrics"


def fresh_directory(data_dir: Path) -> Path:
    """An empty ``<data dir>/metrics`` for this run's workers (last run's files removed)."""
    path = data_dir / DIRECTORY
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700, parents=True)
    return path

"""scripts/audit.py: reading the lock and matching advisories (no network here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
_spec = importlib.util.spec_from_file_location("audit", ROOT / "scripts" / "audit.py")
assert _spec is not None and _spec.loader is not None
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def test_pins_are_read_from_a_hashed_universal_lock(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# via kirogate\n"
        "Jinja2==2.10 \\\n    --hash=sha256:abc\n"
        'uvloop==0.23.0 ; sys_platform != "win32" \\\n'
        "uvicorn[standard]==0.55.0\n",
        encoding="utf-8",
    )
    assert audit.pins(lock) == {"jinja2": "2.10", "uvloop": "0.23.0", "uvicorn": "0.55.0"}


def test_the_project_lock_pins_every_dependency() -> None:
    pinned = audit.pins(ROOT / "requirements.lock")
    for name in ("fastapi", "uvicorn", "aiohttp", "sqlalchemy", "pytest", "ruff", "mypy"):
        assert name in pinned


def test_advisories_match_by_version_range() -> None:
    database = {
        "$meta": {"advisory": "metadata"},
        "Jinja2": [
            {"id": "pyup-1", "advisory": "old jinja", "specs": ["<2.11.3", "not a spec"]},
        ],
        "other": [{"id": "pyup-2", "advisory": "x", "specs": ["<1"]}],
    }
    pinned = {"jinja2": "2.10", "other": "3.0"}
    assert audit.safety_hits(database, pinned) == [("jinja2", "pyup-1", "old jinja")]
    assert audit.safety_hits(database, {"jinja2": "3.1.6"}) == []


_lock_spec = importlib.util.spec_from_file_location(
    "check_lock", ROOT / "scripts" / "check_lock.py"
)
assert _lock_spec is not None and _lock_spec.loader is not None
check_lock = importlib.util.module_from_spec(_lock_spec)
_lock_spec.loader.exec_module(check_lock)


def test_the_lock_check_names_missing_and_stale_pins() -> None:
    pyproject = {
        "project": {
            "dependencies": ["fastapi>=0.115", "uvloop>=0.19; sys_platform == 'nowhere'"],
            "optional-dependencies": {"test": ["ruff==0.17.6", "mypy==2.4.1"]},
        }
    }
    pinned = {"fastapi": "0.100", "ruff": "0.17.6"}
    assert check_lock.problems(pyproject, pinned) == [
        "fastapi: locked 0.100, wanted >=0.115",
        "mypy: not in requirements.lock",
    ]

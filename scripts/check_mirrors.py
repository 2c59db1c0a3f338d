"""Fail when a source module has no mirrored test module (see STYLE.md, "Mirror tests").

``src/kirogate/a/b.py`` is mirrored by ``tests/a/test_b.py`` and ``src/kirogate/c.py`` by
``tests/test_c.py``; package ``__init__.py`` files are not checked. The exceptions below are
patterns (``fnmatch``, relative to ``src/kirogate``), each with the reason its modules are
tested elsewhere. An exception that no longer excuses anything is an error too, so the list
only shrinks.
"""

from __future__ import annotations

import sys
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "kirogate"
TESTS = ROOT / "tests"

EXCEPTIONS = {
    "__main__.py": "three lines that call cli.main",
    "cli/*": "commands, tested by running them (tests/cli/, tests/e2e/)",
    "daemon.py": "tested with the emulator fixture of tests/cli/ in tests/cli/test_daemon.py",
    "convert/ir.py": "the IR's dataclasses; every tests/convert module builds and checks them",
    "doctor/*": "the checks are tested together through run_doctor in tests/test_doctor.py",
    "emulator/*": "the test double itself, driven through its routes in tests/emulator/",
    "settings/*": "tested through load_settings in tests/settings/test_loader.py",
    "store/migrations/*": "Alembic revisions, run by tests/store/test_migrate.py",
    "store/asyncio_engine.py": "the engine every tests/store module runs on",
    "store/base.py": "connection plumbing every tests/store module runs through",
    "store/schema.py": "table definitions every tests/store module creates",
}


def mirror(module: Path) -> Path:
    """``a/b.py`` -> ``tests/a/test_b.py``."""
    return TESTS / module.parent / f"test_{module.name}"


def check(modules: list[Path], existing: set[Path]) -> list[str]:
    failures = []
    used: set[str] = set()
    for module in modules:
        if mirror(module) in existing:
            continue
        excused = [p for p in EXCEPTIONS if fnmatch(module.as_posix(), p)]
        if excused:
            used.update(excused)
            continue
        test = mirror(module).relative_to(ROOT)
        failures.append(f"src/kirogate/{module.as_posix()}: no mirrored test module {test}")
    for pattern in EXCEPTIONS.keys() - used:
        failures.append(f"scripts/check_mirrors.py: exception {pattern!r} excuses nothing now")
    return failures


def main() -> int:
    modules = sorted(
        path.relative_to(SOURCE) for path in SOURCE.rglob("*.py") if path.name != "__init__.py"
    )
    existing = set(TESTS.rglob("test_*.py"))
    failures = check(modules, existing)
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Fail when code starts a task on an event loop object instead of through kirogate.tasks.spawn.

ruff's banned-api rule (TID251, see pyproject) catches ``asyncio.create_task`` and
``asyncio.ensure_future``; it cannot see a method called on a loop, so this catches
``asyncio.get_running_loop().create_task(...)`` and ``loop.create_task(...)``.
``TaskGroup.create_task`` stays allowed: its receiver is a group, not a loop.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("src", "bench")
ALLOWED = {Path("src/kirogate/tasks.py")}  # the one place that creates tasks
STARTERS = {"create_task", "ensure_future"}


def is_loop(node: ast.expr) -> bool:
    """Whether ``node`` evaluates to an event loop: a call (get_running_loop()) or a loop name."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name.endswith("_loop")
    if isinstance(node, ast.Attribute):
        return node.attr.endswith("loop")
    return isinstance(node, ast.Name) and node.id.endswith("loop")


def findings(path: Path, source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STARTERS
            and is_loop(node.func.value)
        ):
            found.append(f"{path}:{node.lineno}: use kirogate.tasks.spawn(coro, name=...)")
    return found


def main() -> int:
    failures = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel not in ALLOWED:
                failures += findings(rel, path.read_text(encoding="utf-8"))
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

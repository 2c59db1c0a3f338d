"""Fail when a module imports from a layer above its own (see STYLE.md)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "kirogate"
# Lower number = lower layer. A module may import its own layer or lower ones.
LAYERS = {
    "errors": 0,
    "caller": 0,
    "events": 0,
    "settings": 0,
    "types": 0,
    "log": 0,
    "tasks": 0,
    "metrics": 0,
    "__init__": 0,
    "protocol": 1,
    "convert": 2,
    "upstream": 3,
    "pool": 3,
    "store": 3,
    "emulator": 3,
    "cluster": 3,
    "service": 4,
    "api": 5,
    "admin": 5,
    "console": 5,
    "cli": 6,
    "serve": 6,
    "demo": 6,
    "doctor": 6,
    "daemon": 6,
    "__main__": 7,
}
# The emulator reuses the codec only, never the gateway's routes or converters.
# The routes and the command line change state only through the service's operations
# (service/operations.py), never by touching the store or the pool themselves; the API never
# parses upstream frames: the service's relay loop does.
_THROUGH_OPERATIONS = {"store", "pool"}
FORBIDDEN = {
    "emulator": {"api", "convert", "service", "pool", "store", "upstream"},
    "api": _THROUGH_OPERATIONS | {"protocol"},
    "admin": _THROUGH_OPERATIONS,
    "console": _THROUGH_OPERATIONS,
    "cli": _THROUGH_OPERATIONS,
}
# (file, imported module) pairs allowed despite FORBIDDEN, each with its reason (none today).
EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


def top(module: str) -> str:
    return module.split(".")[0]


def main() -> int:
    failures = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        own = top(".".join(rel.with_suffix("").parts))
        own_layer = LAYERS.get(own)
        if own_layer is None:
            failures.append(f"{rel}: module {own!r} has no layer in scripts/check_layers.py")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if not name.startswith("kirogate."):
                    continue
                target = top(name.removeprefix("kirogate."))
                layer = LAYERS.get(target, 99)
                forbidden = (
                    target in FORBIDDEN.get(own, ()) and (rel.as_posix(), name) not in EXCEPTIONS
                )
                if layer > own_layer or forbidden:
                    failures.append(f"{rel}:{node.lineno}: {own} imports {name}")
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

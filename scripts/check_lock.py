"""Fail when requirements.lock no longer satisfies pyproject.toml (run scripts/lock).

Every runtime and ``test`` dependency must be pinned in the lock at a version its
requirement in pyproject.toml allows.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from audit import pins  # noqa: E402


def problems(pyproject: dict[str, object], pinned: dict[str, str]) -> list[str]:
    project = pyproject["project"]
    assert isinstance(project, dict)
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    found = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            if requirement.marker is None or requirement.marker.evaluate():
                found.append(f"{requirement.name}: not in requirements.lock")
            continue
        if not requirement.specifier.contains(Version(pinned[name]), prereleases=True):
            found.append(
                f"{requirement.name}: locked {pinned[name]}, wanted {requirement.specifier}"
            )
    return found


def main() -> int:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = problems(pyproject, pins(ROOT / "requirements.lock"))
    for line in found:
        print(f"requirements.lock: {line} (run scripts/lock)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

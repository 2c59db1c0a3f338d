"""Audit the pinned dependencies in requirements.lock for known vulnerabilities.

``pip-audit`` asks PyPI's per-release JSON API, which the package registries these machines
reach do not serve; so this does the same with what they do serve:

1. the PyUp ``safety-db`` advisory database, fetched from PyPI as a package (pinned below,
   cached under ``~/.cache/kirogate-audit``), matched against every pin by version range;
2. PyPI's own advisories (OSV data) in each project's JSON document, which list what affects
   the project's newest release: they apply to every pin that is that release.

A pin older than its project's newest release is not covered by (2); ``--verbose`` lists
them. Exit status 1 when any pin has an advisory that is not in ALLOWED (with a reason).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
SAFETY_DB = "safety-db==2021.7.17"
CACHE = Path.home() / ".cache" / "kirogate-audit"
PYPI = "https://pypi.org/pypi/{name}/json"

# Advisory ids that do not apply to how kirogate uses the package, each with the reason.
ALLOWED: dict[str, str] = {}


def pins(lock: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of the lock file."""
    found = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        requirement = line.split(";")[0].split("\\")[0].strip()
        if "==" in requirement and not requirement.startswith("#"):
            name, _, version = requirement.partition("==")
            found[canonicalize_name(name.split("[")[0])] = version.strip()
    return found


def safety_db() -> dict[str, Any]:
    """The advisory database, downloaded once into the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("safety_db-*.whl"))
    if not wheels:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", SAFETY_DB]
        subprocess.run([*command, "-d", str(CACHE)], check=True)
        wheels = sorted(CACHE.glob("safety_db-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        data: dict[str, Any] = json.loads(wheel.read("safety_db/insecure_full.json"))
    return data


def safety_hits(database: dict[str, Any], pinned: dict[str, str]) -> list[tuple[str, str, str]]:
    hits = []
    for name, entries in database.items():
        version = pinned.get(canonicalize_name(name))
        if version is None or not isinstance(entries, list):
            continue
        for entry in entries:
            for spec in entry.get("specs") or ():
                try:
                    affected = Version(version) in SpecifierSet(spec)
                except InvalidSpecifier:
                    continue
                if affected:
                    hits.append((canonicalize_name(name), entry["id"], entry["advisory"][:160]))
                    break
    return hits


def pypi_document(name: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(PYPI.format(name=name), timeout=20) as response:
            document: dict[str, Any] = json.load(response)
            return document
    except OSError:
        return None


def pypi_hits(
    pinned: dict[str, str], verbose: bool
) -> tuple[list[tuple[str, str, str]], list[str]]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        documents = dict(zip(pinned, executor.map(pypi_document, pinned), strict=True))
    hits, unreachable = [], []
    for name, document in documents.items():
        if document is None:
            unreachable.append(name)
            continue
        newest = document["info"]["version"]
        if Version(pinned[name]) != Version(newest):
            if verbose:
                print(f"  {name} {pinned[name]}: newest is {newest}, not covered by PyPI's list")
            continue
        for vulnerability in document.get("vulnerabilities") or ():
            summary = (vulnerability.get("summary") or vulnerability.get("details") or "")[:160]
            hits.append((name, vulnerability["id"], summary))
    return hits, unreachable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    pinned = pins(args.lock)
    found = safety_hits(safety_db(), pinned)
    from_pypi, unreachable = pypi_hits(pinned, args.verbose)
    found += from_pypi
    if unreachable:
        print(f"audit: PyPI did not answer for {', '.join(unreachable)}", file=sys.stderr)
        return 1
    failing = [hit for hit in found if hit[1] not in ALLOWED]
    for name, advisory, summary in failing:
        print(f"{name}=={pinned[name]}: {advisory}: {summary}")
    print(
        f"audit: {len(pinned)} pins, {len(failing)} advisories ({len(found) - len(failing)} allowed)"
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())

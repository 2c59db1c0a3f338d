"""Fetch the console's front-end libraries from the npm registry into the package.

The console ships its few libraries as files (as Django's admin ships its JavaScript): nothing is
built, nothing is loaded from elsewhere at run time. This script is how those files got there:
each library is pinned below, its tarball fetched from registry.npmjs.org and checked against
the registry's sha512 integrity, the named files copied to ``src/kirogate/console/static/vendor``
with the library's licence, and ``vendor/VENDORED.json`` records name, version, licence,
tarball, integrity and the sha256 of every shipped file. Run it after changing a pin:

    python scripts/vendor_console.py

``--check`` (run by the tests, offline) only verifies that the shipped files match the record.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "src" / "kirogate" / "console" / "static" / "vendor"
RECORD = VENDOR / "VENDORED.json"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    files: dict[str, str]  # path in the tarball (under package/) -> shipped file name
    # (shipped file name, text, replacement): the only edits made, each recorded
    patches: tuple[tuple[str, str, str], ...] = field(default=())
    licence_file: str = "LICENSE"


LIBRARIES = (
    Library("preact", "11.2.0", {"dist/preact.mjs": "preact.mjs"}),
    Library(
        "preact-hooks",  # preact's own hooks, shipped inside the preact tarball
        "11.2.0",
        {"hooks/dist/hooks.mjs": "preact-hooks.mjs"},
        # Browsers resolve no bare specifiers without an import map (inline script, which the
        # console's CSP forbids): the hooks import preact by its shipped file name instead.
        patches=(("preact-hooks.mjs", 'from"preact"', 'from"./preact.mjs"'),),
    ),
    Library("htm", "3.1.1", {"dist/htm.mjs": "htm.mjs"}),
    Library(
        "uplot",
        "1.6.32",
        {"dist/uPlot.iife.min.js": "uPlot.iife.min.js", "dist/uPlot.min.css": "uPlot.min.css"},
    ),
)


def _package(library: Library) -> str:
    return "preact" if library.name == "preact-hooks" else library.name


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        data: bytes = response.read()
        return data


def fetch(library: Library) -> dict[str, object]:
    """Download, verify and unpack one library; its record for VENDORED.json."""
    package = _package(library)
    meta = json.loads(_get(f"{REGISTRY}/{package}/{library.version}"))
    tarball_url = meta["dist"]["tarball"]
    integrity = meta["dist"]["integrity"]
    tarball = _get(tarball_url)
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package} {library.version}: tarball does not match {integrity}")
    shipped: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        wanted = {**library.files, library.licence_file: f"{library.name}.LICENSE.txt"}
        for inner, name in wanted.items():
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{package}: no {inner} in {tarball_url}")
            data = member.read()
            for target, text, replacement in library.patches:
                if target == name:
                    if data.count(text.encode()) != 1:
                        raise SystemExit(f"{name}: patch {text!r} does not apply once")
                    data = data.replace(text.encode(), replacement.encode())
            (VENDOR / name).write_bytes(data)
            shipped[name] = hashlib.sha256(data).hexdigest()
    return {
        "name": library.name,
        "package": package,
        "version": library.version,
        "license": meta.get("license"),
        "tarball": tarball_url,
        "integrity": integrity,
        "files": shipped,
        "patches": [
            {"file": target, "from": text, "to": replacement}
            for target, text, replacement in library.patches
        ],
    }


def check() -> list[str]:
    """What differs between the shipped files and the record (empty: all match)."""
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    problems = []
    pins = {(lib.name, lib.version) for lib in LIBRARIES}
    for entry in record:
        if (entry["name"], entry["version"]) not in pins:
            problems.append(f"{entry['name']} {entry['version']}: recorded but not pinned here")
        for name, digest in entry["files"].items():
            path = VENDOR / name
            if not path.is_file():
                problems.append(f"{name}: recorded but missing")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                problems.append(f"{name}: differs from what {entry['name']} shipped")
    if len(record) != len(pins):
        problems.append("VENDORED.json and the pins above name different libraries")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify only (offline)")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    VENDOR.mkdir(parents=True, exist_ok=True)
    record = [fetch(library) for library in LIBRARIES]
    RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for entry in record:
        print(
            f"{entry['name']} {entry['version']} ({entry['license']}): {', '.join(entry['files'])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

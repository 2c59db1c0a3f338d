"""scripts/vendor_console.py: the shipped front-end files match what it recorded."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
_spec = importlib.util.spec_from_file_location(
    "vendor_console", ROOT / "scripts" / "vendor_console.py"
)
assert _spec is not None and _spec.loader is not None
vendor_console = importlib.util.module_from_spec(_spec)
sys.modules["vendor_console"] = vendor_console  # its dataclasses look their module up
_spec.loader.exec_module(vendor_console)


def test_the_shipped_files_match_the_record() -> None:
    assert vendor_console.check() == []
    assert vendor_console.main(["--check"]) == 0


def test_every_library_is_pinned_and_licensed() -> None:
    record = json.loads(vendor_console.RECORD.read_text(encoding="utf-8"))
    for entry in record:
        assert entry["version"] and entry["license"] in ("MIT", "Apache-2.0"), entry
        assert entry["integrity"].startswith("sha512-")
        assert entry["tarball"].startswith("https://registry.npmjs.org/")
        assert (vendor_console.VENDOR / f"{entry['name']}.LICENSE.txt").is_file()


def test_a_changed_file_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for path in vendor_console.VENDOR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "htm.mjs").write_text("tampered", encoding="utf-8")
    monkeypatch.setattr(vendor_console, "VENDOR", tmp_path)
    monkeypatch.setattr(vendor_console, "RECORD", tmp_path / "VENDORED.json")
    assert vendor_console.check() == ["htm.mjs: differs from what htm shipped"]
    assert vendor_console.main(["--check"]) == 1

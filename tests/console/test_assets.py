"""The console's files: found inside the package only, compressed, tagged."""

from __future__ import annotations

import gzip

import pytest

from kirogate.console.assets import STATIC_DIR, asset


def test_a_file_is_served_with_its_type_compressed_and_tagged() -> None:
    found = asset("app.js")
    assert found is not None
    assert found.media_type.startswith("text/javascript")
    assert found.gzipped is not None and gzip.decompress(found.gzipped) == found.body
    assert found.etag.startswith('"') and len(found.etag) == 34
    assert asset("app.js") is found  # read once


def test_vendored_files_are_served() -> None:
    for name in ("vendor/preact.mjs", "vendor/htm.mjs", "vendor/uPlot.iife.min.js"):
        assert asset(name) is not None, name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../__init__.py",
        "lib/../../assets.py",
        "/etc/passwd",
        "lib\\api.js",
        ".hidden.js",
        "lib//api.js",
        "nope.js",
        "vendor/VENDORED.json/x",
        "vendor/preact.LICENSE.exe",
    ],
)
def test_names_outside_the_folder_or_of_other_types_are_not_files(name: str) -> None:
    assert asset(name) is None


def test_every_file_in_the_folder_has_a_served_type() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            assert asset(path.relative_to(STATIC_DIR).as_posix()) is not None, path

"""The starter config of ``kirogate config init`` (``settings/starter.py``)."""

from __future__ import annotations

import re
from pathlib import Path

from kirogate.settings import SPECS, check_config_file
from kirogate.settings.starter import starter_config, toml_value

SETTING_LINE = re.compile(r"# ([a-z][a-z_0-9]*) = ")


def test_the_starter_lists_every_setting_once() -> None:
    names = SETTING_LINE.findall(starter_config())
    assert len(names) == len(SPECS)
    assert names == [spec.name for spec in SPECS]


def test_every_line_of_the_starter_uncommented_is_valid(tmp_path: Path) -> None:
    lines = starter_config().splitlines()
    uncommented = [line[2:] if SETTING_LINE.match(line) else line for line in lines]
    path = tmp_path / "all.toml"
    path.write_text("\n".join(uncommented), encoding="utf-8")
    checked = check_config_file(path)
    assert checked.valid, [str(e) for e in checked.errors]
    assert len(checked.values) == len(SPECS)


def test_toml_values() -> None:
    assert toml_value(True) == "true"
    assert toml_value(300.0) == "300"
    assert toml_value(0.25) == "0.25"
    assert toml_value(("a", 'b"')) == '["a", "b\\""]'
    assert toml_value(None) is None

"""``docs/emulator.md`` documents every scenario and flag, so the page cannot fall behind."""

from __future__ import annotations

from pathlib import Path

from kirogate.cli import build_parser
from kirogate.emulator.scenarios import SCENARIOS

DOC = Path(__file__).parents[2] / "docs" / "emulator.md"


def test_every_selectable_scenario_is_in_the_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in SCENARIOS if name != "unknown" and f"| `{name}` |" not in text]
    assert not missing


def test_every_emulator_flag_is_in_the_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    parser = build_parser("emulator")
    emulator = parser._subparsers._group_actions[0].choices["emulator"]  # type: ignore[union-attr]
    flags = [opt for action in emulator._actions for opt in action.option_strings
             if opt.startswith("--") and opt != "--help"]  # fmt: skip
    assert flags and all(f"`{flag}" in text or f"/{flag}" in text for flag in flags), flags


def test_the_cli_doc_links_to_an_existing_emulator_doc() -> None:
    cli_doc = (DOC.parent / "cli.md").read_text(encoding="utf-8")
    assert "(emulator.md)" in cli_doc and DOC.is_file()

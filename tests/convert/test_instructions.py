from __future__ import annotations

from kirogate.convert.instructions import place_system_text, render_instruction
from kirogate.convert.ir import Instruction


def test_system_text_before_the_conversation_joins_the_system_prompt() -> None:
    system = ["own"]
    assert place_system_text("later", started=False, system=system) is None
    assert system == ["own", "later"]


def test_system_text_after_the_start_keeps_its_position() -> None:
    system: list[str] = []
    assert place_system_text("be brief", started=True, system=system) == Instruction("be brief")
    assert system == []


def test_blank_system_text_is_dropped() -> None:
    system: list[str] = []
    assert place_system_text("  \n", started=False, system=system) is None
    assert place_system_text("", started=True, system=system) is None
    assert system == []


def test_an_instruction_is_rendered_as_a_marked_block() -> None:
    assert render_instruction("be brief") == (
        "<system_instruction>\nbe brief\n</system_instruction>"
    )

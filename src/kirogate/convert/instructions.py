"""System messages inside the conversation: one rule for every client dialect.

Anthropic's mid-conversation system messages (``{"role": "system"}`` items in ``messages``),
OpenAI Chat's ``system``/``developer`` messages and the Responses API's system/developer input
items all follow it:

- Before the first user or assistant message, the text joins the system prompt, after the
  request's own system text and in order.
- Later, it keeps its position: an :class:`~kirogate.convert.ir.Instruction` part in a user
  turn. The upstream has no system role inside its history, so the Kiro builder writes the
  instruction as a marked block into that user message, merged with any neighbouring user
  turn, and the history still alternates user/assistant.
"""

from __future__ import annotations

from typing import Final

from kirogate.convert.ir import Instruction

INSTRUCTION_OPEN: Final = "<system_instruction>"
INSTRUCTION_CLOSE: Final = "</system_instruction>"


def place_system_text(text: str, *, started: bool, system: list[str]) -> Instruction | None:
    """Apply the rule to one system message's ``text``.

    Before the conversation ``started`` the text is appended to ``system`` (blank text is
    dropped) and None comes back; afterwards the Instruction to put at the message's
    position comes back (None for blank text).
    """
    if not text.strip():
        return None
    if not started:
        system.append(text)
        return None
    return Instruction(text)


def render_instruction(text: str) -> str:
    """The marked block that carries a mid-conversation instruction in a user message."""
    return f"{INSTRUCTION_OPEN}\n{text}\n{INSTRUCTION_CLOSE}"

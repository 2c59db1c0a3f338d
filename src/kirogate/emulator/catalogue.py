"""The model catalogue: ids come from the shared validation rules, windows from spec data §3.6."""

from __future__ import annotations

from typing import Any, Final

from kirogate.protocol.validation import KNOWN_MODEL_IDS

MAX_OUTPUT_TOKENS: Final = 64_000
DEFAULT_WINDOW: Final = 200_000

# kiro.rs windows (the catalogue in JW's migration note agrees); others default to 200k.
_WINDOWS: Final[dict[str, int]] = {
    "auto": 1_000_000,
    "claude-sonnet-4.6": 1_000_000,
    "claude-opus-4.6": 1_000_000,
    "deepseek-3.2": 164_000,
    "minimax-m2.1": 196_000,
    "minimax-m2.5": 196_000,
    "qwen3-coder-next": 256_000,
}


def context_window(model_id: str) -> int:
    return _WINDOWS.get(model_id, DEFAULT_WINDOW)


def _display_name(model_id: str) -> str:
    words = model_id.replace("_", "-").split("-")
    return " ".join(word.capitalize() if word.isalpha() else word for word in words)


def model_entries() -> list[dict[str, Any]]:
    """``ListAvailableModels`` entries, sorted by id for a stable answer."""
    return [
        {
            "modelId": model_id,
            "modelName": _display_name(model_id),
            "description": f"{_display_name(model_id)} (kirogate emulator)",
            "supportedInputTypes": ["TEXT", "IMAGE"],
            "tokenLimits": {
                "maxInputTokens": context_window(model_id),
                "maxOutputTokens": MAX_OUTPUT_TOKENS,
            },
        }
        for model_id in sorted(KNOWN_MODEL_IDS)
    ]

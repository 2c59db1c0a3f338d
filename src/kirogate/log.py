"""Logging setup and the redaction filter (a safety net: secrets never go above DEBUG anyway)."""

from __future__ import annotations

import logging
import re

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(\"?(?:access|refresh)_?token\"?\s*[:=]\s*\"?)[^\s\",]{8,}"),
    re.compile(r"(?i)(\"?client_?secret\"?\s*[:=]\s*\"?)[^\s\",]{8,}"),
    re.compile(r"(?i)(\"?(?:x-)?api[-_]?key\"?\s*[:=]\s*\"?)[^\s\",]{6,}"),
    re.compile(r"()\b(?:aoa|aor)AAAA[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"()\bksk_[A-Za-z0-9_-]{6,}"),
]


def redact(text: str) -> str:
    """Replace anything that looks like a token, key or secret with ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}***", text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

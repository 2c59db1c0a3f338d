"""Request and response bodies as the request log records them (``log.bodies``): secrets and
images replaced, cut to a size.

A JSON body is walked: values under secret-looking names (``authorization``, ``api_key``,
``access_token``, ``password``...) become ``[redacted]``, base64 images (data URLs, an
Anthropic ``source.data``, any long base64 run) become a note of their size, and every other
string goes through the log's own secret patterns (:func:`kirogate.log.redact`: bearer
tokens, Kiro keys, URL passwords). Anything else (an event stream, a cut JSON) gets the
pattern pass and the base64 pass as text. The result is cut at ``limit`` bytes.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from kirogate.log import redact

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(
    r"(?i)^(?:x-)?(?:authorization|api[-_]?key|apikey|(?:access|refresh|id|session)[-_]?token|"
    r"token|secret|client[-_]?secret|password|passwd|cookie|set-cookie|bearer|credentials?|"
    r"kiro[-_]?api[-_]?key|refreshtoken|accesstoken|clientsecret)$"
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")
_DATA_URL = re.compile(r"(data:[\w.+/-]+;base64,)([A-Za-z0-9+/=\s]+)")
CUT_NOTE = "…[cut: {} bytes more]"


def _image_note(size: int) -> str:
    return f"[image: {size} base64 characters]"


def _clean_text(text: str) -> str:
    text = _DATA_URL.sub(lambda m: m.group(1) + _image_note(len(m.group(2))), text)
    text = _BASE64_RUN.sub(lambda m: _image_note(len(m.group())), text)
    return redact(text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if not isinstance(value, dict):
        return value
    base64_source = value.get("type") == "base64"
    cleaned: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(item, str) and _SECRET_NAME.match(name):
            cleaned[name] = REDACTED
        elif base64_source and name == "data" and isinstance(item, str):
            cleaned[name] = _image_note(len(item))
        else:
            cleaned[name] = _clean(item)
    return cleaned


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes, saying how much was cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    kept = raw[:limit].decode(errors="ignore")
    return kept + CUT_NOTE.format(len(raw) - len(kept.encode()))


def recorded_body(raw: bytes, limit: int, *, cut_before: int = 0) -> str:
    """``raw`` as the log keeps it: redacted, within ``limit`` bytes. ``cut_before``: how
    many bytes the capture already left out (said at the end)."""
    text = raw.decode(errors="replace")
    try:
        parsed = orjson.loads(raw) if not cut_before else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict | list):
        text = orjson.dumps(_clean(parsed)).decode()
    else:
        text = _clean_text(text)
    text = cut(text, limit)
    if cut_before and not text.endswith("]"):
        text += CUT_NOTE.format(cut_before)
    return text

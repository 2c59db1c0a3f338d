"""Checks for values the store is asked to keep; each failure is an :class:`InvalidRequest`
naming the field, so bad input never reaches the database as a driver error."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kirogate.errors import InvalidRequest

CREDENTIAL_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4")


def _bad(name: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{name}: {message}", param=name)


def non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(name, f"must be a non-negative integer, got {value!r}")
    return value


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"must be an integer, got {value!r}")
    return value


def optional_id(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _bad(name, f"must be a positive integer id or null, got {value!r}")
    return value


def positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise _bad(name, f"must be a positive number, got {value!r}")
    return float(value)


def non_negative_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise _bad(name, f"must be zero or more, got {value!r}")
    return float(value)


def optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, f"must be a finite number or null, got {value!r}")
    return float(value)


def optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(name, f"must be a string or null, got {type(value).__name__}")
    return value


def text_for(table: sa.Table, name: str, value: Any) -> str | None:
    """A string (or ``None``) that fits ``table``'s column ``name``."""
    text = optional_text(value, name)
    length = getattr(table.c[name].type, "length", None)
    if text is not None and length is not None and len(text) > length:
        raise _bad(name, f"longer than {length} characters")
    return text


def required_text(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, "must be a non-empty string")
    text: str = value.strip()
    if len(text) > max_length:
        raise _bad(name, f"longer than {max_length} characters")
    return text


def aware_datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise _bad(name, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad(name, "must be timezone-aware (UTC)")
    return value


def optional_aware_datetime(value: Any, name: str) -> datetime | None:
    return None if value is None else aware_datetime(value, name)


def optional_json(value: Any, name: str) -> Any:
    """Anything JSON can hold exactly (no NaN: PostgreSQL's json type refuses it)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _bad(name, f"cannot be stored as JSON ({exc})") from None
    return value


def optional_json_object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(name, f"must be an object or null, got {type(value).__name__}")
    result: dict[str, Any] = optional_json(value, name)
    return result


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise _bad(name, f"must be one of {', '.join(options)}, got {value!r}")
    return str(value)


def proxy_url_or_direct(value: Any, name: str) -> str:
    """A credential's proxy: ``direct`` (bypass the global proxy) or a proxy URL."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, "must be a proxy URL or 'direct'")
    url: str = value.strip()
    if url.lower() == "direct":
        return "direct"
    scheme = url.partition("://")[0].lower()
    if "://" not in url or scheme not in CREDENTIAL_PROXY_SCHEMES:
        schemes = ", ".join(f"{s}://" for s in CREDENTIAL_PROXY_SCHEMES)
        raise _bad(name, f"{url.split('@')[-1]!r}: use {schemes} or 'direct'")
    return url

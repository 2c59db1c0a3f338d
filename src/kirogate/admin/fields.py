"""Reading admin request bodies and query strings: each error names the field (a 400)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from kirogate.errors import InvalidRequest, NotFound
from kirogate.upstream.credentials import MAX_STORED_INT

_ID = re.compile(r"[0-9]{1,19}")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    kinds = {int: "a number", float: "a number", str: "a string", list: "an array"}
    return "null" if value is None else kinds.get(type(value), "an object")


def wrong(body: dict[str, Any], name: str, expected: str) -> InvalidRequest:
    got = f"got {_kind(body[name])}" if name in body else "it is missing"
    return InvalidRequest(f"field '{name}' must be {expected} ({got})", param=name)


def parse_credential_id(raw: str) -> int:
    if not _ID.fullmatch(raw):
        raise InvalidRequest(f"credential id {raw[:40]!r} is not a number", param="id")
    value = int(raw)
    if value > MAX_STORED_INT:  # no store holds it; PostgreSQL would refuse the query
        raise NotFound(f"credential #{value} not found")
    return value


def bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise wrong(body, name, "true or false")
    return value


def int_field(body: dict[str, Any], name: str, *, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong(body, name, "an integer")
    if not low <= value <= high:
        message = f"field '{name}' must be between {low} and {high}, got {value}"
        raise InvalidRequest(message, param=name)
    return value


def query_flag(request: Request, name: str, *, default: bool) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    if raw:
        raise InvalidRequest(f"query parameter '{name}' must be true or false", param=name)
    return default

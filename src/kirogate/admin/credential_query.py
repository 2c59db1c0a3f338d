"""The listing's filters and pages: ``?state=&q=&group=&limit=&offset=`` of
``GET /api/admin/credentials``. Without them the listing is kiro.rs's, whole."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from kirogate.errors import InvalidRequest
from kirogate.service.operations import Availability

MAX_LIMIT = 1000
_STATES = tuple(state.value for state in Availability)
_NUMBER = re.compile(r"[0-9]{1,9}")

LISTING_QUERY: dict[str, Any] = {
    "parameters": [
        {
            "name": "state",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": f"only these states, comma-separated: {', '.join(_STATES)}",
        },
        {
            "name": "q",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "text in the email, id or label (case-insensitive)",
        },
        {
            "name": "group",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "only the credentials of this group",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "description": "at most this many rows (total still counts every match)",
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
            "description": "skip this many matching rows",
        },
    ]
}


def _number(request: Request, name: str, *, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not _NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        message = f"query parameter '{name}' must be an integer from {low} to {high}"
        raise InvalidRequest(message, param=name)
    return int(raw)


@dataclass(frozen=True, slots=True)
class ListingQuery:
    states: frozenset[str] | None = None
    text: str | None = None
    group: str | None = None
    limit: int | None = None
    offset: int = 0

    @classmethod
    def of(cls, request: Request) -> ListingQuery:
        """The query string's filters; a bad one is a 400 naming the parameter."""
        states: frozenset[str] | None = None
        raw = request.query_params.get("state")
        if raw is not None and raw.strip():
            states = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
            unknown = sorted(states - set(_STATES))
            if unknown:
                message = f"state {unknown[0][:40]!r}: use {', '.join(_STATES)} (comma-separated)"
                raise InvalidRequest(message, param="state")
        text = (request.query_params.get("q") or "").strip().lower() or None
        group = (request.query_params.get("group") or "").strip() or None
        return cls(
            states=states,
            text=text,
            group=group,
            limit=_number(request, "limit", low=1, high=MAX_LIMIT),
            offset=_number(request, "offset", low=0, high=10**9 - 1) or 0,
        )

    def matches(self, row: dict[str, Any], members: Collection[int] | None) -> bool:
        """Whether a listing row passes the filters (``members``: the group's ids)."""
        if self.states is not None and row["state"] not in self.states:
            return False
        if members is not None and row["id"] not in members:
            return False
        if self.text is not None:
            haystack = [str(row["id"]), f"#{row['id']}", row.get("email"), row.get("label")]
            if not any(self.text in value.lower() for value in haystack if value):
                return False
        return True

    def page(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        end = None if self.limit is None else self.offset + self.limit
        return rows[self.offset : end]


def select_rows(
    rows: list[dict[str, Any]],
    query: ListingQuery,
    members: Collection[int] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every row passing the filters, and the requested page of them."""
    matching = [row for row in rows if query.matches(row, members)]
    return matching, query.page(matching)

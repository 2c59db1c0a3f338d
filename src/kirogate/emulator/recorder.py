"""A bounded log of the requests the emulator served, and counters per path and status."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RecordedRequest:
    seq: int
    time: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None when it is empty or not JSON
    body_bytes: int
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "bodyBytes": self.body_bytes,
            "status": self.status,
        }


class RequestLog:
    """The last ``limit`` requests (oldest first) plus lifetime counters until :meth:`clear`."""

    def __init__(self, limit: int = 1000) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=limit)
        self._seq = 0
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()

    def add(self, entry: RecordedRequest) -> RecordedRequest:
        self._seq += 1
        entry.seq = self._seq
        self._entries.append(entry)
        self._by_path[entry.path] += 1
        return entry

    def finish(self, entry: RecordedRequest, status: int) -> None:
        entry.status = status
        self._by_status[str(status)] += 1

    def next_seq(self) -> int:
        return self._seq + 1

    def entries(self, path: str | None = None) -> list[RecordedRequest]:
        return [entry for entry in self._entries if path is None or entry.path == path]

    def stats(self) -> dict[str, Any]:
        return {
            "total": self._seq,
            "byPath": dict(sorted(self._by_path.items())),
            "byStatus": dict(sorted(self._by_status.items())),
        }

    def count(self, path: str) -> int:
        return self._by_path[path]

    def clear(self) -> None:
        self._entries.clear()
        self._seq = 0
        self._by_path.clear()
        self._by_status.clear()

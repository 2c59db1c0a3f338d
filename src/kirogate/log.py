"""Logging setup: text or JSON lines, an optional 0600 log file, the request id on every line.

:func:`setup_logging` installs one handler (stderr, or the log file) on the root logger and
routes uvicorn's loggers through it. Every handler carries :class:`RedactingFilter` (a
safety net: secrets never go above DEBUG anyway) and :class:`RequestIdFilter`, which reads
:data:`REQUEST_ID` - set per request by ``api/middleware.py`` - into ``record.request_id``.

JSON lines hold ``ts``, ``level``, ``logger``, ``message``, ``request_id`` and every
``extra={...}`` field of the call, for example the access log's ``status`` and
``duration_ms``.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from kirogate.errors import ConfigError

# The current request's id; ``None`` outside a request (startup, background jobs).
REQUEST_ID: ContextVar[str | None] = ContextVar("kirogate_request_id", default=None)

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-5s %(name)s [%(request_id)s]: %(message)s"
NO_REQUEST = "-"
_OURS = "_kirogate_handler"
# Loggers that install their own handlers; routed through ours instead.
_FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(\"?(?:access|refresh)_?token\"?\s*[:=]\s*\"?)[^\s\",]{8,}"),
    re.compile(r"(?i)(\"?client_?secret\"?\s*[:=]\s*\"?)[^\s\",]{8,}"),
    re.compile(r"(?i)(\"?(?:x-)?api[-_]?key\"?\s*[:=]\s*\"?)[^\s\",]{6,}"),
    re.compile(r"()\b(?:aoa|aor)AAAA[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"()\bksk_[A-Za-z0-9_-]{6,}"),
    # The password of a URL: http://user:secret@proxy:8080, postgresql://u:secret@db/x.
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)"),
]
# Library loggers whose DEBUG lines carry bound SQL parameters (aiosqlite logs every call
# with its arguments): kept at INFO even when kirogate runs at DEBUG.
_CHATTY_LOGGERS = ("aiosqlite",)
# LogRecord attributes that are not ``extra`` fields (uvicorn adds an ANSI-coloured copy
# of its messages as ``color_message``).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
    "color_message",
}


# C0 and C1 control characters and DEL, tab excepted: an ANSI escape or a CR/LF inside an
# admin-supplied value (an email, a label) must not recolour a terminal or forge a log line.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """Write every control character but tab as a visible escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


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


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from :data:`REQUEST_ID` unless the call passed one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or NO_REQUEST
        return True


class TextFormatter(logging.Formatter):
    """The classic one-line format; control characters in the message are escaped (so a
    line is one line), tracebacks are redacted too."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = escape_controls(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        # The message was cleaned by RedactingFilter; a traceback (possibly cached on the
        # record by another handler) was not.
        if record.exc_info or record.exc_text or record.stack_info:
            return redact(text)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra`` fields are added, string ones redacted."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id in (None, NO_REQUEST) else request_id,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                payload[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            payload["exc"] = redact(record.exc_text)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(payload, default=_json_default).decode("utf-8")


def _json_default(value: object) -> str:
    return redact(str(value))


class PrivateFileHandler(logging.handlers.WatchedFileHandler):
    """Appends to a file created 0600 and reopens it when logrotate moves it away."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):  # not ours to change (e.g. /dev/stdout)
            os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def open_log_file(path: Path) -> logging.Handler:
    """A handler appending to ``path`` (created 0600, parent directories 0700)."""
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return PrivateFileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot open log file {path}: {exc.strerror or exc}") from exc


def setup_logging(
    level: str = "info", *, fmt: str = "text", file: Path | None = None
) -> logging.Handler:
    """Send every log record (kirogate's, uvicorn's, libraries') to one handler.

    ``fmt`` is ``text`` or ``json``; with ``file`` the lines go to that file instead of
    stderr. Calling it again replaces the handler it installed before. Raises :class:`ConfigError` for an
    unknown level or format and for a log file that cannot be opened.
    """
    if level.lower() not in LEVELS:
        raise ConfigError(f"log level {level!r}: choose one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ConfigError(f"log format {fmt!r}: choose text or json")
    handler = open_log_file(file) if file is not None else logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        # Replace what an earlier call installed; keep foreign handlers (pytest's capture).
        if getattr(old, _OURS, False):
            root.removeHandler(old)
            old.close()
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _CHATTY_LOGGERS:
        chatty = logging.getLogger(name)
        if chatty.level == logging.NOTSET or chatty.level < logging.INFO:
            chatty.setLevel(logging.INFO)
    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
        foreign.disabled = False  # a dictConfig (alembic's fileConfig) may have disabled it
        foreign.setLevel(logging.NOTSET)  # ours decides; uvicorn sets its own level after us
    return handler

"""Logging setup: text and JSON lines, request ids, redaction, the 0600 log file."""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kirogate.errors import ConfigError
from kirogate.log import (
    REQUEST_ID,
    JsonFormatter,
    RedactingFilter,
    RequestIdFilter,
    TextFormatter,
    redact,
    setup_logging,
)

SECRET = "aorAAAAAGsecretrefresh" + "x" * 40


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    foreign = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, (old, propagate) in foreign.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = old
        logger.propagate = propagate


def capture(fmt: str) -> tuple[logging.Handler, io.StringIO]:
    """setup_logging's handler, re-pointed at a buffer."""
    handler = setup_logging("debug", fmt=fmt)
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    return handler, buffer


def json_lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_text_lines_show_the_request_id_or_a_dash() -> None:
    _, buffer = capture("text")
    log = logging.getLogger("kirogate.test")
    log.info("outside")
    token = REQUEST_ID.set("req-abc")
    try:
        log.info("inside")
    finally:
        REQUEST_ID.reset(token)
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("INFO  kirogate.test [-]: outside")
    assert second.endswith("INFO  kirogate.test [req-abc]: inside")


def test_json_lines_hold_the_standard_fields_and_extras() -> None:
    _, buffer = capture("json")
    token = REQUEST_ID.set("req-json")
    try:
        logging.getLogger("kirogate.access").info(
            "GET / 200", extra={"status": 200, "duration_ms": 1.5, "path": "/"}
        )
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("kirogate.other").warning("no request %d", 7)
    first, second = json_lines(buffer)
    assert first["level"] == "INFO"
    assert first["logger"] == "kirogate.access"
    assert first["message"] == "GET / 200"
    assert first["request_id"] == "req-json"
    assert first["status"] == 200
    assert first["duration_ms"] == 1.5
    assert first["path"] == "/"
    assert str(first["ts"]).endswith("Z")
    assert second["request_id"] is None
    assert second["message"] == "no request 7"


@pytest.mark.shows_secret  # logs a secret to prove the line is redacted
def test_json_redacts_messages_extras_and_tracebacks() -> None:
    _, buffer = capture("json")
    log = logging.getLogger("kirogate.test")
    log.info("refresh_token=%s", SECRET, extra={"body": f"Bearer {SECRET}"})
    try:
        raise ValueError(f"refresh token {SECRET} rejected")
    except ValueError:
        log.exception("refresh failed")
    text = buffer.getvalue()
    assert SECRET not in text
    first, second = json_lines(buffer)
    assert first["message"] == "refresh_token=***"
    assert first["body"] == "Bearer ***"
    assert "ValueError" in str(second["exc"])


@pytest.mark.shows_secret  # logs a secret to prove the line is redacted
def test_text_redacts_tracebacks() -> None:
    _, buffer = capture("text")
    try:
        raise RuntimeError(f"token {SECRET}")
    except RuntimeError:
        logging.getLogger("kirogate.test").exception("boom")
    assert SECRET not in buffer.getvalue()
    assert "RuntimeError" in buffer.getvalue()


def test_json_handles_values_it_cannot_serialise() -> None:
    _, buffer = capture("json")
    logging.getLogger("kirogate.test").info("odd", extra={"where": Path("/tmp/x"), "n": {1, 2}})
    [line] = json_lines(buffer)
    assert line["where"] == "/tmp/x"
    assert line["n"] in ("{1, 2}", "{2, 1}")


def test_every_handler_carries_the_filters() -> None:
    handler = setup_logging("info")
    kinds = {type(f) for f in handler.filters}
    assert {RedactingFilter, RequestIdFilter} <= kinds


def test_log_file_is_created_0600_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "kirogate.log"
    handler = setup_logging("info", fmt="json", file=path)
    logging.getLogger("kirogate.test").info("first")
    handler.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    handler = setup_logging("info", fmt="json", file=path)
    logging.getLogger("kirogate.test").info("second")
    handler.flush()
    messages = [json.loads(line)["message"] for line in path.read_text().splitlines()]
    assert messages == ["first", "second"]


def test_existing_log_file_is_tightened_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "kirogate.log"
    path.write_text("old line\n")
    path.chmod(0o644)
    handler = setup_logging("info", file=path)
    logging.getLogger("kirogate.test").info("new")
    handler.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("old line\n")


def test_log_file_reopens_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "kirogate.log"
    handler = setup_logging("info", file=path)
    logging.getLogger("kirogate.test").info("before")
    path.rename(tmp_path / "kirogate.log.1")
    logging.getLogger("kirogate.test").info("after")
    handler.flush()
    assert "after" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unopenable_log_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open log file"):
        setup_logging("info", file=tmp_path)  # a directory


@pytest.mark.parametrize(("level", "fmt"), [("loud", "text"), ("info", "xml")])
def test_bad_level_or_format_is_a_config_error(level: str, fmt: str) -> None:
    with pytest.raises(ConfigError, match="choose"):
        setup_logging(level, fmt=fmt)


def test_uvicorn_logs_go_through_our_handler() -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
    _, buffer = capture("json")
    logging.getLogger("uvicorn.error").info(
        "Started server process", extra={"color_message": "Started \x1b[36mserver\x1b[0m"}
    )
    [line] = json_lines(buffer)
    assert line["logger"] == "uvicorn.error"
    assert "color_message" not in line
    assert not logging.getLogger("uvicorn.error").handlers


def test_calling_again_replaces_our_handler_and_keeps_foreign_ones() -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    first = setup_logging("info")
    second = setup_logging("warning", fmt="json")
    handlers = logging.getLogger().handlers
    assert second in handlers
    assert first not in handlers
    assert foreign in handlers
    assert logging.getLogger().level == logging.WARNING


def test_the_original_call_still_works() -> None:
    handler = setup_logging("info")
    assert isinstance(handler.formatter, TextFormatter)
    assert logging.getLogger().level == logging.INFO


def test_explicit_request_id_in_extra_wins() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "m", None, None)
    record.request_id = "given"
    RequestIdFilter().filter(record)
    assert record.request_id == "given"
    assert json.loads(JsonFormatter().format(record))["request_id"] == "given"


def test_redact_masks_known_secret_shapes() -> None:
    assert redact(f"Authorization: Bearer {SECRET}") == "Authorization: Bearer ***"
    assert "ksk_abcdef123" not in redact("key ksk_abcdef123456")


def test_redact_masks_the_password_of_a_url() -> None:
    text = redact("via http://alice:s3cret-pass@proxy:8080 and postgresql://kg:pw1@db/kg")
    assert "s3cret-pass" not in text and "pw1" not in text
    assert "http://alice:***@proxy:8080" in text


def test_setup_logging_keeps_aiosqlite_debug_lines_out(tmp_path: Path) -> None:
    setup_logging("debug", file=tmp_path / "log.txt")
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)


def test_text_escapes_control_characters_in_messages() -> None:
    _, buffer = capture("text")
    log = logging.getLogger("kirogate.test")
    log.info("credential added email=%s", "evil\x1b[31m@x.example\r\nFAKE line\x07\x9b")
    (line,) = buffer.getvalue().splitlines()
    assert "\x1b" not in line and "\x07" not in line and "\x9b" not in line
    assert line.endswith(r"email=evil\x1b[31m@x.example\r\nFAKE line\x07\x9b")


def test_text_keeps_traceback_lines() -> None:
    _, buffer = capture("text")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("kirogate.test").exception("failed\tonce")
    lines = buffer.getvalue().splitlines()
    assert lines[0].endswith("failed\tonce")
    assert lines[-1] == "ValueError: boom"

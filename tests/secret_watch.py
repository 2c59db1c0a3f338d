"""A pytest plugin: no secret the suite uses may appear in a log line, a CLI output or an admin answer.

What it knows as secrets (:class:`SecretScanner`):

- every module-level string constant of a ``tests.*`` module whose name says it is one
  (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*KEY*``, ``REFRESH*``, ``ACCESS*``, ...;
  tuples and lists of them too), read once collection is done;
- every access token, refresh token and OIDC client secret the in-process emulator issues;
- the emulator's token shapes (``aoaAAAAAG``/``aorAAAAAG`` + random), for emulators that run
  as subprocesses;
- anything a test registers with :func:`secret`.

What it reads (:func:`watch_text` is the one door): every log record (a root handler,
message and traceback, before any redaction filter), what ``capsys``/``capfd`` hand back
(the CLI tests' output) and what a test printed, the body of every admin API answer of an
in-process app and every one an ``aiohttp`` client reads from a gateway process, the output of ``subprocess.run`` and of the gateways ``tests/live.py``
starts, and at the end every ``*.log`` file under the session's temporary directory.

A text leaks when it holds a secret whole (secrets shorter than :data:`PIECE`) or any
:data:`PIECE`-character piece of one (longer secrets); pieces of fewer than
:data:`MIN_DISTINCT` different characters (``"rrrr..."`` in a test token) are no one's
fingerprint and are skipped. Texts are checked when each test ends and dropped; a leak
fails the session and is listed with the test and the source. A test that shows a secret
on purpose (a key shown once on creation) says so with ``@pytest.mark.shows_secret``.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PIECE = 24  # a piece of a secret this long is a leak
MIN_LENGTH = 8  # shorter constants are words, not secrets
MIN_DISTINCT = 5  # a piece with fewer distinct characters is filler, not a fingerprint
_CHUNK = PIECE // 2  # every PIECE-long occurrence holds one whole chunk at a chunk boundary

_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|(^|_)KEYS?($|_)|^REFRESH|^ACCESS|CREDENTIAL_VALUE)"
)
_NOT_SECRET_NAME = re.compile(r"(ENV|NAME|PREFIX|PATH|FILE|URL_TEMPLATE|HEADER|FIELD|TTL)")
# Messages and snake_case field names are not secrets, whatever their constant is called.
_NOT_SECRET_VALUE = re.compile(r"\s|^[a-z]+(_[a-z]+)+$")
# Tokens issued by an emulator in another process (see kirogate.emulator.state).
_EMULATOR_TOKEN = re.compile(r"(?:aoa|aor)AAAAAG[0-9A-Za-z]{15}|eyJraWQiOiJrZXktM[0-9A-Za-z]{7}")


@dataclass(frozen=True, slots=True)
class Leak:
    test: str
    source: str
    secret: str
    at: int

    def describe(self) -> str:
        shown = f"{self.secret[:6]}...({len(self.secret)} chars)"
        return f"{self.test}: {self.source} holds secret {shown} at offset {self.at}"


class SecretScanner:
    """The secrets, and where in a text one (or a piece of one) appears."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self._short: set[str] = set()
        self._chunks: dict[str, list[str]] = {}  # chunk -> the long secrets holding it
        self._pieces: set[str] = set()

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) < MIN_LENGTH or value in self.secrets:
            return
        self.secrets.add(value)
        if len(value) < PIECE:
            self._short.add(value)
            return
        for start in range(len(value) - PIECE + 1):
            piece = value[start : start + PIECE]
            if len(set(piece)) >= MIN_DISTINCT:
                self._pieces.add(piece)
        for start in range(len(value) - _CHUNK + 1):
            self._chunks.setdefault(value[start : start + _CHUNK], []).append(value)

    def find(self, text: str) -> Iterator[tuple[str, int]]:
        """``(secret, offset)`` for each secret (or piece of one) in ``text``."""
        for secret in self._short:
            at = text.find(secret)
            if at >= 0:
                yield secret, at
        match = _EMULATOR_TOKEN.search(text)
        if match is not None:
            yield match.group(), match.start()
        if not self._pieces or len(text) < PIECE:
            return
        chunks, pieces = self._chunks, self._pieces
        for start in range(0, len(text) - _CHUNK + 1, _CHUNK):
            owners = chunks.get(text[start : start + _CHUNK])
            if owners is None:
                continue
            # A piece holding this chunk starts at most PIECE - CHUNK characters before it.
            for at in range(max(0, start - PIECE + _CHUNK), start + 1):
                if text[at : at + PIECE] in pieces:
                    piece = text[at : at + PIECE]
                    yield next(s for s in owners if piece in s), at
                    return


class Watch:
    """Texts of the running test, checked when it ends; the leaks found so far."""

    def __init__(self) -> None:
        self.scanner = SecretScanner()
        self.test = "session"
        self.allowed = False
        self.texts: list[tuple[str, str]] = []
        self.leaks: list[Leak] = []
        self.active = False

    def record(self, text: str | bytes | None, source: str) -> None:
        if not self.active or not text or self.allowed:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.texts.append((source, text))

    def check(self) -> None:
        texts, self.texts = self.texts, []
        seen: set[tuple[str, str]] = set()
        for source, text in texts:
            for found, at in self.scanner.find(text):
                if (source, found) not in seen:
                    seen.add((source, found))
                    self.leaks.append(Leak(self.test, source, found, at))


WATCH = Watch()


def secret(value: str) -> str:
    """Register ``value`` as a secret of the suite and return it (for values built in a test)."""
    WATCH.scanner.add(value)
    return value


def watch_text(text: str | bytes | None, source: str) -> None:
    """Have ``text`` (an output the suite produced) checked for secrets when the test ends."""
    WATCH.record(text, source)


def constants(namespace: dict[str, Any]) -> Iterator[str]:
    """The string constants of a module namespace whose names say they are secrets."""
    for name, value in namespace.items():
        if not name.isupper() or not _SECRET_NAME.search(name) or _NOT_SECRET_NAME.search(name):
            continue
        values: Iterable[object] = value if isinstance(value, tuple | list | frozenset) else [value]
        for item in values:
            if isinstance(item, str) and not _NOT_SECRET_VALUE.search(item):
                yield item


# ---------------------------------------------------------------- sources


class _RecordHandler(logging.Handler):
    """Every log record, formatted as a line would be (message and traceback), unredacted."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                text += "\n" + self._formatter.formatException(record.exc_info)
            elif record.exc_text:
                text += "\n" + record.exc_text
        except Exception:  # a broken record is the logging module's business, not ours
            return
        WATCH.record(text, f"log {record.name}")


_HANDLER = _RecordHandler()


def _wrap(
    owner: Any, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    setattr(owner, name, wrapper(getattr(owner, name)))


def _install_hooks() -> None:
    from _pytest.capture import CaptureFixture

    def readouterr(original: Callable[..., Any]) -> Callable[..., Any]:
        def read(self: Any) -> Any:
            captured = original(self)
            WATCH.record(captured.out if isinstance(captured.out, str | bytes) else None, "output")
            WATCH.record(captured.err if isinstance(captured.err, str | bytes) else None, "output")
            return captured

        return read

    _wrap(CaptureFixture, "readouterr", readouterr)

    def run(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            WATCH.record(result.stdout, "subprocess output")
            WATCH.record(result.stderr, "subprocess output")
            return result

        return wrapped

    _wrap(subprocess, "run", run)

    from kirogate.emulator.state import EmulatorState

    def issued(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            value = original(*args, **kwargs)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, str):
                    WATCH.scanner.add(item)
            return value

        return wrapped

    for method in ("issue_access_token", "issue_refresh_token", "register_client"):
        _wrap(EmulatorState, method, issued)

    from kirogate.admin.auth import AdminRoute

    def route_handler(original: Callable[..., Any]) -> Callable[..., Any]:
        def get(self: Any) -> Any:
            handler = original(self)

            async def answered(request: Any) -> Any:
                response = await handler(request)
                body = getattr(response, "body", None)
                if isinstance(body, bytes):
                    WATCH.record(body, f"admin answer {request.method} {request.url.path}")
                return response

            return answered

        return get

    _wrap(AdminRoute, "get_route_handler", route_handler)

    import aiohttp

    def read(original: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapped(self: Any) -> Any:
            body = await original(self)
            if "/api/admin" in self.url.path:  # a gateway in another process answered
                WATCH.record(body, f"admin answer {self.method} {self.url.path}")
            return body

        return wrapped

    _wrap(aiohttp.ClientResponse, "read", read)


# ---------------------------------------------------------------- pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "shows_secret: the test shows a secret on purpose (a key shown once); its outputs "
        "are not checked by tests/secret_watch.py",
    )
    _install_hooks()
    WATCH.active = True


def pytest_collection_finish(session: pytest.Session) -> None:
    for name, module in list(sys.modules.items()):
        if name.startswith("tests.") and module is not None:
            for value in constants(vars(module)):
                WATCH.scanner.add(value)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    WATCH.test = item.nodeid
    WATCH.allowed = item.get_closest_marker("shows_secret") is not None
    yield
    WATCH.check()
    WATCH.allowed = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)  # again, in case a test replaced the root's handlers
    yield


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Each phase's report repeats the sections of the phases before it.
    for title, text in report.sections:
        if title.startswith("Captured std") and title.endswith(report.when):
            WATCH.record(text, title.lower())


def pytest_sessionfinish(session: pytest.Session) -> None:
    WATCH.test = "session end"
    base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    for path in sorted(Path(base).rglob("*.log")):
        try:
            WATCH.record(path.read_bytes(), f"log file {path.relative_to(base)}")
        except OSError:
            continue
    WATCH.check()
    logging.getLogger().removeHandler(_HANDLER)
    if WATCH.leaks and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not WATCH.leaks:
        return
    terminalreporter.section("secrets in outputs (tests/secret_watch.py)", red=True)
    for leak in WATCH.leaks:
        terminalreporter.write_line(leak.describe())

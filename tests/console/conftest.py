"""Browser tests of the console: Playwright driving Debian's Chromium against a live gateway.

- ``console_stack`` (per module): an emulator and ``kirogate serve`` with an admin key;
- ``browser`` (per module): ``/usr/bin/chromium`` (``KIROGATE_CHROMIUM`` to point elsewhere),
  never a downloaded build; the module is skipped when neither is installed outside CI;
- ``console`` (per test): a fresh page watched for console errors and failed requests (any is
  a failure unless the test allowed it with ``console.allow(path, status)``), signed in;
- ``console.check_accessibility()`` runs axe-core (from ``tests/clients/node_modules``) and
  fails on any serious or critical violation;
- ``console.shoot(name)`` writes light and dark screenshots at desktop and phone width to
  ``console-screenshots/`` (``KIROGATE_SCREENSHOTS`` to write elsewhere; not committed);
- ``watched_console(browser, stack)``: the same watched page for another module's own stack;
- ``admin_api(stack, ...)`` calls the operator API with the admin key and ``ask(stack, ...)``
  sends one /v1/messages request with the client key, outside the browser (seeding, checking);
- ``sdk`` (per test): openai SDK clients of the gateway with a given key.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import openai
import pytest

from tests.live import LiveStack, live_stack

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("KIROGATE_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "clients" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("KIROGATE_SCREENSHOTS", ROOT / "console-screenshots"))
ADMIN_KEY = "console-admin-key-0123456789"
# A signed-in page's heading (the sign-in page's own h1 is not in main.content).
SHELL_HEADING = "main.content h1"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# Chromium's own words for a response with an error status: the request is judged by its
# status in `failures`, not twice.
_RESOURCE_ERROR = re.compile(r"Failed to load resource: the server responded with a status of")
MODEL = "claude-sonnet-4-6"


def _needs_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module: Playwright's synchronous driver holds an event loop while it
    runs, which would break every asyncio test collected after it if it lived for the session."""
    _needs_browser()
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(
        tmp_path_factory.mktemp("console"), serve_args=["--admin-key", ADMIN_KEY]
    ) as stack:
        yield stack


@dataclass
class Console:
    """A page of the console, watched: every console error and failed request is kept."""

    page: Any
    stack: LiveStack
    errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    allowed: list[tuple[str, int]] = field(default_factory=list)

    def allow(self, path: str, status: int) -> None:
        """A response the test expects to fail (a wrong key's 401): not counted."""
        self.allowed.append((path, status))

    def url(self, page: str = "") -> str:
        return f"{self.stack.base_url}/admin{'/' + page if page else ''}"

    def open(self, page: str = "") -> None:
        """Go to a console page and wait until it has drawn (its heading is shown)."""
        self.page.goto(self.url(page))
        self.page.wait_for_selector(SHELL_HEADING)
        self.page.wait_for_load_state("networkidle")

    def sign_in(self, key: str = ADMIN_KEY) -> None:
        self.page.goto(self.url())
        self.page.get_by_label("Admin key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        if key == ADMIN_KEY:  # the overview it lands on has drawn (the sign-in page has an
            self.page.wait_for_selector(SHELL_HEADING)  # h1 too: wait for the shell's)

    def check_accessibility(self) -> None:
        """axe-core over the page as it is now: no serious or critical violation."""
        if not AXE.exists():
            message = f"{AXE} is missing: npm ci --prefix tests/clients installs axe-core"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not bad, f"accessibility violations on {self.page.url}: {bad}"

    def set_theme(self, theme: str) -> None:
        self.page.evaluate(
            "theme => { localStorage.setItem('kirogate.theme', theme);"
            " document.documentElement.dataset.theme = theme;"
            " window.dispatchEvent(new Event('kirogate-theme')); }",
            theme,
        )

    def shoot(self, name: str) -> None:
        """Screenshots of the page as it is: light and dark, desktop and phone width."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        before = self.page.viewport_size or DESKTOP
        for theme in ("light", "dark"):
            self.set_theme(theme)
            for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
                self.page.set_viewport_size(size)
                self.page.wait_for_timeout(150)
                self.page.screenshot(
                    path=str(SCREENSHOTS / f"{name}-{theme}-{label}.png"), full_page=True
                )
        self.page.set_viewport_size(before)
        self.set_theme("light")

    def assert_clean(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.failures, f"failed requests: {self.failures}"
        missing = self.page.evaluate(
            "() => window.kirogateI18n ? window.kirogateI18n.missingTranslations() : null"
        )
        if missing is not None:
            assert missing == {"zh": [], "en": [], "unknown": []}, f"untranslated: {missing}"


def watch(page: Any, console: Console) -> None:
    def on_console(message: Any) -> None:
        if message.type == "error" and not _RESOURCE_ERROR.search(message.text):
            console.errors.append(message.text)

    def on_response(response: Any) -> None:
        if response.status < 400:
            return
        path = response.url.split("//", 1)[-1].split("/", 1)[-1]
        path = "/" + path.split("?", 1)[0]
        if any(
            path == allowed and response.status == status for allowed, status in console.allowed
        ):
            return
        console.failures.append(f"{response.status} {response.request.method} {response.url}")

    def on_failed(request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:
            return  # cancelled by the browser (the page moved on) or by the page (stop)
        console.failures.append(f"{request.method} {request.url}: {failure}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)


@contextmanager
def watched_console(
    browser: Any, stack: LiveStack, *, signed_in: bool = False
) -> Iterator[Console]:
    """A watched page of ``stack`` (English, light theme, desktop size), signed in if asked;
    clean (no console error or failed request) when the block ends without an error."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", color_scheme="light")
    page = context.new_page()
    console = Console(page, stack)
    watch(page, console)
    try:
        if signed_in:
            console.sign_in()
        yield console
        console.assert_clean()
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so a fixture can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def keep_evidence(console: Console, name: str) -> None:
    """After a failed test: the page as it was (a screenshot, its HTML) in the screenshots
    folder, and what the watcher saw, printed into the test's report."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = SCREENSHOTS / f"FAILED-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"
    try:
        console.page.screenshot(path=str(stem.with_suffix(".png")), full_page=True)
        stem.with_suffix(".html").write_text(console.page.content(), encoding="utf-8")
    except Exception as exc:  # the page may be gone; the report still says what was seen
        print(f"no screenshot: {exc}")
    print(f"page: {console.page.url}\nerrors: {console.errors}\nfailures: {console.failures}")


@pytest.fixture
def anonymous_console(
    request: pytest.FixtureRequest, browser: Any, console_stack: LiveStack
) -> Iterator[Console]:
    """A watched page, not signed in (English, light theme, desktop size)."""
    with watched_console(browser, console_stack) as console:
        yield console
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            keep_evidence(console, request.node.name)


@pytest.fixture
def console(anonymous_console: Console) -> Console:
    """A watched page, signed in with the admin key."""
    anonymous_console.sign_in()
    return anonymous_console


@pytest.fixture
def sdk(console: Console) -> Iterator[Callable[[str], openai.OpenAI]]:
    """openai SDK clients of the gateway with a given key, closed when the test ends."""
    clients: list[openai.OpenAI] = []

    def make(key: str) -> openai.OpenAI:
        client = openai.OpenAI(base_url=console.stack.base_url + "/v1", api_key=key, max_retries=0)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def admin_api(
    stack: LiveStack,
    method: str,
    path: str,
    body: object | None = None,
    *,
    expect: int | None = None,
) -> Any:
    """One call of the operator API (``path`` from the root: ``/api/admin/...``) with the admin
    key, outside the browser: its answer's JSON (None for an empty answer). An error status
    raises ``urllib.error.HTTPError``, unless ``expect`` names the status the call must get
    (a refusal included)."""
    request = urllib.request.Request(
        stack.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": ADMIN_KEY},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as refused:
        if expect is None:
            raise
        with refused:
            status, raw = int(refused.code), refused.read()
    if expect is not None:
        assert status == expect, f"{method} {path} answered {status}, not {expect}: {raw!r}"
    return json.loads(raw) if raw else None


class Answer(NamedTuple):
    status: int
    request_id: str  # its x-request-id


def ask(stack: LiveStack, model: str = MODEL, text: str = "hello") -> Answer:
    """One Anthropic Messages request through the gateway with the stack's client key; an error
    status is answered, not raised."""
    body = {"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": text}]}
    request = urllib.request.Request(
        stack.base_url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "x-api-key": stack.api_key,
            "anthropic-version": "2023-06-01",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return Answer(response.status, response.headers.get("x-request-id", ""))
    except urllib.error.HTTPError as refused:
        with refused:
            refused.read()
            return Answer(refused.code, refused.headers.get("x-request-id", ""))

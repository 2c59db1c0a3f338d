"""Browser tests of the console: Playwright driving Debian's Chromium against a live gateway.

- ``console_stack`` (per module): an emulator and ``kirogate serve`` with an admin key;
- ``browser`` (per module): ``/usr/bin/chromium`` (``KIROGATE_CHROMIUM`` to point elsewhere),
  never a downloaded build; the module is skipped when neither is installed outside CI;
- ``console`` (per test): a fresh page watched for console errors and failed requests (any is
  a failure unless the test allowed it with ``console.allow(path, status)``), signed in;
- ``console.check_accessibility()`` runs axe-core (from ``tests/clients/node_modules``) and
  fails on any serious or critical violation;
- ``console.shoot(name)`` writes light and dark screenshots at desktop and phone width to
  ``console-screenshots/`` (``KIROGATE_SCREENSHOTS`` to write elsewhere; not committed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.live import LiveStack, live_stack

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("KIROGATE_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "clients" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("KIROGATE_SCREENSHOTS", ROOT / "console-screenshots"))
ADMIN_KEY = "console-admin-key-0123456789"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# Chromium's own words for a response with an error status: the request is judged by its
# status in `failures`, not twice.
_RESOURCE_ERROR = re.compile(r"Failed to load resource: the server responded with a status of")


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
        self.page.wait_for_selector("main h1")
        self.page.wait_for_load_state("networkidle")

    def sign_in(self, key: str = ADMIN_KEY) -> None:
        self.page.goto(self.url())
        self.page.get_by_label("Admin key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        if key == ADMIN_KEY:  # the overview it lands on has drawn
            self.page.wait_for_selector("main h1")

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


@pytest.fixture
def anonymous_console(browser: Any, console_stack: LiveStack) -> Iterator[Console]:
    """A watched page, not signed in (English, light theme, desktop size)."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", color_scheme="light")
    page = context.new_page()
    console = Console(page, console_stack)
    watch(page, console)
    try:
        yield console
        console.assert_clean()
    finally:
        context.close()


@pytest.fixture
def console(anonymous_console: Console) -> Console:
    """A watched page, signed in with the admin key."""
    anonymous_console.sign_in()
    return anonymous_console

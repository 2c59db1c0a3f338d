"""The console's settings page in a real browser: runtime settings grouped by section, saved,
kept over a restart, validated by the API, reset; alerts, proxies and credential groups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import ADMIN_KEY, SHELL_HEADING, Console
from tests.live import LiveStack, live_stack

# A runtime setting given on the command line: its origin shows, and a runtime value replaces it.
SERVE_ARGS = ["--admin-key", ADMIN_KEY, "--set", "compression.keep_last=4"]


class Gateway:
    """This module's gateway, restartable on the same data dir (a restart gets new ports, so
    the console asks for ``base_url`` each time)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._exits = ExitStack()
        self.stack = self._exits.enter_context(live_stack(tmp, serve_args=SERVE_ARGS))

    def restart(self) -> None:
        self._exits.close()
        self._exits = ExitStack()
        self.stack = self._exits.enter_context(live_stack(self.tmp, serve_args=SERVE_ARGS))

    def close(self) -> None:
        self._exits.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stack, name)


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    gateway = Gateway(tmp_path_factory.mktemp("settings"))
    try:
        yield gateway  # type: ignore[misc]
    finally:
        gateway.close()


def row(console: Console, key: str) -> Any:
    return console.page.locator(f".settings-row[data-key='{key}']")


def open_settings(console: Console, tab: str) -> None:
    """The settings page at one section, once the page signing in landed on has drawn (else its
    module's load would be cut off and counted as a failed request)."""
    console.page.wait_for_selector(SHELL_HEADING)
    console.page.wait_for_load_state("networkidle")
    console.open(f"settings?tab={tab}")
    console.page.wait_for_selector("[role=tab][aria-selected=true]")


def shoot(console: Console, name: str) -> None:
    """Screenshots without the notices of what the test just did on top of the page."""
    console.page.evaluate("document.querySelectorAll('.toast button').forEach(b => b.click())")
    console.shoot(name)


def origin(console: Console, key: str) -> str:
    """The origin badge's visible words (its screen-reader prefix left out)."""
    badge = row(console, key).locator(".settings-origin .badge")
    return str(badge.evaluate("b => b.lastChild.textContent"))


def control(console: Console, key: str, label: str) -> Any:
    """The field of setting ``key``, found by its label (exactly: a reset button names the key)."""
    return row(console, key).get_by_label(label, exact=True)


def open_section(console: Console, name: str) -> None:
    tab = console.page.get_by_role("tab", name=re.compile("^" + re.escape(name)))
    tab.click()
    console.page.wait_for_selector(f"[role=tab][aria-selected=true]:has-text('{name}')")
    console.page.wait_for_selector("#settings-panel h2")


def delete(console: Console, button: str, empty: str) -> None:
    """Delete one item of a list with its button, confirm, and see the list empty."""
    console.page.get_by_role("button", name=button).click()
    console.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    console.page.get_by_text(empty).wait_for()


def test_change_settings_and_see_them_after_a_restart(console: Console, console_stack: Any) -> None:
    page = console.page
    open_settings(console, "pool")
    # Pool first: a numeric setting and a choice.
    page.wait_for_selector("#settings-panel h2:text-is('Pool')")
    attempts = row(console, "pool.max_attempts")
    assert origin(console, "pool.max_attempts") == "Default"
    attempts.get_by_label("Attempts per request", exact=True).fill("5")
    control(console, "pool.mode", "Pool mode").select_option("round_robin")
    page.get_by_text("2 unsaved change(s)").wait_for()
    assert page.get_by_role("tab", name=re.compile("Console")).count() == 1
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved: pool.mode, pool.max_attempts").wait_for()
    attempts.locator(".badge", has_text="Set here").wait_for()
    # The announcement, with its preview; the shell's banner shows it at once.
    open_section(console, "Console")
    text = "Maintenance tonight at 22:00 UTC"
    control(console, "console.announcement", "Announcement").fill(text)
    page.get_by_role("note", name="Preview").get_by_text(text).wait_for()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved: console.announcement").wait_for()
    page.locator(".announcement").get_by_text(text).wait_for()

    console_stack.restart()

    open_settings(console, "pool")
    attempts = row(console, "pool.max_attempts")
    assert attempts.get_by_label("Attempts per request", exact=True).input_value() == "5"
    assert origin(console, "pool.max_attempts") == "Set here"
    assert control(console, "pool.mode", "Pool mode").input_value() == "round_robin"
    page.locator(".announcement").get_by_text(text).wait_for()
    open_section(console, "Console")
    assert control(console, "console.announcement", "Announcement").input_value() == text
    console.check_accessibility()
    shoot(console, "settings")


def test_a_bad_value_is_shown_under_its_field(console: Console) -> None:
    page = console.page
    console.allow("/api/admin/settings", 400)
    open_settings(console, "compression")
    page.wait_for_selector("#settings-panel h2:text-is('Compression')")
    field = row(console, "compression.max_tokens")
    field.get_by_label("Compress above (tokens)", exact=True).fill("-3")
    page.get_by_role("button", name="Save changes").click()
    field.locator(".error-text").get_by_text("-3 is too small").wait_for()
    assert (
        field.get_by_label("Compress above (tokens)", exact=True).get_attribute("aria-invalid")
        == "true"
    )
    # Nothing was saved; typing again clears the message, and Discard drops the edit.
    field.get_by_label("Compress above (tokens)", exact=True).fill("50000")
    assert field.locator(".error-text").count() == 0
    page.get_by_role("button", name="Discard").click()
    assert field.get_by_label("Compress above (tokens)", exact=True).input_value() == "120000"
    # A model table line without "=" is caught before it is sent.
    open_section(console, "Models")
    aliases = row(console, "models.aliases")
    aliases.get_by_label("Aliases", exact=True).fill("team-fast claude-haiku-4-5")
    page.get_by_role("button", name="Save changes").click()
    aliases.get_by_text("Line 1: write name = target.").wait_for()
    aliases.get_by_label("Aliases", exact=True).fill("team-fast = claude-haiku-4.5")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved: models.aliases").wait_for()
    # The resolver answers with the rule just saved.
    page.get_by_label("Model name", exact=True).fill("team-fast")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("team-fast → claude-haiku-4.5").wait_for()
    console.check_accessibility()
    shoot(console, "settings-models")


def test_reset_returns_the_configured_value(console: Console) -> None:
    page = console.page
    open_settings(console, "compression")
    keep = row(console, "compression.keep_last")
    # Given on the command line: its origin says so.
    keep.locator(".badge", has_text="Command line").wait_for()
    keep.get_by_label("Turns kept verbatim", exact=True).fill("8")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved: compression.keep_last").wait_for()
    keep.get_by_text("Replaces 4 from Command line").wait_for()
    keep.get_by_role("button", name="Reset compression.keep_last to its configured value").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    page.get_by_text("is back to its configured value").wait_for()
    keep.locator(".badge", has_text="Command line").wait_for()
    assert keep.get_by_label("Turns kept verbatim", exact=True).input_value() == "4"
    assert keep.get_by_role("button", name=re.compile("^Reset")).count() == 0
    shoot(console, "settings-compression")
    # A switch: turned on, saved, reset to its default.
    switch = row(console, "compression.enabled").get_by_role("switch", name="Context compression")
    switch.click()
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved: compression.enabled").wait_for()
    assert switch.get_attribute("aria-checked") == "true"
    row(console, "compression.enabled").get_by_role("button", name=re.compile("^Reset")).click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    page.wait_for_function(
        "() => document.querySelector(\"[data-key='compression.enabled'] [role=switch]\")"
        ".getAttribute('aria-checked') === 'false'"
    )


def test_sections_are_keyboard_tabs_and_unsaved_edits_are_marked(console: Console) -> None:
    page = console.page
    open_settings(console, "upstream")
    page.wait_for_selector("#settings-panel h2:text-is('Upstream')")
    control(console, "upstream.first_token_timeout", "First token timeout").fill("5m")
    row(console, "upstream.first_token_timeout").get_by_text("= 5 min").wait_for()
    page.get_by_role("tab", name=re.compile("^Upstream")).focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#settings-panel h2:text-is('Models')")
    assert page.evaluate("document.activeElement.textContent").startswith("Models")
    # The edit waits in its section, marked in the navigation.
    upstream = page.get_by_role("tab", name=re.compile("^Upstream"))
    assert "unsaved changes" in upstream.inner_text()
    upstream.click()
    assert (
        control(console, "upstream.first_token_timeout", "First token timeout").input_value()
        == "5m"
    )
    console.check_accessibility()


def test_alerts_proxies_and_groups(console: Console) -> None:
    page = console.page
    open_settings(console, "alerts")
    page.get_by_text("No webhooks yet").wait_for()
    page.get_by_role("button", name="Add webhook").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("ops")
    dialog.get_by_label("Format", exact=True).select_option("slack")
    dialog.get_by_label("Webhook URL", exact=True).fill("http://127.0.0.1:9/hook-secret-token")
    dialog.get_by_label("Key limit reached", exact=True).uncheck()
    dialog.get_by_role("button", name="Add").click()
    page.get_by_text("Webhook ops added.").wait_for()
    table = page.locator("#settings-panel table")
    table.get_by_text("Credential disabled").wait_for()
    assert "hook-secret-token" not in table.inner_text()
    page.get_by_role("button", name="Send a test alert to ops").click()
    page.get_by_text("Test alert not delivered to ops").wait_for()
    page.get_by_role("switch", name="Enable webhook ops").click()
    page.get_by_text("ops is off.").wait_for()
    console.check_accessibility()
    shoot(console, "settings-alerts")
    delete(console, "Delete webhook ops", "No webhooks yet")

    open_section(console, "Proxies")
    page.get_by_role("heading", name="Rotation").wait_for()
    page.get_by_text("No proxies yet").wait_for()
    page.get_by_role("button", name="Add proxy").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Proxy URL", exact=True).fill("http://127.0.0.1:9")
    dialog.get_by_label("Label (optional)", exact=True).fill("office")
    dialog.get_by_role("button", name="Add").click()
    page.get_by_text("Proxy office added.").wait_for()
    page.get_by_role("button", name="Test proxy office").click()
    page.get_by_text("office did not reach the upstream").wait_for()
    console.check_accessibility()
    shoot(console, "settings-proxies")
    delete(console, "Delete proxy office", "No proxies yet")

    open_section(console, "Credential groups")
    page.get_by_role("button", name="Add group").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("team-a")
    dialog.get_by_label("Description (optional)", exact=True).fill("Team A's accounts")
    dialog.get_by_role("button", name="Add").click()
    page.get_by_text("Group team-a created.").wait_for()
    page.get_by_role("button", name="Members of group team-a").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("checkbox").first.check()
    dialog.get_by_role("button", name="Save changes").click()
    page.get_by_text("Members of team-a saved.").wait_for()
    page.locator("#settings-panel table").get_by_text("#1").wait_for()
    console.check_accessibility()
    shoot(console, "settings-groups")
    delete(console, "Delete group team-a", "No credential groups yet")


def test_the_page_in_chinese(console: Console) -> None:
    page = console.page
    page.get_by_label("Language").first.select_option("zh-CN")
    open_settings(console, "pool")
    page.wait_for_selector("#settings-panel h2:text-is('号池')")
    row(console, "pool.queue_timeout").get_by_text("所有凭证都忙时").wait_for()
    console.check_accessibility()
    shoot(console, "settings-zh")

"""The console's logs page in a real browser: requests listed and filtered (the filters in the
address), a request's detail (with its bodies when log.bodies is on), rows arriving live,
and the CSV export."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import (
    ADMIN_KEY,
    MODEL,
    Console,
    admin_api,
    ask,
    watched_console,
)
from tests.live import LiveStack, live_stack

UNKNOWN_MODEL = "no-such-model-at-all"


def logged(stack: LiveStack, request_id: str) -> None:
    """Wait until the background writer has stored the request (it flushes every second)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = admin_api(stack, "GET", "/api/admin/logs?limit=50")["rows"]
        if any(row["request_id"] == request_id for row in rows):
            return
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} was not logged")


@pytest.fixture(scope="module")
def traffic(console_stack: LiveStack) -> dict[str, str]:
    """Two answered requests and one refused (an unknown model), stored in the log."""
    ok = ask(console_stack)
    assert ok.status == 200
    ask(console_stack, text="again")
    bad = ask(console_stack, model=UNKNOWN_MODEL)
    assert bad.status >= 400
    logged(console_stack, bad.request_id)
    return {"ok": ok.request_id, "bad": bad.request_id, "bad_status": str(bad.status)}


def row(console: Console, request_id: str) -> Any:
    return console.page.locator(f'tr[data-request-id="{request_id}"]')


def test_requests_are_listed_and_filtered(console: Console, traffic: dict[str, str]) -> None:
    page = console.page
    console.open("logs")
    row(console, traffic["ok"]).wait_for()
    row(console, traffic["bad"]).wait_for()
    assert traffic["bad_status"] in row(console, traffic["bad"]).inner_text()
    console.check_accessibility()
    console.shoot("logs")

    # Only the refused one; the filter is in the address for links from other pages.
    page.get_by_label("Status").select_option("4xx")
    page.wait_for_url(re.compile(r"status=4xx"))
    row(console, traffic["ok"]).wait_for(state="detached")
    row(console, traffic["bad"]).wait_for()

    page.get_by_label("Status").select_option("")
    row(console, traffic["ok"]).wait_for()
    page.get_by_label("Model").fill(MODEL)
    page.get_by_label("Model").press("Enter")
    page.wait_for_url(re.compile(r"model=" + MODEL))
    row(console, traffic["bad"]).wait_for(state="detached")  # refused before a model was read
    row(console, traffic["ok"]).wait_for()

    page.get_by_role("button", name="Clear filters").first.click()
    page.get_by_label("Endpoint").select_option("/v1/chat/completions")
    page.get_by_text("No request matches these filters").wait_for()
    page.get_by_label("Endpoint").select_option("/v1/messages")
    row(console, traffic["ok"]).wait_for()

    # A link from another page (the keys page links to logs?key=...) opens filtered.
    page.goto(console.url("logs") + "?key=default&status=2xx")
    row(console, traffic["ok"]).wait_for()
    assert page.get_by_label("API key").input_value() == "default"
    assert row(console, traffic["bad"]).count() == 0


def test_a_request_detail_shows_timing_tokens_and_the_error(
    console: Console, traffic: dict[str, str]
) -> None:
    page = console.page
    console.open("logs")
    row(console, traffic["ok"]).get_by_role("button").click()
    dialog = page.get_by_role("dialog", name="Request details")
    dialog.get_by_text("Time to first token").wait_for()
    dialog.get_by_text(traffic["ok"]).wait_for()
    assert dialog.get_by_text("Input", exact=True).is_visible()
    # Bodies were not being recorded: said so, with the way to turn them on.
    dialog.get_by_text("the log.bodies setting is off").wait_for()
    assert dialog.get_by_role("link", name="Turn it on in Settings").is_visible()
    console.check_accessibility()
    page.keyboard.press("Escape")

    row(console, traffic["bad"]).get_by_role("button").click()
    dialog.locator(".logs-error").get_by_text(UNKNOWN_MODEL).wait_for()
    page.keyboard.press("Escape")


def test_new_requests_appear_live(console: Console, console_stack: LiveStack) -> None:
    page = console.page
    console.open("logs")
    expect(page.get_by_role("switch", name="Live")).to_have_attribute("aria-checked", "true")
    status, request_id = ask(console_stack, text="live one")
    assert status == 200
    fresh = row(console, request_id)
    fresh.wait_for()
    # It becomes the stored row (with an id: its detail opens) without a reload.
    page.locator(f'tr[data-request-id="{request_id}"]:not(.logs-pending)').wait_for()
    assert page.locator("tbody tr").first.get_attribute("data-request-id") == request_id

    # Paused: a new request is not added until the page is refreshed.
    page.get_by_role("switch", name="Live").click()
    expect(page.get_by_role("switch", name="Live")).to_have_attribute("aria-checked", "false")
    paused_id = ask(console_stack, text="paused one").request_id
    logged(console_stack, paused_id)
    assert row(console, paused_id).count() == 0
    page.get_by_role("button", name="Refresh").click()
    row(console, paused_id).wait_for()


def test_the_export_downloads_csv(console: Console, traffic: dict[str, str]) -> None:
    page = console.page
    console.open("logs?status=4xx")
    row(console, traffic["bad"]).wait_for()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    header, *lines = text.strip().splitlines()
    assert header.startswith("id,at,request_id,endpoint,model")
    assert any(traffic["bad"] in line for line in lines)
    assert not any(traffic["ok"] in line for line in lines)  # the filter was kept


# ---- with log.bodies on: a stack of its own


@pytest.fixture(scope="module")
def bodies_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(
        tmp_path_factory.mktemp("console-bodies"),
        serve_args=["--admin-key", ADMIN_KEY, "--set", "log.bodies=true"],
    ) as stack:
        yield stack


@pytest.fixture
def bodies_console(browser: Any, bodies_stack: LiveStack) -> Iterator[Console]:
    with watched_console(browser, bodies_stack, signed_in=True) as console:
        yield console


def test_the_detail_shows_the_bodies_when_they_are_recorded(
    bodies_console: Console, bodies_stack: LiveStack
) -> None:
    console = bodies_console
    page = console.page
    status, request_id = ask(bodies_stack, text="the body to find")
    assert status == 200
    logged(bodies_stack, request_id)
    console.open("logs")
    row(console, request_id).get_by_role("button").click()
    dialog = page.get_by_role("dialog", name="Request details")
    body = dialog.get_by_label("Request body")
    body.wait_for()
    assert "the body to find" in body.inner_text()
    assert '"max_tokens": 32' in body.inner_text()  # pretty-printed
    dialog.get_by_role("tab", name="Response").click()
    dialog.get_by_label("Response body").wait_for()
    console.check_accessibility()
    console.shoot("logs-detail")

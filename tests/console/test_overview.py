"""The overview page in a real browser: figures, charts and top tables from real requests, the
live feed updating without a reload, the range picker, the empty states, Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.conftest import ADMIN_KEY, Console, admin_api, ask, watched_console
from tests.live import LiveStack, live_stack

MODEL = "claude-sonnet-4.5"
OTHER_MODEL = "claude-haiku-4.5"
READY = "main .ov[data-ready='true']"


@pytest.fixture(scope="module")
def traffic(console_stack: LiveStack) -> LiveStack:
    """A few requests already answered, and the credential's balance fetched once."""
    for n in range(3):
        assert ask(console_stack, MODEL, f"hello {n}").status == 200
    admin_api(console_stack, "GET", "/api/admin/credentials/1/balance")
    wait_for_rows(console_stack, 3)
    return console_stack


def wait_for_rows(stack: LiveStack, count: int) -> None:
    """Until the request log holds ``count`` rows (they are written within about a second)."""
    deadline = time.monotonic() + 10
    while len(admin_api(stack, "GET", f"/api/admin/logs?limit={count}")["rows"]) < count:
        assert time.monotonic() < deadline, "the request log rows were not written"
        time.sleep(0.1)


def open_overview(console: Console) -> None:
    """The overview as signing in left it (it is the page the console opens on)."""
    console.page.wait_for_selector(READY)
    # Every chart drawn (uPlot is loaded lazily).
    console.page.wait_for_function(
        "() => !document.querySelector('.ov .chart-box:not([data-drawn])')"
    )


def test_figures_charts_and_top_tables_come_from_real_requests(
    console: Console, traffic: LiveStack
) -> None:
    open_overview(console)
    page = console.page
    tiles = page.locator(".ov-tiles")
    tiles.get_by_text("Requests").wait_for()
    assert page.locator(".ov-tiles .stat").count() == 5
    assert page.locator(".ov .chart-box canvas").count() == 3
    models = page.get_by_role("region", name="Top models")
    models.get_by_text(MODEL).wait_for()
    keys = page.get_by_role("region", name="Top keys")
    keys.get_by_text("default (--api-key)").wait_for()
    # The charts speak their figures.
    label = page.locator(".chart-box").first.get_attribute("aria-label") or ""
    assert label.startswith("Requests: Requests ")
    # Hovering the newest bucket shows its figures.
    over = page.locator(".chart-box .u-over").first
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    tip = page.locator(".chart-tip").first
    tip.wait_for()
    assert "Requests" in tip.inner_text()
    page.mouse.move(0, 0)
    pool = page.locator("section", has=page.get_by_role("heading", name="Pool health"))
    pool.get_by_text("Every credential is usable.").wait_for()
    balances = page.get_by_role("region", name="Credential balances")
    assert balances.get_by_role("progressbar").count() == 1
    console.check_accessibility()
    console.shoot("overview")


def test_a_request_shows_up_in_the_feed_and_the_figures_without_reloading(
    console: Console, traffic: LiveStack
) -> None:
    open_overview(console)
    page = console.page
    feed = page.get_by_role("region", name="The latest requests")
    feed.wait_for()
    page.evaluate("window.__same_document = true")
    assert ask(traffic, OTHER_MODEL, "while you watch").status == 200
    feed.get_by_text(OTHER_MODEL).first.wait_for()
    # The stats follow (debounced until the row is written).
    page.get_by_role("region", name="Top models").get_by_text(OTHER_MODEL).wait_for(timeout=15000)
    assert page.evaluate("window.__same_document") is True


def test_the_range_picker_redraws_for_a_week_and_is_kept_in_the_address(
    console: Console, traffic: LiveStack
) -> None:
    open_overview(console)
    page = console.page
    picker = page.get_by_role("radiogroup", name="Time range")
    picker.get_by_role("radio", name="7d").click()
    page.wait_for_url("**/admin?range=7d")
    page.get_by_text("last 7 days", exact=True).wait_for()
    page.get_by_text("Requests and failed requests per hour").wait_for()
    picker.get_by_role("radio", name="7d").press("ArrowRight")
    page.wait_for_url("**/admin?range=30d")
    page.get_by_text("Requests and failed requests per day").wait_for()
    assert picker.get_by_role("radio", name="30d").get_attribute("aria-checked") == "true"
    page.reload()
    page.wait_for_selector(READY)
    assert picker.get_by_role("radio", name="30d").get_attribute("aria-checked") == "true"


def test_the_overview_in_chinese(console: Console, traffic: LiveStack) -> None:
    open_overview(console)
    page = console.page
    page.get_by_label("Language").first.select_option("zh-CN")
    page.get_by_role("heading", name="凭证池状态").wait_for()
    page.get_by_role("heading", name="模型排行").wait_for()
    page.get_by_role("radio", name="24 小时").wait_for()
    page.get_by_text("最近 24 小时", exact=True).wait_for()
    page.wait_for_function("() => !document.querySelector('.ov .chart-box:not([data-drawn])')")
    console.check_accessibility()
    console.shoot("overview-zh")


# ---- a gateway whose only credential was deleted, and no traffic


@pytest.fixture(scope="module")
def empty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(
        tmp_path_factory.mktemp("console-empty"), serve_args=["--admin-key", ADMIN_KEY]
    ) as stack:
        yield stack


def set_pool(stack: LiveStack, *, empty: bool, count: int = 1) -> None:
    """No credential at all, or at least ``count`` (added through the admin API)."""
    listed = admin_api(stack, "GET", "/api/admin/credentials")["credentials"]
    if empty:
        for row in listed:
            admin_api(
                stack, "POST", f"/api/admin/credentials/{row['id']}/disabled", {"disabled": True}
            )
            admin_api(stack, "DELETE", f"/api/admin/credentials/{row['id']}")
        return
    for n in range(len(listed), count):
        token = f"aorAAAAAGoverview{n:03d}" + "q" * 120
        body = {"refreshToken": token, "authMethod": "social"}
        admin_api(stack, "POST", "/api/admin/credentials", body)


@pytest.fixture
def empty_console(browser: Any, empty_stack: LiveStack) -> Iterator[Console]:
    """A watched page of that gateway, not signed in (each test sets the pool first)."""
    with watched_console(browser, empty_stack) as console:
        yield console


def sign_in_to_the_overview(console: Console) -> Any:
    """Sign in (the console opens on the overview) and wait until the overview has drawn."""
    console.sign_in()
    console.page.wait_for_selector(READY)
    return console.page


def test_no_credentials_says_where_to_add_one(empty_console: Console) -> None:
    console = empty_console
    set_pool(console.stack, empty=True)
    page = sign_in_to_the_overview(console)
    page.get_by_text("No credentials yet").wait_for()
    page.get_by_text("Waiting for requests…").wait_for()
    assert page.locator(".ov-tiles").get_by_text("0 of 0").is_visible()
    console.check_accessibility()
    console.shoot("overview-empty")
    page.get_by_role("button", name="Add a credential").click()
    page.wait_for_selector("main h1:text-is('Credentials')")
    assert page.url.endswith("/admin/credentials")


def test_no_traffic_says_how_to_connect_a_client(empty_console: Console) -> None:
    console = empty_console
    set_pool(console.stack, empty=False)
    page = sign_in_to_the_overview(console)
    page.get_by_text("No requests in the last 24 hours").wait_for()
    page.get_by_role("heading", name="Pool health").wait_for()
    page.get_by_text("No balance fetched yet").wait_for()
    console.check_accessibility()
    console.shoot("overview-no-traffic")
    # The balance, asked of the upstream on demand.
    page.get_by_role("button", name="Fetch balances").click()
    page.get_by_text("Balances updated.").wait_for()
    page.get_by_role("progressbar").wait_for()
    # A credential's state changes: the pool's health follows without a reload.
    cid = admin_api(console.stack, "GET", "/api/admin/credentials")["credentials"][0]["id"]
    admin_api(console.stack, "POST", f"/api/admin/credentials/{cid}/disabled", {"disabled": True})
    try:
        page.get_by_text("disabled by an operator").wait_for()
        total = len(admin_api(console.stack, "GET", "/api/admin/credentials")["credentials"])
        assert page.locator(".ov-tiles").get_by_text(f"{total - 1} of {total}").is_visible()
    finally:
        admin_api(
            console.stack, "POST", f"/api/admin/credentials/{cid}/disabled", {"disabled": False}
        )
    page.get_by_text("Every credential is usable.").wait_for()
    page.get_by_role("button", name="Connect a client").click()
    page.wait_for_selector("main h1:text-is('Connect a client')")


def test_many_balances_show_the_fullest_first_and_expand(empty_console: Console) -> None:
    console = empty_console
    set_pool(console.stack, empty=False, count=10)
    for row in admin_api(console.stack, "GET", "/api/admin/credentials")["credentials"]:
        admin_api(console.stack, "GET", f"/api/admin/credentials/{row['id']}/balance")
    page = sign_in_to_the_overview(console)
    balances = page.get_by_role("region", name="Credential balances")
    page.get_by_text("Showing 8 of 10, fullest first").wait_for()
    assert balances.get_by_role("progressbar").count() == 8
    page.get_by_role("button", name="Show all 10").click()
    page.get_by_text("All 10, fullest first").wait_for()
    assert balances.get_by_role("progressbar").count() == 10
    console.check_accessibility()

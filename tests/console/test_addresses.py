"""The addresses page in a real browser: block and unblock a network, set the per-address rate
limit, see a visitor and block it from the visitors list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.console.conftest import Console, admin_api


def ip_rate_limit(console: Console) -> Any:
    settings = admin_api(console.stack, "GET", "/api/admin/settings")["settings"]
    return next(s for s in settings if s["key"] == "server.ip_rate_limit")


def test_block_a_network_and_set_the_rate_limit(
    console: Console, sdk: Callable[[str], openai.OpenAI]
) -> None:
    page = console.page
    console.open("addresses")
    page.get_by_text("Nothing is blocked").wait_for()
    console.check_accessibility()

    # A wrong address is refused next to its field.
    console.allow("/api/admin/ips", 400)
    page.get_by_label("Address or network").fill("300.1.2.3")
    page.get_by_role("button", name="Block", exact=True).click()
    page.locator(".field-error", has_text="is not an IP address").wait_for()

    page.get_by_label("Address or network").fill("203.0.113.0/24")
    page.get_by_label("Reason").fill("scraper")
    page.get_by_label("For", exact=True).select_option(label="1 day")
    page.get_by_role("button", name="Block", exact=True).click()
    page.get_by_text("203.0.113.0/24 is blocked.").wait_for()
    row = page.locator("tr", has_text="203.0.113.0/24")
    row.get_by_text("scraper").wait_for()
    row.get_by_text("in 24 hours").wait_for()
    blocked = admin_api(console.stack, "GET", "/api/admin/ips")["blocked"]
    assert [b["ip"] for b in blocked] == ["203.0.113.0/24"] and blocked[0]["expires_at"]

    # The per-address rate limit: saved as a runtime setting, then back to the configured one.
    limit = page.get_by_label("Requests per address")
    assert limit.input_value() == "0"
    page.get_by_text("off", exact=True).wait_for()
    limit.fill("120")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("The per-address rate limit is saved.").wait_for()
    page.get_by_text("120 per window").wait_for()
    setting = ip_rate_limit(console)
    assert setting["value"] == 120 and setting["origin"] == "runtime"
    # A visitor, so the screenshot shows every part of the page.
    sdk(console.stack.api_key).models.list()
    # The listing includes this instance's latest counts: choosing a period reloads it.
    page.get_by_role("radio", name="Last hour").click()
    page.locator(".addresses-visitors tr", has_text="127.0.0.1").wait_for(timeout=15_000)
    console.check_accessibility()
    console.shoot("addresses")
    page.get_by_role("button", name="Use the configured value").click()
    page.get_by_text("off", exact=True).wait_for()
    assert ip_rate_limit(console)["value"] == 0

    row.get_by_role("button", name="Unblock 203.0.113.0/24").click()
    page.get_by_text("203.0.113.0/24 is unblocked.").wait_for()
    page.get_by_text("Nothing is blocked").wait_for()
    assert admin_api(console.stack, "GET", "/api/admin/ips")["blocked"] == []


def test_a_visitor_is_listed_and_blocked_from_the_list(
    console: Console, sdk: Callable[[str], openai.OpenAI]
) -> None:
    page = console.page
    client = sdk(console.stack.api_key)
    client.models.list()
    console.open("addresses")
    # The listing includes this instance's latest counts, so the visitor shows at once.
    visitor = page.locator(".addresses-visitors tr", has_text="127.0.0.1")
    visitor.wait_for(timeout=15_000)

    visitor.get_by_role("button", name="Block 127.0.0.1").click()
    dialog = page.get_by_role("dialog", name="Block 127.0.0.1")
    dialog.get_by_label("Reason").fill("testing the block")
    console.check_accessibility()
    dialog.get_by_role("button", name="Block", exact=True).click()
    page.get_by_text("127.0.0.1 is blocked.").wait_for()
    visitor.get_by_text("blocked", exact=True).wait_for()
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()

    visitor.get_by_role("button", name="Unblock 127.0.0.1").click()
    page.get_by_text("127.0.0.1 is unblocked.").wait_for()
    client.models.list()

    page.get_by_label("Language").first.select_option("zh-CN")
    page.get_by_role("heading", name="最近访客").wait_for()
    console.shoot("addresses-zh")

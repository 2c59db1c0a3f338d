"""The console's audit page in a real browser: changes made with the admin key and the
console's own sign-in listed with who, what (in words), target and result; filters in the
address."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.console.conftest import Console, admin_api
from tests.live import LiveStack


@pytest.fixture(scope="module")
def changes(console_stack: LiveStack) -> None:
    """A group created and changed, a refused second creation, a credential switched on."""
    stack = console_stack
    admin_api(stack, "POST", "/api/admin/groups", {"name": "team-a"}, expect=201)
    admin_api(stack, "PATCH", "/api/admin/groups/team-a", {"description": "A"}, expect=200)
    admin_api(stack, "POST", "/api/admin/groups", {"name": "team-a"}, expect=400)
    admin_api(stack, "POST", "/api/admin/credentials/1/disabled", {"disabled": False}, expect=200)


def entry(console: Console, action: str) -> Any:
    return console.page.locator(f'tr[data-action="{action}"]')


def test_changes_are_listed_with_who_what_and_result(console: Console, changes: None) -> None:
    console.open("audit")
    created = entry(console, "create_group")
    created.first.wait_for()
    assert created.count() == 2
    done, refused = created.nth(1), created.nth(0)  # newest first
    assert "Created a group" in done.inner_text()
    assert "Admin key" in done.inner_text()
    assert "Done" in done.inner_text()
    assert "team-a" in done.locator(".audit-detail").inner_text()  # a key/value list, no JSON
    assert "Refused" in refused.inner_text() and "400" in refused.inner_text()
    assert "Invalid input" in refused.locator(".audit-detail").inner_text()
    assert "Group team-a" in entry(console, "update_group").inner_text()
    switched = entry(console, "set_disabled").inner_text()
    assert "Enabled a credential" in switched and "Credential #1" in switched
    # This browser's own sign-in, marked as this session.
    signed_in = entry(console, "console.sign_in").first
    assert "Signed in to the console" in signed_in.inner_text()
    signed_in.get_by_text("you", exact=True).wait_for()
    console.check_accessibility()
    console.shoot("audit")


def test_filters_narrow_the_trail_and_stay_in_the_address(console: Console, changes: None) -> None:
    page = console.page
    console.open("audit")
    entry(console, "console.sign_in").first.wait_for()
    page.get_by_label("What").select_option("create_group")
    page.wait_for_url(re.compile(r"action=create_group"))
    entry(console, "console.sign_in").first.wait_for(state="detached")
    assert entry(console, "create_group").count() == 2

    page.get_by_role("button", name="Clear filters").click()
    page.get_by_label("Who").select_option("admin-key")
    page.wait_for_url(re.compile(r"actor=admin-key"))
    entry(console, "console.sign_in").first.wait_for(state="detached")
    entry(console, "update_group").wait_for()

    # Linked to directly, with a target.
    page.goto(console.url("audit") + "?target=team-a")
    entry(console, "update_group").wait_for()
    assert entry(console, "create_group").count() == 0
    assert page.get_by_label("Target").input_value() == "team-a"

    page.goto(console.url("audit") + "?action=delete_group")
    page.get_by_text("No entry matches these filters").wait_for()
    console.check_accessibility()

    # In Chinese: the actions in words too.
    page.goto(console.url("audit"))
    page.get_by_label("Language").first.select_option("zh-CN")
    entry(console, "console.sign_in").first.get_by_text("登录了控制台").wait_for()
    assert "创建了分组" in entry(console, "create_group").first.inner_text()

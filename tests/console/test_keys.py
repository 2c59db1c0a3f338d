"""The API keys page in a real browser: create a key with limits, use it from the openai SDK,
see its usage and logs, hit its limit, revoke it; edit, disable and regenerate."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.console.conftest import MODEL, Console, admin_api


def key_id(console: Console, name: str) -> int:
    keys = admin_api(console.stack, "GET", "/api/admin/keys")["keys"]
    return int(next(k["id"] for k in keys if k["name"] == name and not k["revoked"]))


def logs_of(console: Console, key: int) -> list[dict[str, Any]]:
    """The key's rows in the request log, once the writer (about a second) has them."""
    deadline = time.monotonic() + 10
    while True:
        query = urllib.parse.urlencode({"key_id": key})
        rows: list[dict[str, Any]] = admin_api(console.stack, "GET", f"/api/admin/logs?{query}")[
            "rows"
        ]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def chat(client: openai.OpenAI) -> str:
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello"}]
    )
    return answer.choices[0].message.content or ""


def create_in_page(console: Console, name: str, fields: dict[str, str]) -> str:
    """Fill the create form and return the key the dialog shows once."""
    page = console.page
    dialog = page.get_by_role("dialog", name="Create an API key")
    dialog.get_by_label("Name").fill(name)
    for label, value in fields.items():
        dialog.get_by_label(label, exact=True).fill(value)
    dialog.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    shown.wait_for()
    return str(shown.locator(".code-block code").inner_text()).strip()


def test_a_key_with_an_rpm_limit_is_used_logged_limited_and_revoked(
    console: Console, sdk: Callable[[str], openai.OpenAI]
) -> None:
    page = console.page
    console.open("keys")
    page.get_by_text("No API keys yet").wait_for()
    console.check_accessibility()
    console.shoot("keys-empty")

    # The form opens and closes from the keyboard.
    page.get_by_role("button", name="Create key").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create an API key")
    assert dialog.get_by_label("Name").evaluate("el => el === document.activeElement")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # Create it; a refused value is shown next to its field.
    page.get_by_role("button", name="Create key").click()
    dialog.get_by_label("Name").fill("alice")
    dialog.get_by_label("Requests per minute").fill("0")
    console.allow("/api/admin/keys", 400)
    dialog.get_by_role("button", name="Create key").click()
    error = dialog.locator(".field-error .error-text")
    error.wait_for()
    assert "positive" in error.inner_text()
    dialog.get_by_label("Requests per minute").fill("2")
    dialog.get_by_label("Models").fill("claude-*, *haiku*")
    console.check_accessibility()
    console.shoot("keys-create")
    dialog.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    shown.get_by_text("shown only this once").wait_for()
    key = shown.locator(".code-block code").inner_text().strip()
    assert key.startswith("kg-") and len(key) > 20
    console.check_accessibility()
    console.shoot("keys-created")
    shown.get_by_role("button", name="I have copied it").click()
    shown.wait_for(state="hidden")

    row = page.locator("tr", has_text="alice")
    row.get_by_text("active").wait_for()
    row.get_by_text("2/min").wait_for()
    row.get_by_text("Today: 0 requests").wait_for()

    # Use it from the openai SDK: the row's usage moves, the logs have the request.
    client = sdk(key)
    assert chat(client)
    row.get_by_text("Today: 1 request ·").wait_for(timeout=15_000)
    number = key_id(console, "alice")
    rows = logs_of(console, number)
    assert rows and rows[0]["status"] == 200 and rows[0]["key_name"] == "alice"

    # The row links to the logs filtered by the key.
    row.get_by_role("link", name="Logs of alice").click()
    page.wait_for_selector("main h1:text-is('Logs')")
    assert f"/admin/logs?key_id={number}" in page.url
    logged = page.locator(f"tr[data-request-id='{rows[0]['request_id']}']")
    logged.get_by_text("200").wait_for()
    assert page.locator("tr[data-request-id]").count() == 1  # only alice's request
    page.go_back()
    page.wait_for_selector("main h1:text-is('API keys')")

    # Over its rpm: 429; revoked in the page: 401.
    assert chat(client)
    with pytest.raises(openai.RateLimitError):
        chat(client)
    row = page.locator("tr", has_text="alice")
    row.get_by_role("button", name="Revoke alice").click()
    confirm = page.get_by_role("dialog", name="Revoke alice?")
    confirm.get_by_role("button", name="Revoke").click()
    page.get_by_text("alice is revoked.").wait_for()
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    # Revoked keys are hidden until asked for.
    page.get_by_text("No API keys yet").wait_for()


def test_edit_disable_and_regenerate_a_key(
    console: Console, sdk: Callable[[str], openai.OpenAI]
) -> None:
    page = console.page
    admin_api(
        console.stack, "POST", "/api/admin/groups", {"name": "team-a", "description": "Team A"}
    )
    credentials = admin_api(console.stack, "GET", "/api/admin/credentials")["credentials"]
    ids = [credential["id"] for credential in credentials]
    admin_api(console.stack, "PUT", "/api/admin/groups/team-a/credentials", {"ids": ids})
    console.open("keys")
    page.get_by_role("button", name="Create key").first.click()
    key = create_in_page(
        console,
        "ci-bot",
        {"Requests per day": "1000", "Tokens per day": "2000000", "Requests at a time": "4"},
    )
    page.get_by_role("button", name="I have copied it").click()
    client = sdk(key)
    assert chat(client)

    # Edit: a group, an expiry, a monthly token limit.
    row = page.locator("tr", has_text="ci-bot")
    row.get_by_role("button", name="Edit ci-bot").click()
    dialog = page.get_by_role("dialog", name="Edit ci-bot")
    assert dialog.get_by_label("Requests per day").input_value() == "1000"
    dialog.get_by_label("Credential group").select_option("team-a")
    dialog.get_by_label("Expires after").fill("2031-01-31")
    dialog.get_by_label("Tokens per month").fill("50000000")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text("ci-bot is saved.").wait_for()
    saved = admin_api(console.stack, "GET", f"/api/admin/keys/{key_id(console, 'ci-bot')}")
    assert saved["group"] == "team-a"
    assert saved["expires_at"].startswith("2031-01-31T23:59:59")
    assert saved["limits"]["tokens_per_month"] == 50_000_000
    assert saved["limits"]["requests_per_day"] == 1000
    row.get_by_text("team-a").wait_for()
    row.get_by_text("Tokens this month").wait_for()

    # Disable: the SDK gets 401; enable again.
    row.get_by_role("button", name="Disable ci-bot").click()
    row.get_by_text("disabled", exact=True).wait_for()
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    row.get_by_role("button", name="Enable ci-bot").click()
    row.get_by_text("active", exact=True).wait_for()

    # A second key, without limits, so the list shows both kinds.
    page.get_by_role("button", name="Create key").click()
    create_in_page(console, "notebook", {})
    page.get_by_role("button", name="I have copied it").click()
    page.locator("tr", has_text="notebook").get_by_text("no limits").wait_for()
    row.get_by_text("Today: 1 request ·").wait_for(timeout=15_000)
    console.check_accessibility()
    console.shoot("keys")

    # Regenerate: the old secret stops working, the new one works.
    row.get_by_role("button", name="New secret for ci-bot").click()
    page.get_by_role("dialog", name="New secret for ci-bot?").get_by_role(
        "button", name="Make a new secret"
    ).click()
    shown = page.get_by_role("dialog", name="The new secret for ci-bot")
    fresh = shown.locator(".code-block code").inner_text().strip()
    assert fresh != key
    shown.get_by_role("button", name="I have copied it").click()
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    renewed = sdk(fresh)
    assert chat(renewed)

    # In Chinese, every string of the page is translated (the harness checks the tables).
    page.get_by_label("Language").first.select_option("zh-CN")
    page.get_by_role("button", name="创建密钥").wait_for()
    page.locator("tr", has_text="ci-bot").get_by_text("启用中").wait_for()
    console.shoot("keys-zh")

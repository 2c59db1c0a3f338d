"""The console's credentials page in a real browser, against a live gateway and the emulator:
device login approved through the emulator, imports with per-item results, batch verify,
enable/disable, delete, export downloads, the empty state, accessibility and screenshots.

Every test seeds what it needs through the admin API, so the tests share one stack (per
module) without depending on their order.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.console.conftest import Console, admin_api
from tests.live import LiveStack


def token(tag: str = "") -> str:
    """A refresh token the emulator accepts (one with 'revoked' in it is refused)."""
    return f"aorAAAAAG{tag}" + secrets.token_hex(40)


def seed(stack: LiveStack, *emails: str, tag: str = "") -> list[int]:
    """Adds social credentials with these emails; answers their ids."""
    items = [
        {"refreshToken": token(tag), "authMethod": "social", "email": email} for email in emails
    ]
    answer = admin_api(stack, "POST", "/api/admin/credentials/import", items)
    return [result["id"] for result in answer["results"]]


def delete_all(stack: LiveStack) -> None:
    for row in admin_api(stack, "GET", "/api/admin/credentials")["credentials"]:
        admin_api(stack, "POST", f"/api/admin/credentials/{row['id']}/disabled", {"disabled": True})
        admin_api(stack, "DELETE", f"/api/admin/credentials/{row['id']}")


def open_add(console: Console, tab: str | None = None) -> Any:
    page = console.page
    page.get_by_role("button", name="Add credentials").first.click()
    dialog = page.get_by_role("dialog", name="Add credentials")
    dialog.wait_for()
    if tab:
        dialog.get_by_role("tab", name=tab).click()
    return dialog


def test_device_login_adds_a_credential_that_shows_on_the_page(console: Console) -> None:
    """The issue's own test: a Builder ID device login, approved through the emulator's
    verification address, and the new credential on the page and on the overview."""
    stack, page = console.stack, console.page
    before = admin_api(stack, "GET", "/api/admin/credentials")["total"]
    console.open("credentials")
    dialog = open_add(console)
    dialog.get_by_role("button", name="Start login").click()
    code = dialog.get_by_label("User code")
    code.wait_for()
    user_code = code.inner_text().strip()
    link = dialog.get_by_role("link", name="Open the sign-in page")
    address = link.get_attribute("href")
    assert address and address.endswith(f"user_code={user_code}")
    assert link.get_attribute("target") == "_blank"
    dialog.get_by_role("status").get_by_text("Waiting for the sign-in…").wait_for()
    console.check_accessibility()
    console.shoot("credentials-device")

    # The account's owner opens the address the page shows: the emulator approves the code.
    with urllib.request.urlopen(address, timeout=10) as approved:
        assert approved.status == 200
    done = dialog.get_by_text("Signed in: credential #")
    done.wait_for(timeout=15000)
    new_id = int(done.inner_text().split("#", 1)[1].split(" ", 1)[0])
    page.get_by_text(f"Credential #{new_id} added").wait_for()
    dialog.get_by_role("button", name="Done").click()

    row = next(
        r
        for r in admin_api(stack, "GET", "/api/admin/credentials")["credentials"]
        if r["id"] == new_id
    )
    assert row["authMethod"] == "idc" and row["email"]
    page.get_by_role("main").get_by_text(row["email"], exact=True).wait_for()
    page.get_by_text(f"{before + 1} in the pool").wait_for()

    # And on the overview: the pool's tile counts it.
    console.open("")
    tile = page.locator(".stat", has_text="Usable credentials").locator(".stat-value")
    expect(tile).to_have_text(re.compile(rf" of {before + 1}$"))


def test_paste_json_and_token_list_imports_answer_per_item(console: Console) -> None:
    stack, page = console.stack, console.page
    existing = token("dup")
    admin_api(
        stack,
        "POST",
        "/api/admin/credentials/import",
        [{"refreshToken": existing, "authMethod": "social"}],
    )
    console.open("credentials")
    dialog = open_add(console, "Paste JSON")
    box = dialog.get_by_label("Credentials as JSON")
    box.fill("{not json")
    dialog.get_by_role("button", name="Import", exact=True).click()
    dialog.get_by_text("This is not valid JSON").wait_for()
    box.fill(
        json.dumps(
            [
                {
                    "refreshToken": token("json"),
                    "authMethod": "social",
                    "email": "json@example.com",
                },
                {"refreshToken": existing, "authMethod": "social"},
                {"authMethod": "social"},
            ]
        )
    )
    dialog.get_by_role("button", name="Import", exact=True).click()
    results = dialog.get_by_role("region", name="Import results")
    results.get_by_text("1 added").wait_for()
    results.get_by_text("1 already in the pool").wait_for()
    results.get_by_text("1 not usable").wait_for()
    assert results.get_by_role("listitem").count() == 3
    results.get_by_text("[2].refreshToken").wait_for()
    console.check_accessibility()
    console.shoot("credentials-add")

    dialog.get_by_role("tab", name="Refresh tokens").click()
    tokens = [token("list1"), token("list2")]
    dialog.get_by_label("Refresh tokens, one a line").fill(
        "# two tokens from a file\n" + "\n\n".join(tokens) + "\n"
    )
    dialog.get_by_text("2 token(s)").wait_for()
    dialog.get_by_role("button", name="Import tokens").click()
    results = dialog.get_by_role("region", name="Import results")
    results.get_by_text("2 added").wait_for()
    assert results.get_by_text("Added", exact=True).count() == 2
    # Results name the tokens by their ends only.
    assert tokens[0] not in dialog.inner_text()
    assert f"1. {tokens[0][:4]}…{tokens[0][-4:]}" in results.inner_text()

    # A file is sent as it is: here a text file of tokens, one a line.
    dialog.get_by_role("tab", name="Upload a file").click()
    dialog.get_by_label("File to import").set_input_files(
        files=[{"name": "tokens.txt", "mimeType": "text/plain", "buffer": token("file").encode()}]
    )
    dialog.get_by_text("tokens.txt").wait_for()
    dialog.get_by_role("button", name="Import the file").click()
    dialog.get_by_role("region", name="Import results").get_by_text("1 added").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("main").get_by_text("json@example.com", exact=True).wait_for()


def test_batch_verify_shows_progress_and_a_result_per_credential(console: Console) -> None:
    stack, page = console.stack, console.page
    good = seed(stack, "verify-a@example.com", "verify-b@example.com")
    bad = seed(stack, "verify-bad@example.com", tag="revoked")
    console.open("credentials")
    page.get_by_role("searchbox", name="Search").fill("verify-")
    page.get_by_text("3 matching").wait_for()
    page.get_by_label("Select every credential on this page").check()
    page.get_by_text("3 selected").wait_for()
    page.get_by_role("region", name="3 selected").get_by_role("button", name="Verify").click()
    dialog = page.get_by_role("dialog", name="Verify credentials")
    dialog.get_by_role("progressbar", name="Progress").wait_for()
    dialog.get_by_text("Checked 3 in").wait_for(timeout=15000)
    dialog.get_by_text("2 working, 1 failed").first.wait_for()
    rows = dialog.get_by_role("listitem")
    assert rows.count() == 3
    failed = rows.filter(has_text="verify-bad@example.com")
    assert "Failed" in failed.inner_text()
    assert rows.filter(has_text="Working").count() == len(good)
    assert dialog.get_by_role("progressbar").get_attribute("aria-valuenow") == "3"
    console.shoot("credentials-verify")
    dialog.get_by_role("button", name="Close").last.click()
    # The rejected token disabled its credential, as the pool would.
    row = page.get_by_role("row").filter(has_text="verify-bad@example.com")
    row.get_by_text("Disabled").wait_for()
    row.get_by_text("the refresh token was rejected").wait_for()
    assert (
        admin_api(stack, "GET", "/api/admin/credentials?q=verify-bad")["credentials"][0]["id"]
        == bad[0]
    )


def test_disable_enable_priority_and_delete_with_confirmation(console: Console) -> None:
    stack, page = console.stack, console.page
    (credential,) = seed(stack, "toggle@example.com")
    console.open("credentials")
    page.get_by_role("searchbox", name="Search").fill("toggle@")
    page.get_by_text("1 matching").wait_for()
    row = page.get_by_role("row").filter(has_text="toggle@example.com")
    switch = row.get_by_role("switch", name="toggle@example.com enabled")
    switch.click()
    page.get_by_text("toggle@example.com disabled").wait_for()
    row.get_by_text("Disabled").wait_for()
    assert switch.get_attribute("aria-checked") == "false"
    switch.click()
    row.get_by_text("Ready").wait_for()

    row.get_by_role("button", name="Manage toggle@example.com").click()
    dialog = page.get_by_role("dialog", name="Credential toggle@example.com")
    dialog.get_by_label("Priority").fill("7")
    dialog.get_by_role("button", name="Save priority").click()
    page.get_by_text("Priority of toggle@example.com set to 7").wait_for()
    console.check_accessibility()
    console.shoot("credentials-detail")

    dialog.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete toggle@example.com?")
    confirm.get_by_role("button", name="Cancel").click()
    assert any(
        r["id"] == credential
        for r in admin_api(stack, "GET", "/api/admin/credentials")["credentials"]
    )
    dialog.get_by_role("button", name="Delete").click()
    confirm.get_by_role("button", name="Delete credential").click()
    page.get_by_text("toggle@example.com deleted").wait_for()
    page.get_by_text("No credential matches these filters").wait_for()
    assert all(
        r["id"] != credential
        for r in admin_api(stack, "GET", "/api/admin/credentials")["credentials"]
    )


def test_export_downloads_a_file_and_secrets_only_after_confirming(console: Console) -> None:
    stack, page = console.stack, console.page
    seed(stack, "export@example.com")
    console.open("credentials")
    page.get_by_role("button", name="Export", exact=True).click()
    dialog = page.get_by_role("dialog", name="Export credentials")
    with page.expect_download() as plain:
        dialog.get_by_role("button", name="Download", exact=True).click()
    body = json.loads(Path(plain.value.path()).read_text(encoding="utf-8"))
    assert plain.value.suggested_filename.startswith("kirogate-credentials-")
    assert body["secrets"] is False
    assert any(item.get("email") == "export@example.com" for item in body["credentials"])
    assert not any("refreshToken" in item for item in body["credentials"])
    assert page.get_by_text('"credentials"').count() == 0  # no raw JSON on screen

    page.get_by_role("button", name="Export", exact=True).click()
    dialog.get_by_role("button", name="Download with secrets").click()
    confirm = page.get_by_role("dialog", name="Export the secrets?")
    confirm.get_by_role("button", name="Cancel").click()
    with page.expect_download() as secret:
        dialog.get_by_role("button", name="Download with secrets").click()
        confirm.get_by_role("button", name="Export with secrets").click()
    body = json.loads(Path(secret.value.path()).read_text(encoding="utf-8"))
    assert secret.value.suggested_filename.endswith("-secrets.json")
    assert body["secrets"] is True
    assert all(item.get("refreshToken") for item in body["credentials"])


def test_social_login_is_finished_with_the_pasted_address(console: Console) -> None:
    page = console.page
    console.open("credentials")
    dialog = open_add(console, "Google / GitHub")
    dialog.get_by_role("radio", name="GitHub").click()
    dialog.get_by_role("button", name="Start login").click()
    link = dialog.get_by_role("link", name="Open the GitHub sign-in page")
    authorize = link.get_attribute("href")
    assert authorize
    # The emulator's login page sends the browser straight on to the kiro:// address.
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(authorize, timeout=10)
        raise AssertionError("the login page did not redirect")
    except urllib.error.HTTPError as redirect:
        landed = redirect.headers["location"]
    assert landed.startswith("kiro://")
    login_id = dialog.locator("[data-login]").get_attribute("data-login")
    field = dialog.get_by_label("Address the browser ended on")
    # An address from another login is refused, in words, and the login stays pending.
    console.allow(f"/api/admin/logins/{login_id}/complete", 400)
    field.fill("kiro://kiro.kiroAgent/authenticate-success?code=x&state=not-this-login")
    dialog.get_by_role("button", name="Finish login").click()
    dialog.locator(".error-text").wait_for()
    console.check_accessibility()
    console.shoot("credentials-social")
    field.fill(landed)
    dialog.get_by_role("button", name="Finish login").click()
    dialog.get_by_text("Signed in: credential #").wait_for(timeout=15000)
    page.get_by_text("Credential #").first.wait_for()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_empty_pool_says_how_to_add_one(console: Console) -> None:
    stack, page = console.stack, console.page
    delete_all(stack)
    console.open("credentials")
    page.get_by_text("No credentials yet").wait_for()
    page.get_by_role("button", name="Log in with Builder ID").wait_for()
    console.check_accessibility()
    console.shoot("credentials-empty")
    page.get_by_role("button", name="Import credentials").click()
    dialog = page.get_by_role("dialog", name="Add credentials")
    assert dialog.get_by_role("tab", name="Paste JSON").get_attribute("aria-selected") == "true"


def test_the_page_with_credentials_filters_by_state_and_group(console: Console) -> None:
    stack, page = console.stack, console.page
    ids = seed(stack, "alice@example.com", "bob@example.com", "carol@example.com")
    seed(stack, "dead@example.com", tag="revoked")
    admin_api(stack, "POST", "/api/admin/groups", {"name": "team-a", "description": "Team A"})
    admin_api(stack, "PUT", "/api/admin/groups/team-a/credentials", {"ids": ids[:2]})
    job = admin_api(stack, "POST", "/api/admin/credentials/verify", {"all": True})
    deadline = time.monotonic() + 15
    while admin_api(stack, "GET", f"/api/admin/jobs/{job['jobId']}")["status"] != "done":
        assert time.monotonic() < deadline, "the verify job did not finish"
        time.sleep(0.1)
    console.open("credentials")
    main = page.get_by_role("main")
    main.get_by_text("carol@example.com", exact=True).wait_for()
    page.get_by_label("State").select_option("disabled")
    main.get_by_text("carol@example.com", exact=True).wait_for(state="detached")
    main.get_by_text("dead@example.com", exact=True).wait_for()
    page.get_by_label("State").select_option("")
    page.get_by_label("Group").select_option("team-a")
    main.get_by_text("carol@example.com", exact=True).wait_for(state="detached")
    main.get_by_text("bob@example.com", exact=True).wait_for()
    page.get_by_label("Group").select_option("")
    main.get_by_text("carol@example.com", exact=True).wait_for()
    console.check_accessibility()
    console.shoot("credentials")
    # In Chinese too (the harness fails on any string missing from either language).
    page.get_by_label("Language").first.select_option("zh-CN")
    page.get_by_role("button", name="添加凭证").click()
    page.get_by_role("dialog", name="添加凭证").get_by_role("tab", name="刷新令牌").click()
    page.get_by_label("刷新令牌（每行一个）").wait_for()
    page.keyboard.press("Escape")
    page.get_by_text("池中共").wait_for()

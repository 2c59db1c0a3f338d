"""The console's shell in a real browser: sign-in, navigation, theme, language, sign-out."""

from __future__ import annotations

from tests.console.conftest import Console


def test_wrong_key_is_refused_then_the_right_one_signs_in(anonymous_console: Console) -> None:
    console = anonymous_console
    console.allow("/admin/session", 401)
    console.sign_in("not-the-key")
    console.page.get_by_text("That is not the admin key.").wait_for()
    console.check_accessibility()
    console.shoot("sign-in")
    console.sign_in()
    assert console.page.get_by_role("link", name="Overview").get_attribute("aria-current") == "page"


def test_every_page_opens_from_the_navigation(console: Console) -> None:
    for name in (
        "Credentials",
        "Playground",
        "Logs",
        "API keys",
        "Addresses",
        "Settings",
        "Connect a client",
        "Audit",
        "Overview",
    ):
        console.page.get_by_role("link", name=name).click()
        console.page.wait_for_selector(f"main h1:text-is('{name}')")
    assert console.page.url.endswith("/admin")


def test_chinese_and_the_dark_theme_are_remembered(console: Console) -> None:
    page = console.page
    page.get_by_label("Language").first.select_option("zh-CN")
    page.get_by_role("link", name="凭证").wait_for()
    page.get_by_role("button", name="深色主题").first.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.get_by_role("link", name="凭证").wait_for()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"


def test_sign_out_ends_the_session(console: Console) -> None:
    page = console.page
    cookie = next(c for c in page.context.cookies() if c["name"] == "kirogate_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Admin key").wait_for()
    # The old cookie is no good even if a copy was kept.
    page.context.add_cookies([cookie])
    page.reload()
    page.get_by_label("Admin key").wait_for()


def test_phone_width_has_a_menu(console: Console) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Logs").click()
    page.wait_for_selector("main h1:text-is('Logs')")
    console.check_accessibility()

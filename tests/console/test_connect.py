"""Connect a client in a real browser: snippets filled with the gateway's address and a key."""

from __future__ import annotations

from tests.console.conftest import Console
from tests.live import API_KEY


def _snippets(console: Console) -> str:
    return str(console.page.get_by_role("tabpanel").inner_text())


def test_snippets_carry_the_address_and_the_pasted_key(console: Console) -> None:
    page = console.page
    base = console.stack.base_url
    console.open("connect")
    page.get_by_label("Client key").fill(API_KEY)
    page.get_by_text("This is the key “default”.").wait_for()

    text = _snippets(console)
    assert f"export ANTHROPIC_BASE_URL={base}" in text
    assert f"export ANTHROPIC_API_KEY={API_KEY}" in text
    assert "export ANTHROPIC_MODEL=claude-sonnet-4-6" in text

    page.get_by_role("tab", name="Codex CLI").click()
    text = _snippets(console)
    assert f'base_url = "{base}/v1"' in text and 'wire_api = "responses"' in text
    assert f"export KIROGATE_CLIENT_KEY={API_KEY}" in text

    page.get_by_role("tab", name="Cline").click()
    assert f"{base}/v1" in _snippets(console) and API_KEY in _snippets(console)
    page.get_by_role("tab", name="Cherry Studio").click()
    assert base in _snippets(console)
    page.get_by_role("tab", name="LobeChat").click()
    assert f"OPENAI_PROXY_URL={base}/v1" in _snippets(console)
    page.get_by_role("tab", name="Python").click()
    text = _snippets(console)
    assert f'anthropic.Anthropic(base_url="{base}", api_key="{API_KEY}")' in text
    assert f'OpenAI(base_url="{base}/v1", api_key="{API_KEY}")' in text

    # A model picked from /v1/models goes into the examples.
    page.get_by_label("Model for the examples").select_option("claude-haiku-4-5-20251001")
    assert 'model="claude-haiku-4-5-20251001"' in _snippets(console)

    # The copy button copies the snippet.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.get_by_role("tabpanel").get_by_role("button", name="Copy").first.click()
    page.get_by_role("tabpanel").get_by_role("button", name="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("import anthropic") and API_KEY in copied

    # A key no stored key starts like is pointed out.
    page.get_by_label("Client key").fill("kg-not-a-stored-key")
    page.get_by_text("No stored key starts like this one").wait_for()
    console.check_accessibility()


def test_creating_a_key_fills_the_snippets(console: Console) -> None:
    page = console.page
    console.open("connect")
    page.get_by_role("button", name="Create a key for this client").click()
    dialog = page.get_by_role("dialog", name="A new client key")
    dialog.get_by_label("Name").fill("alice – Claude Code")
    console.check_accessibility()
    dialog.get_by_role("button", name="Create key").click()
    page.get_by_text("Key “alice – Claude Code” created").wait_for()
    key = page.get_by_label("Client key").input_value()
    assert key.startswith("kg-") and len(key) > 20
    page.get_by_text("This is the key “alice – Claude Code”.").wait_for()
    page.get_by_text("This is the only time the whole key is shown").wait_for()
    assert f"export ANTHROPIC_API_KEY={key}" in _snippets(console)
    console.check_accessibility()
    console.shoot("connect")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="Cline").click()
    console.shoot("connect-cline")

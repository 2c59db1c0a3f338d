"""The playground in a real browser: streamed chat in both dialects, thinking, tools, errors."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import Console


def _send(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def _answer(page: Any, n: int) -> Any:
    """The n-th answer (from 1), once it has finished (its metrics are shown)."""
    answer = page.locator(".turn-answer").nth(n - 1)
    answer.locator(".metrics").wait_for()
    return answer


def test_chat_streams_the_answer_with_its_thinking_in_both_dialects(console: Console) -> None:
    page = console.page
    console.open("playground")
    page.get_by_text("Start a conversation").wait_for()
    # The model picker is filled from /v1/models.
    assert page.get_by_label("Model", exact=True).input_value() == "claude-sonnet-4-6"
    page.get_by_role("switch", name="Extended thinking").click()
    page.get_by_label("Thinking budget (tokens)").fill("2048")
    page.get_by_label("System prompt").fill("Answer briefly.")

    _send(page, "Hello playground")
    first = _answer(page, 1)
    assert "Echo: Hello playground" in first.locator(".bubble-answer").inner_text()
    # The thinking folds away once the answer is written, and opens on demand.
    toggle = first.get_by_role("button", name="Thinking")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert "The user said" in first.locator(".thinking-text").inner_text()
    metrics = first.get_by_role("group", name="Answer metrics").inner_text()
    assert "First token" in metrics and "Duration" in metrics and "tokens" in metrics

    # The second turn, in the OpenAI dialect, carries the first as history.
    page.get_by_role("radio", name="OpenAI").click()
    page.get_by_text("reasoning_effort: low").wait_for()
    _send(page, "And again")
    second = _answer(page, 2)
    assert "Echo: And again" in second.locator(".bubble-answer").inner_text()
    assert second.get_by_role("button", name="Thinking").get_attribute("aria-expanded") == "false"
    assert "Output" in second.get_by_role("group", name="Answer metrics").inner_text()
    assert page.locator(".turn-user .bubble-user").count() == 2

    console.check_accessibility()
    console.shoot("playground")
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Start a conversation").wait_for()


def test_a_tool_call_is_shown_and_answered_with_the_sample_result(console: Console) -> None:
    page = console.page
    console.open("playground")
    page.get_by_role("switch", name="Offer a sample tool").click()
    _send(page, 'What is the weather? [[emu:tool input=\'{"city":"Lisbon"}\']]')
    answer = _answer(page, 1)
    card = answer.locator(".tool-card")
    assert "get_weather" in card.inner_text()
    assert '"city": "Lisbon"' in card.locator(".tool-json").inner_text()
    answer.get_by_text("Waiting for the tool's result").wait_for()
    page.get_by_role("button", name="Reply with a sample result").click()
    final = _answer(page, 2)
    assert "Tool result:" in final.locator(".bubble-answer").inner_text()
    assert "Lisbon" in page.locator(".turn-user .tool-card").inner_text()
    console.check_accessibility()
    console.shoot("playground-tool")


def test_a_gateway_error_is_shown_in_plain_words(console: Console) -> None:
    page = console.page
    console.allow("/v1/chat/completions", 404)
    console.open("playground")
    page.get_by_role("radio", name="OpenAI").click()
    page.get_by_label("Model", exact=True).select_option(label="Another model…")
    page.get_by_label("Model name").fill("no-such-model")
    _send(page, "Hello?")
    error = page.locator(".answer-error")
    error.wait_for()
    assert "The gateway could not answer" in error.inner_text()
    assert "model 'no-such-model' is not available" in error.inner_text()
    # The failed exchange is not sent again as history: the next one works.
    page.get_by_label("Model", exact=True).select_option("claude-sonnet-4-6")
    _send(page, "Second try")
    assert "Echo: Second try" in _answer(page, 2).locator(".bubble-answer").inner_text()


def test_stop_ends_a_slow_answer_and_keeps_what_came(console: Console) -> None:
    page = console.page
    console.open("playground")
    _send(page, "Take your time [[emu:slow delay=0.5]]")
    answer = page.locator(".turn-answer").first
    answer.locator(".bubble-answer:not(.waiting)").wait_for()
    # The cut stream is reported as a failed request: wait for it, then allow it below.
    with page.expect_event("requestfailed"):
        page.get_by_role("button", name="Stop").click()
    answer.get_by_text("Stopped before the answer ended.").wait_for()
    assert answer.locator(".metrics").is_visible()
    page.get_by_role("button", name="Send").wait_for()
    # The stream this test cut short is the one request allowed to fail (aborted).
    console.failures[:] = [
        failure
        for failure in console.failures
        if not ("/v1/messages" in failure and "ERR_ABORTED" in failure)
    ]

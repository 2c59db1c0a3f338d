"""The token estimate memos: same numbers as the computation, bounded in size."""

import pytest

from kirogate.convert import tokens
from kirogate.convert.tokens import estimate_text_tokens


def test_short_texts_are_remembered_by_their_text() -> None:
    text = "a short tool description that recurs on every request"
    first = estimate_text_tokens(text)
    assert tokens._short_memo[text] == first == tokens._tokens(text)
    assert estimate_text_tokens(text) == first


def test_changed_text_gets_its_own_estimate() -> None:
    base = "Run a shell command"
    changed = base + " and return its output, stdout and stderr both, as text"
    assert estimate_text_tokens(base) == tokens._tokens(base)
    assert estimate_text_tokens(changed) == tokens._tokens(changed)
    assert estimate_text_tokens(changed) > estimate_text_tokens(base)


@pytest.mark.parametrize("size", [1, 255, 256, 5000])
def test_memo_gives_the_computed_value_at_every_size(size: int) -> None:
    text = ("word ÿ 字 " * size)[:size]
    assert estimate_text_tokens(text) == tokens._tokens(text)
    assert estimate_text_tokens(text) == tokens._tokens(text)  # from the memo


def test_memos_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_MEMO_MAX_ENTRIES", 8)
    monkeypatch.setattr(tokens, "_SHORT_MEMO_MAX_ENTRIES", 8)
    monkeypatch.setattr(tokens, "_short_memo", {})
    monkeypatch.setattr(tokens, "_memo", {})
    for index in range(50):
        estimate_text_tokens(f"text number {index}")
        estimate_text_tokens(f"long text {index} " + "x" * 300)
    assert 0 < len(tokens._short_memo) <= 8
    assert 0 < len(tokens._memo) <= 8
    assert estimate_text_tokens("text number 3") == tokens._tokens("text number 3")

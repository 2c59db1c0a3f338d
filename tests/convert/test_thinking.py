from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from kirogate.convert.ir import TextDelta, ThinkingDelta, ThinkingStop
from kirogate.convert.thinking import (
    ANTHROPIC_EFFORTS,
    EFFORT_BUDGETS,
    EFFORT_TAGS,
    ThinkingOut,
    ThinkingParser,
)

TV4 = [
    "\n\n<thin",
    "king>\nThe user asks 2+2. Not `</thinking>` yet.",
    " It is 4.\n</thi",
    "nking>",
    "\n\nThe answer is **4**.",
]
TV5 = ["<thinking>\nNeed to read the file.\n</thinking>"]


def normalize(events: Sequence[ThinkingOut]) -> list[ThinkingOut]:
    """Merge adjacent deltas of one kind and drop empty ones: the chunking-free content."""
    out: list[ThinkingOut] = []
    for event in events:
        if isinstance(event, TextDelta | ThinkingDelta):
            if not event.text:
                continue
            last = out[-1] if out else None
            if type(last) is type(event):
                assert isinstance(last, TextDelta | ThinkingDelta)
                out[-1] = type(event)(last.text + event.text)
                continue
        out.append(event)
    return out


def run(chunks: Sequence[str]) -> list[ThinkingOut]:
    parser = ThinkingParser()
    events: list[ThinkingOut] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.flush())
    return normalize(events)


def cut(text: str, points: Sequence[int]) -> list[str]:
    bounds = [0, *sorted(points), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def test_tv4_tags_split_across_chunks() -> None:
    assert run(TV4) == [
        ThinkingDelta("The user asks 2+2. Not `</thinking>` yet. It is 4.\n"),
        ThinkingStop(),
        TextDelta("The answer is **4**."),
    ]


def test_tv5_close_without_blank_line_ends_at_flush() -> None:
    assert run(TV5) == [ThinkingDelta("Need to read the file.\n"), ThinkingStop()]


def test_every_two_cut_split_of_tv4_and_tv5_matches_one_shot() -> None:
    for chunks in (TV4, TV5):
        whole = "".join(chunks)
        expected = run([whole])
        for a in range(len(whole) + 1):
            for b in range(a, len(whole) + 1):
                assert run(cut(whole, [a, b])) == expected, (a, b)


def test_single_character_chunks_match_one_shot() -> None:
    for chunks in (TV4, TV5):
        whole = "".join(chunks)
        assert run(list(whole)) == run([whole])


_PIECES = st.sampled_from(
    [
        "<thinking>",
        "</thinking>",
        "<thin",
        "king>",
        "</thi",
        "\n",
        "\n\n",
        " ",
        "`",
        '"',
        ".",
        "a",
        "bc",
        "<",
        "/",
        ">",
        "é",
        "思",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=25),
    points=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_random_texts_parse_the_same_for_any_split(pieces: list[str], points: list[int]) -> None:
    whole = "".join(pieces)
    points = [p for p in points if p <= len(whole)]
    assert run(cut(whole, points)) == run([whole])


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=25))
def test_parser_keeps_every_character_outside_the_tags(pieces: list[str]) -> None:
    whole = "".join(pieces)
    events = run(list(whole))
    emitted = "".join(e.text for e in events if isinstance(e, TextDelta | ThinkingDelta))
    assert len(emitted) <= len(whole)
    assert sum(isinstance(e, ThinkingStop) for e in events) <= 1


def test_text_without_tags_passes_through() -> None:
    assert run(["Hello ", "world"]) == [TextDelta("Hello world")]


def test_whitespace_only_prefix_is_dropped() -> None:
    assert run(["\n\n", "<thinking>x</thinking>\n\nA"]) == [
        ThinkingDelta("x"),
        ThinkingStop(),
        TextDelta("A"),
    ]


def test_text_before_the_tag_is_emitted_with_its_whitespace() -> None:
    assert run(["Intro\n\n", "<thinking>x</thinking>\n\nA"]) == [
        TextDelta("Intro\n\n"),
        ThinkingDelta("x"),
        ThinkingStop(),
        TextDelta("A"),
    ]


def test_whitespace_only_response_is_text_at_the_end() -> None:
    assert run(["\n\n"]) == [TextDelta("\n\n")]


def test_quoted_open_tag_is_text() -> None:
    assert run(["Use `<thinking>` tags"]) == [TextDelta("Use `<thinking>` tags")]
    assert run(["say <thinking>, then"]) == [TextDelta("say <thinking>, then")]


def test_quote_before_a_held_back_tag_is_remembered() -> None:
    # RS forgets the backtick once it has emitted it; the tag must stay quoted.
    assert run(["a long preface `", "<thinking>", "` ok"]) == [
        TextDelta("a long preface `<thinking>` ok")
    ]


def test_open_tag_waits_for_the_next_character() -> None:
    parser = ThinkingParser()
    assert parser.feed("x <thinking>") == [TextDelta("x ")]
    assert parser.feed(".") == [TextDelta("<thinking>.")]


def test_leading_newline_after_the_tag_is_stripped_across_chunks() -> None:
    parser = ThinkingParser()
    assert parser.feed("<thinking>") == []
    assert not parser.in_thinking  # undecided until the next character
    assert parser.feed("\n") == []
    assert parser.in_thinking
    assert parser.feed("idea") == [ThinkingDelta("idea")]


def test_only_one_leading_newline_is_stripped() -> None:
    assert run(["<thinking>\n\nidea"]) == [ThinkingDelta("\nidea"), ThinkingStop()]


def test_close_needs_a_blank_line_while_streaming() -> None:
    parser = ThinkingParser()
    out = parser.feed("<thinking>\nidea</thinking>\nmore")
    assert normalize(out) == [ThinkingDelta("idea</thinking>\nmore")]
    assert parser.in_thinking


def test_quoted_close_tag_does_not_close() -> None:
    assert run(["<thinking>\nsay `</thinking>\n\n` done</thinking>\n\nA"]) == [
        ThinkingDelta("say `</thinking>\n\n` done"),
        ThinkingStop(),
        TextDelta("A"),
    ]


def test_close_tag_followed_by_whitespace_closes_at_flush() -> None:
    assert run(["<thinking>\nidea</thinking> \n "]) == [ThinkingDelta("idea"), ThinkingStop()]


def test_close_tag_then_one_character_at_the_end_does_not_close() -> None:
    assert run(["<thinking>\nx</thinking>y"]) == [ThinkingDelta("x</thinking>y"), ThinkingStop()]


def test_close_tag_followed_by_text_without_blank_line_stays_thinking() -> None:
    assert run(["<thinking>\nidea</thinking> answer"]) == [
        ThinkingDelta("idea</thinking> answer"),
        ThinkingStop(),
    ]


def test_never_closed_thinking_is_all_thinking() -> None:
    assert run(["<thinking>\nstill going"]) == [ThinkingDelta("still going"), ThinkingStop()]


def test_only_the_first_block_is_parsed() -> None:
    assert run(["<thinking>a</thinking>\n\nB <thinking>c</thinking>\n\n"]) == [
        ThinkingDelta("a"),
        ThinkingStop(),
        TextDelta("B <thinking>c</thinking>\n\n"),
    ]


def test_text_after_the_block_passes_straight_through() -> None:
    parser = ThinkingParser()
    parser.feed("<thinking>a</thinking>\n\n")
    assert parser.feed("<thi") == [TextDelta("<thi")]
    assert parser.feed("") == []


def test_empty_block_and_tag_at_the_end() -> None:
    assert run(["<thinking>\n</thinking>\n\nA"]) == [ThinkingStop(), TextDelta("A")]
    assert run(["Hi <thinking>"]) == [TextDelta("Hi "), ThinkingStop()]


def test_flush_before_a_tool_call_releases_held_text_and_keeps_searching() -> None:
    parser = ThinkingParser()
    assert parser.feed("\n\n") == []
    assert parser.flush() == [TextDelta("\n\n")]
    assert normalize(parser.feed("<thinking>\nx</thinking>\n\n")) == [
        ThinkingDelta("x"),
        ThinkingStop(),
    ]


def test_flush_ends_an_unclosed_block() -> None:
    parser = ThinkingParser()
    parser.feed("<thinking>\nplan")
    assert normalize(parser.flush()) == [ThinkingStop()]
    assert parser.feed("after") == [TextDelta("after")]


def test_empty_feed_yields_nothing() -> None:
    assert ThinkingParser().feed("") == []


# ---------------------------------------------------------------- effort


def test_every_anthropic_effort_has_a_budget_and_an_upstream_tag() -> None:
    for effort in ANTHROPIC_EFFORTS:
        budget, tag = EFFORT_BUDGETS[effort]
        assert budget > 0 and tag in EFFORT_TAGS


def test_effort_budgets_grow_with_the_effort() -> None:
    budgets = [EFFORT_BUDGETS[effort][0] for effort in ("minimal", *ANTHROPIC_EFFORTS)]
    assert budgets == sorted(budgets) and len(set(budgets)) == len(budgets)

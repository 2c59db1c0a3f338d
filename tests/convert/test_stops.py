from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from kirogate.convert.stops import OutputEstimate, StopSequenceFilter


def run(stops: Sequence[str], chunks: Sequence[str]) -> tuple[str, str | None]:
    f = StopSequenceFilter(stops)
    out = "".join(f.feed(chunk) for chunk in chunks)
    if f.matched is None:
        out += f.flush()
    return out, f.matched


def test_cuts_at_a_stop_sequence_split_across_chunks() -> None:
    assert run(["STOP"], ["Hello ST", "OP and more"]) == ("Hello ", "STOP")


def test_holds_back_only_a_possible_prefix() -> None:
    f = StopSequenceFilter(["STOP"])
    assert f.feed("abc ST") == "abc "
    assert f.feed("X") == "STX"
    assert f.feed("plain text") == "plain text"


def test_never_holds_more_than_longest_minus_one() -> None:
    f = StopSequenceFilter(["abcdef", "xy"])
    assert f.feed("zzabcde") == "zz"
    assert f.flush() == "abcde"
    assert f.flush() == ""


def test_match_that_completes_first_wins() -> None:
    assert run(["abcd", "c"], ["abcd"]) == ("ab", "c")
    assert run(["bc", "abc"], ["xabc"]) == ("x", "abc")  # same end: the earlier start


def test_text_after_a_match_is_dropped() -> None:
    f = StopSequenceFilter(["END"])
    assert f.feed("a END b") == "a "
    assert f.feed("more") == ""
    assert f.matched == "END"


def test_empty_and_duplicate_sequences_are_ignored() -> None:
    f = StopSequenceFilter(["", "x", "x"])
    assert f.feed("abx") == "ab"
    assert f.matched == "x"


def test_match_at_the_start() -> None:
    assert run(["Hi"], ["Hi there"]) == ("", "Hi")


_ALPHABET = st.text(alphabet="abc\n", max_size=40)


@settings(max_examples=400, deadline=None)
@given(
    text=_ALPHABET,
    stops=st.lists(st.text(alphabet="abc\n", min_size=1, max_size=4), min_size=1, max_size=3),
    points=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_any_split_gives_the_one_shot_result(
    text: str, stops: list[str], points: list[int]
) -> None:
    bounds = [0, *sorted(p for p in points if p <= len(text)), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    expected_end = min((text.find(s) + len(s) for s in stops if s in text), default=None)
    out, matched = run(stops, chunks)
    assert (out, matched) == run(stops, [text])
    if expected_end is None:
        assert (out, matched) == (text, None)
    else:
        assert matched is not None
        assert out + matched == text[:expected_end]


def test_estimate_counts_ascii_by_four() -> None:
    est = OutputEstimate()
    est.add("Hello, world!")
    assert est.tokens == 4
    est.add("abc")
    assert est.tokens == 4  # 16 characters


def test_estimate_counts_cjk_two_thirds() -> None:
    est = OutputEstimate()
    est.add("你好世界")  # 4 ideographs -> ceil(8/3) = 3
    assert est.tokens == 3
    est.add("é")  # non-ASCII but not CJK: an ordinary character
    assert (est.cjk, est.other, est.tokens) == (4, 1, 4)


def test_room_is_the_longest_prefix_within_the_limit() -> None:
    est = OutputEstimate()
    est.add("a" * 6)  # 2 tokens
    assert est.tokens_after("bb") == 2
    assert est.room("b" * 100, 3) == 6
    assert est.room("b" * 100, 2) == 2
    assert est.room("你" * 10, 4) == 3  # 2 (ascii) + ceil(6/3) = 4


def _probe_tokens(est: OutputEstimate, text: str) -> int:
    probe = OutputEstimate()
    probe.cjk, probe.other = est.cjk, est.other
    probe.add(text)
    return probe.tokens


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab你好é ", max_size=12), st.text(alphabet="ab你好é ", max_size=12))
def test_tokens_after_and_fits_agree_with_adding(before: str, text: str) -> None:
    est = OutputEstimate()
    est.add(before)
    after = _probe_tokens(est, text)
    assert est.tokens_after(text) == after
    for limit in range(max(0, after - 2), after + 3):
        assert est.fits(text, limit) is (after <= limit)
    assert (est.cjk, est.other) == (
        len([c for c in before if c in "你好"]),
        len(before) - len([c for c in before if c in "你好"]),
    )


def test_fits_decides_far_from_the_limit_without_counting() -> None:
    est = OutputEstimate()
    est.add("x" * 40)  # 10 tokens
    assert est.fits("y" * 50, 60)  # 10 + 50 characters can never pass 60 tokens
    assert est.fits("y" * 50, 23)  # exact: ceil(90/4) = 23
    assert not est.fits("y" * 50, 22)

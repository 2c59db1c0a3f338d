"""The plain numbers the hot path records into."""

from __future__ import annotations

import pytest

from kirogate.metrics.series import Buckets, Counts, label_values


def test_label_sets_past_the_limit_fold_into_other(caplog: pytest.LogCaptureFixture) -> None:
    counts = Counts("paths_total", 1, max_series=3)
    for index in range(10):
        counts.add(f"/p/{index}")
    assert len(counts.values) == 4
    assert counts.values["other"] == 7
    assert sum("reached 3 label sets" in r.getMessage() for r in caplog.records) == 1


def test_folded_keys_of_several_labels_are_other_in_every_label() -> None:
    counts = Counts("requests_total", 2, max_series=1)
    counts.add(("/a", 200))
    counts.add(("/b", 500))
    assert counts.values == {("/a", 200): 1, ("other", "other"): 1}


def test_histogram_value_on_a_bound_lands_in_that_bucket() -> None:
    buckets = Buckets("h", 1, (1.0, 2.0))
    buckets.observe("x", 1.0)
    buckets.observe("x", 2.0)
    buckets.observe("x", 2.5)
    assert buckets.values["x"] == [1, 1, 1, 5.5]


@pytest.mark.parametrize("bounds", [(2.0, 1.0), (), (1.0, 1.0)])
def test_histogram_bounds_must_increase(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        Buckets("h", 1, bounds)


def test_label_values_are_text() -> None:
    assert label_values(("/v1/messages", 200), 2) == ["/v1/messages", "200"]
    assert label_values("input", 1) == ["input"]

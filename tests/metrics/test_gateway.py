"""The gateway's metrics through prometheus_client's collectors and exposition."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kirogate.metrics import GatewayMetrics
from tests.api.test_metrics import assert_valid_exposition


def test_a_failing_credential_source_leaves_the_scrape_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("source down")

    metrics = GatewayMetrics()
    metrics.set_credential_source(broken)
    with caplog.at_level(logging.ERROR):
        text = metrics.render().decode()
    assert "# TYPE kirogate_credentials gauge\n# HELP kirogate_build_info" in text
    assert any("kirogate_credentials" in r.getMessage() for r in caplog.records)


def test_label_values_are_escaped() -> None:
    metrics = GatewayMetrics()
    metrics.upstream_error('a"b\\c\nd')
    text = metrics.render().decode()
    assert 'kirogate_upstream_errors_total{class="a\\"b\\\\c\\nd"} 1.0' in text
    assert_valid_exposition(metrics.render())


def test_status_codes_are_labels_as_text_and_series_are_sorted() -> None:
    metrics = GatewayMetrics()
    for status in (500, 200, 429, 200):
        metrics.request_started()
        metrics.request_finished("/v1/messages", status, 0.1)
    lines = [
        line
        for line in metrics.render().decode().splitlines()
        if line.startswith("kirogate_requests_total{")
    ]
    assert lines == [
        'kirogate_requests_total{endpoint="/v1/messages",status="200"} 2.0',
        'kirogate_requests_total{endpoint="/v1/messages",status="429"} 1.0',
        'kirogate_requests_total{endpoint="/v1/messages",status="500"} 1.0',
    ]


def test_histogram_buckets_are_cumulative_with_count_and_sum() -> None:
    metrics = GatewayMetrics()
    for seconds in (0.004, 0.3, 700.0):
        metrics.request_finished("/x", 200, seconds)
    text = metrics.render().decode()
    assert 'kirogate_request_duration_seconds_bucket{endpoint="/x",le="0.005"} 1.0' in text
    assert 'kirogate_request_duration_seconds_bucket{endpoint="/x",le="0.5"} 2.0' in text
    assert 'kirogate_request_duration_seconds_bucket{endpoint="/x",le="600.0"} 2.0' in text
    assert 'kirogate_request_duration_seconds_bucket{endpoint="/x",le="+Inf"} 3.0' in text
    assert 'kirogate_request_duration_seconds_count{endpoint="/x"} 3.0' in text
    assert 'kirogate_request_duration_seconds_sum{endpoint="/x"} 700.304' in text


def test_without_the_multiprocess_directory_at_import_nothing_is_shared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = GatewayMetrics()
    with caplog.at_level(logging.WARNING):
        assert metrics.use_multiprocess(tmp_path) is False
    assert metrics.shared is None
    assert any("PROMETHEUS_MULTIPROC_DIR" in r.getMessage() for r in caplog.records)


def test_database_metrics_appear_only_with_a_database() -> None:
    metrics = GatewayMetrics()
    assert "kirogate_database_up" not in metrics.render().decode()
    metrics.set_database_source(
        lambda: {
            "up": 0,
            "request_logs_queued": 12,
            "request_logs_dropped": 3,
            "pool_state_pending": 2,
        }
    )
    text = metrics.render().decode()
    assert "kirogate_database_up 0.0" in text
    assert 'kirogate_store_writes_queued{kind="request_log"} 12.0' in text
    assert 'kirogate_store_writes_queued{kind="pool_state"} 2.0' in text
    assert 'kirogate_store_writes_dropped_total{kind="request_log"} 3.0' in text
    assert_valid_exposition(metrics.render())
    metrics.set_database_source(lambda: None)
    assert "kirogate_database_up" not in metrics.render().decode()


def test_a_failing_database_source_leaves_the_scrape_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("store gone")

    metrics = GatewayMetrics()
    metrics.set_database_source(broken)
    with caplog.at_level(logging.ERROR):
        text = metrics.render().decode()
    assert "kirogate_build_info" in text and "kirogate_database_up" not in text


async def test_a_scrape_in_the_event_loop_counts_its_tasks() -> None:
    text = GatewayMetrics().render().decode()
    line = next(line for line in text.splitlines() if line.startswith("kirogate_asyncio_tasks "))
    assert float(line.split()[1]) >= 1  # at least the test's own task


def test_a_scrape_outside_the_event_loop_has_no_task_gauge() -> None:
    assert "kirogate_asyncio_tasks" not in GatewayMetrics().render().decode()

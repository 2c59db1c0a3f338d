"""The Prometheus registry, the gateway's metrics and ``GET /metrics``."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.metrics import (
    CONTENT_TYPE,
    CallbackMetric,
    Counter,
    GatewayMetrics,
    Gauge,
    Histogram,
    ProcessStats,
    Registry,
)
from kirogate.metrics.registry import format_value
from kirogate.service import Gateway
from kirogate.settings import load_settings

# One exposition line: a comment or a sample `name{labels} value`.
_LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\}'
_VALUE = r"(?:[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|Inf)|NaN)"
_SAMPLE = re.compile(rf"[a-zA-Z_:][a-zA-Z0-9_:]*(?:{_LABELS})? {_VALUE}")
_COMMENT = re.compile(
    r"# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
    r"(?:counter|gauge|histogram|untyped))"
)


def assert_valid_exposition(body: bytes) -> list[str]:
    text = body.decode("utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    for line in lines:
        assert _COMMENT.fullmatch(line) or _SAMPLE.fullmatch(line), f"bad line: {line!r}"
    return lines


# ---------------------------------------------------------------- registry


def test_counter_gauge_and_histogram_render_in_text_format() -> None:
    registry = Registry()
    counter = registry.register(Counter("jobs_total", "Jobs done.", ("kind",)))
    gauge = registry.register(Gauge("queue_depth", "Jobs waiting."))
    histogram = registry.register(Histogram("job_seconds", "Job time.", buckets=(0.5, 1)))
    counter.labels("a").inc()
    counter.labels("a").inc(2)
    counter.labels("b").inc()
    gauge.set(4)
    gauge.dec()
    for value in (0.2, 0.5, 0.7, 3.0):
        histogram.observe(value)
    assert registry.render().decode() == (
        "# HELP jobs_total Jobs done.\n"
        "# TYPE jobs_total counter\n"
        'jobs_total{kind="a"} 3\n'
        'jobs_total{kind="b"} 1\n'
        "# HELP queue_depth Jobs waiting.\n"
        "# TYPE queue_depth gauge\n"
        "queue_depth 3\n"
        "# HELP job_seconds Job time.\n"
        "# TYPE job_seconds histogram\n"
        'job_seconds_bucket{le="0.5"} 2\n'
        'job_seconds_bucket{le="1.0"} 3\n'
        'job_seconds_bucket{le="+Inf"} 4\n'
        "job_seconds_sum 4.4\n"
        "job_seconds_count 4\n"
    )


def test_label_values_and_help_are_escaped() -> None:
    registry = Registry()
    counter = registry.register(Counter("odd_total", 'Back\\slash and\nnewline "quoted".', ("v",)))
    counter.labels('a"b\\c\nd').inc()
    text = registry.render().decode()
    assert '# HELP odd_total Back\\\\slash and\\nnewline "quoted".' in text
    assert 'odd_total{v="a\\"b\\\\c\\nd"} 1' in text
    assert_valid_exposition(registry.render())


def test_values_are_formatted_like_prometheus() -> None:
    assert format_value(3.0) == "3"
    assert format_value(0.25) == "0.25"
    assert format_value(math.inf) == "+Inf"
    assert format_value(-math.inf) == "-Inf"
    assert format_value(math.nan) == "NaN"
    assert format_value(1e20) == "1e+20"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Counter("no_suffix", "x"),
        lambda: Counter("bad-name_total", "x"),
        lambda: Counter("ok_total", "x", ("__reserved",)),
        lambda: Counter("ok_total", "x", ("a", "a")),
        lambda: Histogram("h", "x", ("le",), buckets=(1,)),
        lambda: Histogram("h", "x", buckets=(2, 1)),
        lambda: Histogram("h", "x", buckets=()),
        lambda: CallbackMetric("c", "x", callback=list, kind="histogram"),
    ],
)
def test_invalid_definitions_are_rejected(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_wrong_number_of_label_values_is_an_error() -> None:
    counter = Counter("x_total", "x", ("a", "b"))
    with pytest.raises(ValueError, match="takes 2 label value"):
        counter.labels("only-one")


def test_non_string_label_values_share_the_series_of_their_text() -> None:
    counter = Counter("codes_total", "x", ("code",))
    counter.labels(200).inc()  # type: ignore[arg-type]
    counter.labels(200).inc()  # type: ignore[arg-type]
    counter.labels("200").inc()
    assert counter.labels("200").value == 3
    assert len(counter._children) == 1


def test_counters_only_go_up() -> None:
    with pytest.raises(ValueError):
        Counter("x_total", "x").labels().inc(-1)


def test_duplicate_registration_is_an_error() -> None:
    registry = Registry()
    registry.register(Gauge("g", "x"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Gauge("g", "y"))


def test_label_sets_past_the_limit_fold_into_other(caplog: pytest.LogCaptureFixture) -> None:
    counter = Counter("paths_total", "x", ("path",), max_series=3)
    for index in range(10):
        counter.labels(f"/p/{index}").inc()
    values = {labels: child.value for labels, child in counter._children.items()}
    assert len(values) == 4
    assert values[("other",)] == 7
    assert sum("reached 3 label sets" in r.getMessage() for r in caplog.records) == 1


def test_histogram_value_on_a_bound_lands_in_that_bucket() -> None:
    histogram = Histogram("h", "x", buckets=(1, 2))
    histogram.observe(1.0)
    histogram.observe(2.0)
    assert histogram.labels().counts == [1, 1, 0]


def test_a_failing_callback_leaves_its_family_empty_and_the_scrape_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> list[tuple[tuple[str, ...], float]]:
        raise RuntimeError("source down")

    registry = Registry()
    registry.register(CallbackMetric("broken", "x", callback=broken))
    registry.register(Gauge("fine", "x")).set(1)
    with caplog.at_level(logging.ERROR):
        text = registry.render().decode()
    assert "# TYPE broken gauge\n# HELP fine x\n" in text
    assert "fine 1" in text
    assert any("broken" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- gateway metrics


def test_gateway_metrics_methods_feed_their_series() -> None:
    metrics = GatewayMetrics()
    metrics.observe_ttft("/v1/messages", 0.3)
    metrics.add_tokens(input=120, output=30)
    metrics.add_tokens(input=-5, output=0)
    metrics.upstream_error("UpstreamThrottled")
    metrics.upstream_error("UpstreamThrottled")
    metrics.refresh("ok")
    metrics.refresh("invalid_grant")
    metrics.set_credential_source(lambda: {"ready": 2, "cooling": 1})
    lines = assert_valid_exposition(metrics.render())
    assert 'kirogate_ttft_seconds_count{endpoint="/v1/messages"} 1' in lines
    assert 'kirogate_ttft_seconds_bucket{endpoint="/v1/messages",le="0.25"} 0' in lines
    assert 'kirogate_ttft_seconds_bucket{endpoint="/v1/messages",le="0.5"} 1' in lines
    assert 'kirogate_tokens_total{direction="input"} 120' in lines
    assert 'kirogate_tokens_total{direction="output"} 30' in lines
    assert 'kirogate_upstream_errors_total{class="UpstreamThrottled"} 2' in lines
    assert 'kirogate_refreshes_total{outcome="invalid_grant"} 1' in lines
    assert 'kirogate_refreshes_total{outcome="ok"} 1' in lines
    for state, count in (("ready", 2), ("cooling", 1), ("busy", 0), ("disabled", 0)):
        assert f'kirogate_credentials{{state="{state}"}} {count}' in lines
    assert any(line.startswith('kirogate_build_info{version="') for line in lines)


def test_request_counting_pairs_inflight_and_duration() -> None:
    metrics = GatewayMetrics()
    metrics.request_started()
    assert "kirogate_inflight_requests 1" in metrics.render().decode()
    metrics.request_finished("/v1/messages", 200, 1.5)
    lines = metrics.render().decode().splitlines()
    assert "kirogate_inflight_requests 0" in lines
    assert 'kirogate_requests_total{endpoint="/v1/messages",status="200"} 1' in lines
    assert 'kirogate_request_duration_seconds_sum{endpoint="/v1/messages"} 1.5' in lines


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_process_metrics_come_from_proc() -> None:
    text = GatewayMetrics().render().decode()
    for name in (
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ):
        value = next(float(s.split()[1]) for s in text.splitlines() if s.startswith(name + " "))
        assert value > 0, name
    assert "# TYPE process_cpu_seconds_total counter" in text


def test_process_stats_parse_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "self" / "fd").mkdir(parents=True)
    for fd in range(3):
        (tmp_path / "self" / "fd" / str(fd)).touch()
    # pid (comm with ) and spaces) state ... : utime=200 stime=100 starttime=500 vsize rss
    fields = ["S"] + ["0"] * 10 + ["200", "100"] + ["0"] * 6 + ["500", "4096000", "250"]
    (tmp_path / "self" / "stat").write_text("42 (odd) name) " + " ".join(fields) + "\n")
    (tmp_path / "stat").write_text("cpu 1 2 3\nbtime 1700000000\n")
    stats = ProcessStats(str(tmp_path))
    ticks, page = stats._ticks, stats._page
    read = stats.read()
    assert read["cpu"] == pytest.approx(300 / ticks)
    assert read["virtual"] == 4096000
    assert read["rss"] == 250 * page
    assert read["start"] == pytest.approx(1700000000 + 500 / ticks)
    assert read["fds"] == 3


def test_process_stats_fall_back_without_proc(tmp_path: Path) -> None:
    read = ProcessStats(str(tmp_path / "missing")).read()
    assert read["start"] > 0
    assert read["cpu"] >= 0
    assert "fds" not in read


# ---------------------------------------------------------------- GET /metrics


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics()


async def _client(
    metrics: GatewayMetrics, *, admin_key: str | None = None, ip: str = "127.0.0.1"
) -> httpx2.AsyncClient:
    settings = load_settings({}, {"server.admin_key": admin_key})
    app = create_app(Gateway(settings, []), metrics=metrics, environ={})
    transport = httpx2.ASGITransport(app=app, client=(ip, 4000))
    return httpx2.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def local(metrics: GatewayMetrics) -> AsyncIterator[httpx2.AsyncClient]:
    async with await _client(metrics) as http:
        yield http


async def test_metrics_are_open_to_localhost_without_an_admin_key(
    local: httpx2.AsyncClient,
) -> None:
    await local.get("/health")
    response = await local.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    lines = assert_valid_exposition(response.content)
    assert 'kirogate_requests_total{endpoint="/health",status="200"} 1' in lines


@pytest.mark.parametrize("ip", ["::1", "127.0.0.9"])
async def test_any_loopback_address_may_scrape(metrics: GatewayMetrics, ip: str) -> None:
    async with await _client(metrics, ip=ip) as http:
        assert (await http.get("/metrics")).status_code == 200


async def test_remote_scrape_without_an_admin_key_is_refused(metrics: GatewayMetrics) -> None:
    async with await _client(metrics, ip="203.0.113.7") as http:
        response = await http.get("/metrics")
    assert response.status_code == 403
    assert "KIROGATE_ADMIN_KEY" in response.json()["error"]["message"]


async def test_admin_key_is_required_when_configured(metrics: GatewayMetrics) -> None:
    async with await _client(metrics, admin_key="admin-secret-1", ip="127.0.0.1") as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer admin-secret-1"})
        assert right.status_code == 200


async def test_admin_key_lets_remote_scrapers_in(metrics: GatewayMetrics) -> None:
    async with await _client(metrics, admin_key="admin-secret-1", ip="203.0.113.7") as http:
        response = await http.get("/metrics", headers={"x-api-key": "admin-secret-1"})
    assert response.status_code == 200

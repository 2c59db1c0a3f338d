"""Several worker processes share their metrics through prometheus_client's files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from kirogate.metrics import MULTIPROC_ENV
from tests.live import admin_key_for, live_stack

PG = "postgresql://postgres@127.0.0.1:5432"

# One worker: records what argv says, then writes its numbers (or, with "crash", leaves
# without the shutdown's bookkeeping) and prints the summed scrape when asked.
WORKER = r"""
import json, os, sys
from pathlib import Path
from kirogate.metrics import GatewayMetrics

requests, inflight, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
metrics = GatewayMetrics()
assert metrics.use_multiprocess(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
for _ in range(requests):
    metrics.request_started()
    metrics.add_tokens(input=10, output=3)
    metrics.observe_ttft("/v1/messages", 0.3)
    metrics.request_finished("/v1/messages", 200, 1.5)
for _ in range(inflight):
    metrics.request_started()
if mode == "scrape":
    sys.stdout.write(metrics.render().decode())
elif mode == "crash":
    metrics.shared.flush()
    os._exit(0)
else:
    metrics.shared.close()
"""


def worker(directory: Path, requests: int, inflight: int, mode: str) -> str:
    env = dict(os.environ, **{MULTIPROC_ENV: str(directory)})
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(requests), str(inflight), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_scrape_adds_up_every_workers_numbers(tmp_path: Path) -> None:
    worker(tmp_path, requests=2, inflight=0, mode="stop")
    worker(tmp_path, requests=3, inflight=0, mode="stop")
    lines = worker(tmp_path, requests=1, inflight=1, mode="scrape").splitlines()
    assert 'kirogate_requests_total{endpoint="/v1/messages",status="200"} 6.0' in lines
    assert 'kirogate_tokens_total{direction="input"} 60.0' in lines
    assert 'kirogate_request_duration_seconds_count{endpoint="/v1/messages"} 6.0' in lines
    assert 'kirogate_request_duration_seconds_sum{endpoint="/v1/messages"} 9.0' in lines
    assert 'kirogate_ttft_seconds_bucket{endpoint="/v1/messages",le="0.25"} 0.0' in lines
    assert 'kirogate_ttft_seconds_bucket{endpoint="/v1/messages",le="0.5"} 6.0' in lines
    # Only the scraping worker is still running, with its one request in flight.
    assert "kirogate_inflight_requests 1.0" in lines
    assert any(line.startswith("kirogate_build_info{") for line in lines)
    assert not any(line.startswith("process_") for line in lines)


def test_a_worker_that_died_leaves_its_counts_but_not_its_inflight(tmp_path: Path) -> None:
    worker(tmp_path, requests=4, inflight=2, mode="crash")
    dead = [name for name in os.listdir(tmp_path) if name.startswith("gauge_livesum_")]
    assert len(dead) == 1
    lines = worker(tmp_path, requests=0, inflight=0, mode="scrape").splitlines()
    assert 'kirogate_requests_total{endpoint="/v1/messages",status="200"} 4.0' in lines
    assert "kirogate_inflight_requests 0.0" in lines
    assert dead[0] not in os.listdir(tmp_path)


# ------------------------------------------------------- a real `serve --workers 2`


@pytest.fixture
def database() -> Iterator[str]:
    import asyncio

    name = f"kg_metrics_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(f"{PG}/test", timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        from tests.cluster.conftest import unavailable

        unavailable(f"PostgreSQL at {PG}", f"{type(exc).__name__}: {exc}")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _get(url: str, path: str) -> str:
    request = urllib.request.Request(url + path, headers={"x-api-key": admin_key_for(url)})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


@pytest.mark.timeout(180)
def test_serve_with_two_workers_scrapes_the_sum_of_both(tmp_path: Path, database: str) -> None:
    requests = 12
    with live_stack(
        tmp_path,
        serve_args=["--workers", "2", "--database-url", database, "--log-level", "warning"],
    ) as stack:
        shared = stack.data_dir / "metrics"
        deadline = time.monotonic() + 30
        while len([n for n in os.listdir(shared) if n.startswith("gauge_livesum_")]) < 2:
            assert time.monotonic() < deadline, os.listdir(shared)
            time.sleep(0.2)  # each worker writes its in-flight gauge within a second
        for _ in range(requests):
            _get(stack.base_url, "/version")  # a new connection each: either worker may answer
        want = f'kirogate_requests_total{{endpoint="/version",status="200"}} {requests}.0'
        deadline = time.monotonic() + 10
        while True:
            scrapes = [_get(stack.base_url, "/metrics").splitlines() for _ in range(4)]
            if all(want in lines for lines in scrapes):
                break
            assert time.monotonic() < deadline, [s for s in scrapes[0] if "requests_total" in s]
            time.sleep(0.3)
        # A worker's in-flight share is at most a second old: after a quiet second, only the
        # scrape itself is in flight.
        time.sleep(1.5)
        assert "kirogate_inflight_requests 1.0" in _get(stack.base_url, "/metrics").splitlines()
        workers = {n.rsplit("_", 1)[1] for n in os.listdir(shared) if n.startswith("gauge_")}
        assert len(workers) == 2

"""The load generator against an in-process emulator, and the report's target checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from bench import loadgen, report

from kirogate.emulator.answers import paced_chunks
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig, Pacing
from tests.emulator.support import request_body, social_token


@asynccontextmanager
async def paced_emulator(count: int, size: int) -> AsyncIterator[tuple[RunningEmulator, str]]:
    """An emulator answering ``count`` chunks of ``size`` characters, and an access token."""
    emulator = await start_emulator(
        EmulatorConfig(port=0, pacing=Pacing(chunk_count=count, chunk_size=size))
    )
    try:
        async with aiohttp.ClientSession() as session:
            token = await social_token(session, emulator.url)
        yield emulator, token
    finally:
        await emulator.close()


async def test_direct_load_checks_text_and_counts_requests() -> None:
    async with paced_emulator(4, 6) as (emulator, token):
        result = await loadgen.run(
            {
                "target": "direct",
                "urls": [emulator.url],
                "concurrency": 3,
                "requests": 7,
                "time_limit": 30,
                "expected_text": "".join(paced_chunks(4, 6)),
                "direct_headers": {"Authorization": f"Bearer {token}"},
                "direct_body": request_body("benchmark"),
            }
        )
    assert (result["ok"], result["errors"], result["invalid"], result["mismatched"]) == (7, 0, 0, 0)
    assert result["ttft_ms"]["p50"] is not None
    assert result["total_ms"]["p99"] >= result["total_ms"]["p50"]


async def test_text_that_differs_is_counted() -> None:
    async with paced_emulator(2, 5) as (emulator, token):
        result = await loadgen.run(
            {
                "target": "direct",
                "urls": [emulator.url],
                "concurrency": 1,
                "requests": 2,
                "time_limit": 30,
                "expected_text": "something else",
                "direct_headers": {"Authorization": f"Bearer {token}"},
                "direct_body": request_body("benchmark"),
            }
        )
    assert result["mismatched"] == 2
    assert "text differs" in result["samples"][0]


def test_percentiles_use_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentiles(values) == {"p50": 50.0, "p99": 99.0, "mean": 50.5, "max": 100.0}
    assert loadgen.percentiles([])["p50"] is None


def cell(setting: str, c: int, target: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "setting": setting,
        "concurrency": c,
        "target": target,
        "rps": 100.0,
        "ttft_ms": {"p50": 50.0},
        "errors": 0,
        "invalid": 0,
        "mismatched": 0,
    }
    if target != "direct":
        base |= {"gateway_cpu_ms_per_req": 1.0, "gateway_peak_rss_mb": 60.0}
    return base | kw


def test_verdicts_compare_gateway_cells_with_direct_ones() -> None:
    cells = [
        cell("paced", 1, "direct"),
        cell("paced", 1, "anthropic", ttft_ms={"p50": 50.5}),
        cell("paced", 128, "direct", rps=200.0, ttft_ms={"p50": 100.0}),
        cell(
            "paced", 128, "anthropic", rps=150.0, ttft_ms={"p50": 140.0}, gateway_peak_rss_mb=90.0
        ),
        cell("burst", 16, "anthropic", gateway_cpu_ms_per_req=2.5, mismatched=1),
    ]
    checks = {c["check"]: c["ok"] for c in report.verdicts(cells) if c["issue"] in (0, 6)}
    assert checks["TTFT added c=1 p50 anthropic <= 1.0 ms"] is True
    assert checks["TTFT p50 c=128 anthropic <= 1.5x direct"] is True
    assert checks["throughput c=128 paced anthropic >= 90% of direct"] is False
    assert checks["peak RSS c=128 <= 80 MB"] is False
    assert checks["gateway CPU/request burst <= 3.0 ms"] is True
    assert checks["no lost/reordered text, no invalid SSE"] is False


def test_issue16_verdicts_compare_with_the_relay_and_direct_per_mode() -> None:
    cells = []
    for tls in (False, True):
        cells += [
            cell("paced", 1, "relay", ttft_ms={"p50": 50.0}, tls=tls),
            cell("paced", 1, "anthropic", ttft_ms={"p50": 50.8 if tls else 51.5}, tls=tls),
            cell("paced", 16, "relay", gateway_cpu_ms_per_req=2.0, tls=tls),
            cell("paced", 16, "anthropic", gateway_cpu_ms_per_req=2.9, tls=tls),
            cell("paced", 128, "direct", rps=200.0, tls=tls),
            cell("paced", 128, "anthropic", rps=191.0, tls=tls),
            cell("burst", 16, "relay", gateway_cpu_ms_per_req=0.5, tls=tls),
            cell("burst", 16, "anthropic", gateway_cpu_ms_per_req=1.2, tls=tls),
            cell(
                "slow",
                1000,
                "anthropic",
                requested=1000,
                ok=1000,
                max_open=1000,
                gateway_peak_rss_mb=149.0,
                stream_kib=70.0 if tls else 50.0,
                tls=tls,
            ),
        ]
    checks = {(c["check"], c["mode"]): c for c in report.verdicts(cells) if c["issue"] == 16}
    ok = {key: c["ok"] for key, c in checks.items()}
    for mode in ("plain", "TLS"):
        assert ok["CPU/request paced c=16 anthropic <= 1.5x relay", mode] is True
        assert checks["CPU/request paced c=16 anthropic <= 1.5x relay", mode]["measured"] == (
            "1.45x (2.90 vs 2.00 ms)"
        )
        assert ok["throughput paced c=128 anthropic >= 95% of direct", mode] is True
        assert ok["CPU/request burst c=16 anthropic <= 2.0x relay", mode] is False
        assert ok["c=1000 anthropic: every stream answered, no errors", mode] is True
        assert ok["peak RSS c=1000 anthropic <= 150 MiB", mode] is True
    assert ok["TTFT p50 c=1 anthropic <= relay + 1 ms", "plain"] is False
    assert ok["TTFT p50 c=1 anthropic <= relay + 1 ms", "TLS"] is True
    assert ok["memory per open stream c=1000 anthropic <= 64 KiB", "plain"] is True
    assert ok["memory per open stream c=1000 anthropic <= 64 KiB", "TLS"] is False
    table = report.markdown(
        cells,
        list(checks.values()),
        {"nproc": 2, "cpu": "x", "python": "3", "loadavg": (1.0, 1.0, 1.0)},
    )
    assert (
        "| memory per open stream c=1000 anthropic <= 64 KiB | 50.0 KiB: met | 70.0 KiB: **not met** |"
        in table
    )


def test_a_scale_cell_whose_streams_were_never_all_open_fails_the_memory_target() -> None:
    scale = cell("slow", 1000, "openai", requested=1000, ok=1000, max_open=700, stream_kib=None)
    [answered, peak, memory] = report.verdicts([scale])[:3]
    assert answered["ok"] is True and peak["ok"] is True
    assert memory["measured"] == "not all open at once (at most 700)"
    assert memory["ok"] is False

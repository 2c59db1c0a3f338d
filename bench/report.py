"""Tables and the issue #6 target checks for ``bench/run.py`` results."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# (name, limit) of issue #6, for a single worker on 2 shared cores.
CPU_PACED_MS = 1.5
CPU_BURST_MS = 3.0
TTFT_ADDED_C1_MS = 1.0
TTFT_C128_RATIO = 1.5
THROUGHPUT_C128_SHARE = 0.9
PEAK_RSS_MB = 80.0


def _cell(cells: Iterable[dict[str, Any]], setting: str, c: int, target: str) -> dict[str, Any]:
    for cell in cells:
        if (cell["setting"], cell["concurrency"], cell["target"]) == (setting, c, target):
            return cell
    return {}


def _check(name: str, measured: str, ok: bool) -> dict[str, Any]:
    return {"check": name, "measured": measured, "ok": ok}


def verdicts(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of issue #6 that the run has the cells for, with the measured value."""
    out: list[dict[str, Any]] = []
    gateway = [c for c in cells if c["target"] in ("anthropic", "openai")]
    for setting, limit in (("paced", CPU_PACED_MS), ("burst", CPU_BURST_MS)):
        costs = [c["gateway_cpu_ms_per_req"] for c in gateway if c["setting"] == setting]
        if costs:
            worst = max(costs)
            out.append(
                _check(f"gateway CPU/request {setting} <= {limit} ms", f"{worst}", worst <= limit)
            )
    for target in ("anthropic", "openai"):
        direct, via = _cell(cells, "paced", 1, "direct"), _cell(cells, "paced", 1, target)
        if direct.get("ttft_ms", {}).get("p50") and via.get("ttft_ms", {}).get("p50"):
            added = round(via["ttft_ms"]["p50"] - direct["ttft_ms"]["p50"], 3)
            out.append(
                _check(
                    f"TTFT added c=1 p50 {target} <= {TTFT_ADDED_C1_MS} ms",
                    f"{added}",
                    added <= TTFT_ADDED_C1_MS,
                )
            )
        direct, via = _cell(cells, "paced", 128, "direct"), _cell(cells, "paced", 128, target)
        if direct.get("ttft_ms", {}).get("p50") and via.get("ttft_ms", {}).get("p50"):
            ratio = round(via["ttft_ms"]["p50"] / direct["ttft_ms"]["p50"], 2)
            out.append(
                _check(
                    f"TTFT p50 c=128 {target} <= {TTFT_C128_RATIO}x direct",
                    f"{ratio}x",
                    ratio <= TTFT_C128_RATIO,
                )
            )
        if direct.get("rps") and via.get("rps"):
            share = round(via["rps"] / direct["rps"], 3)
            out.append(
                _check(
                    f"throughput c=128 paced {target} >= {THROUGHPUT_C128_SHARE:.0%} of direct",
                    f"{share:.1%}",
                    share >= THROUGHPUT_C128_SHARE,
                )
            )
    peaks = [c["gateway_peak_rss_mb"] for c in gateway if c["concurrency"] == 128]
    if peaks:
        out.append(
            _check(
                f"peak RSS c=128 <= {PEAK_RSS_MB:.0f} MB",
                f"{max(peaks)}",
                max(peaks) <= PEAK_RSS_MB,
            )
        )
    bad = sum(c["mismatched"] + c["invalid"] for c in cells)
    errors = sum(c["errors"] for c in cells)
    out.append(_check("no lost/reordered text, no invalid SSE", f"{bad} bad", bad == 0))
    out.append(_check("no errors", f"{errors} errors", errors == 0))
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(
    cells: list[dict[str, Any]], checks: list[dict[str, Any]], info: dict[str, Any], *, workers: int
) -> None:
    print(
        f"\nmachine: {info['nproc']} x {info['cpu']}, Python {info['python']}, "
        f"load {info['loadavg'][0]:.2f} before / {info.get('loadavg_after', ['?'])[0]} after; "
        f"gateway workers: {workers}\n"
    )
    head = (
        f"{'setting':<7}{'c':>5} {'target':<10}{'req/s':>8}{'ttft50':>8}{'ttft99':>8}"
        f"{'tot50':>8}{'tot99':>8}{'err':>5}{'inv':>5}{'diff':>5}{'gwCPU':>8}{'emuCPU':>8}{'RSS':>7}"
    )
    print(head)
    print("-" * len(head))
    for c in cells:
        cpu = c.get("gateway_cpu_ms_per_req")
        rss = c.get("gateway_peak_rss_mb")
        print(
            f"{c['setting']:<7}{c['concurrency']:>5} {c['target']:<10}{c['rps']:>8.1f}"
            f"{_ms(c['ttft_ms']['p50']):>8}{_ms(c['ttft_ms']['p99']):>8}"
            f"{_ms(c['total_ms']['p50']):>8}{_ms(c['total_ms']['p99']):>8}"
            f"{c['errors']:>5}{c['invalid']:>5}{c['mismatched']:>5}"
            f"{'-' if cpu is None else f'{cpu:.2f}':>8}{c['emulator_cpu_ms_per_req']:>8.2f}"
            f"{'-' if rss is None else f'{rss:.0f}':>7}"
        )
        for sample in c.get("samples", []):
            print(f"{'':>13}! {sample}")
    print("\n(times in ms; CPU in ms per request; RSS = gateway peak MiB during the cell)\n")
    for check in checks:
        print(f"  [{'PASS' if check['ok'] else 'FAIL'}] {check['check']}: {check['measured']}")


def print_soak(result: dict[str, Any]) -> None:
    samples = result["rss"]
    print(f"\nsoak: {result['soak_minutes']} min at c={result['concurrency']}")
    for at, mb in samples:
        print(f"  t={at:>7.1f}s  RSS {mb:6.1f} MiB")
    load = result["load"]
    print(
        f"requests ok={load['ok']} errors={load['errors'] - load['timeouts']} "
        f"invalid={load['invalid']} mismatched={load['mismatched']} ({load['rps']} req/s; "
        f"{load['timeouts']} still running at the end were cut off)"
    )
    settled = [mb for at, mb in samples if at >= 60]
    if len(settled) >= 2:
        print(f"RSS growth after the first minute: {settled[-1] - settled[0]:+.1f} MiB")
        end = samples[-1][0]
        late = [mb for at, mb in samples if at >= end / 2]
        print(
            f"RSS over the second half: {min(late):.1f} to {max(late):.1f} MiB "
            f"(last minus first {late[-1] - late[0]:+.1f} MiB)"
        )
    elif samples:
        print(f"RSS growth (run shorter than 2 minutes): {samples[-1][1] - samples[0][1]:+.1f} MiB")

"""Tables, markdown and the target checks (issues #6 and #16) for ``bench/run.py`` results.

Every check is made per mode (plain HTTP or TLS to the upstream) from the cells of that mode
only, so a run with both (``--round3``) marks each target met or not met twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# Issue #6's absolute limits, for a single worker on 2 shared cores.
CPU_PACED_MS = 1.5
CPU_BURST_MS = 3.0
TTFT_ADDED_C1_MS = 1.0
TTFT_C128_RATIO = 1.5
THROUGHPUT_C128_SHARE = 0.9
PEAK_RSS_MB = 80.0
# Issue #16's, measured against the bare relay (bench/relay.py) and direct in the same run.
R3_CPU_PACED_RATIO = 1.5  # CPU per paced request at c=16, x the relay's
R3_TTFT_ADDED_MS = 1.0  # TTFT p50 at c=1 (paced) over the relay's
R3_THROUGHPUT_SHARE = 0.95  # paced c=128 requests/s, share of direct
R3_CPU_BURST_RATIO = 2.0  # CPU per burst request at c=16, x the relay's
SCALE_SETTING = "slow"  # bench/run.py's scale cells: every stream held open at once
R3_PEAK_RSS_MB = 150.0
R3_STREAM_KIB = 64.0
GATEWAY = ("anthropic", "openai")


def mode_name(tls: bool) -> str:
    return "TLS" if tls else "plain"


def _cell(
    cells: Iterable[dict[str, Any]], setting: str, c: int, target: str, tls: bool = False
) -> dict[str, Any]:
    for cell in cells:
        if (cell["setting"], cell["concurrency"], cell["target"]) == (setting, c, target) and bool(
            cell.get("tls")
        ) == tls:
            return cell
    return {}


def _check(name: str, measured: str, ok: bool, *, issue: int, tls: bool) -> dict[str, Any]:
    return {"check": name, "measured": measured, "ok": ok, "issue": issue, "mode": mode_name(tls)}


def _p50(cell: dict[str, Any], key: str = "ttft_ms") -> float | None:
    value = cell.get(key, {}).get("p50")
    return None if value is None else float(value)


def verdicts(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of issues #6 and #16 that the run has the cells for, per mode, with the
    measured value; then whole-run integrity (no lost text, no errors)."""
    out: list[dict[str, Any]] = []
    for tls in sorted({bool(c.get("tls")) for c in cells}):
        mine = [c for c in cells if bool(c.get("tls")) == tls]
        out += _issue16(mine, tls)
        out += _issue6(mine, tls)
    bad = sum(c["mismatched"] + c["invalid"] for c in cells)
    errors = sum(c["errors"] for c in cells)
    out.append(
        _check("no lost/reordered text, no invalid SSE", f"{bad} bad", bad == 0, issue=0, tls=False)
        | {"mode": "all"}
    )
    out.append(
        _check("no errors", f"{errors} errors", errors == 0, issue=0, tls=False) | {"mode": "all"}
    )
    return out


def _ratio_check(
    cells: list[dict[str, Any]], setting: str, target: str, limit: float, tls: bool
) -> dict[str, Any] | None:
    via, relay = _cell(cells, setting, 16, target, tls), _cell(cells, setting, 16, "relay", tls)
    mine, floor = via.get("gateway_cpu_ms_per_req"), relay.get("gateway_cpu_ms_per_req")
    if not mine or not floor:
        return None
    ratio = mine / floor
    return _check(
        f"CPU/request {setting} c=16 {target} <= {limit}x relay",
        f"{ratio:.2f}x ({mine:.2f} vs {floor:.2f} ms)",
        ratio <= limit,
        issue=16,
        tls=tls,
    )


def _issue16(cells: list[dict[str, Any]], tls: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for target in GATEWAY:
        check = _ratio_check(cells, "paced", target, R3_CPU_PACED_RATIO, tls)
        if check:
            out.append(check)
        via, relay = _cell(cells, "paced", 1, target, tls), _cell(cells, "paced", 1, "relay", tls)
        if _p50(via) is not None and _p50(relay) is not None:
            added = _p50(via) - _p50(relay)  # type: ignore[operator]
            out.append(
                _check(
                    f"TTFT p50 c=1 {target} <= relay + {R3_TTFT_ADDED_MS:g} ms",
                    f"{added:+.2f} ms",
                    added <= R3_TTFT_ADDED_MS,
                    issue=16,
                    tls=tls,
                )
            )
        via, direct = (
            _cell(cells, "paced", 128, target, tls),
            _cell(cells, "paced", 128, "direct", tls),
        )
        if via.get("rps") and direct.get("rps"):
            share = via["rps"] / direct["rps"]
            out.append(
                _check(
                    f"throughput paced c=128 {target} >= {R3_THROUGHPUT_SHARE:.0%} of direct",
                    f"{share:.1%}",
                    share >= R3_THROUGHPUT_SHARE,
                    issue=16,
                    tls=tls,
                )
            )
        check = _ratio_check(cells, "burst", target, R3_CPU_BURST_RATIO, tls)
        if check:
            out.append(check)
        for cell in cells:
            if cell["target"] == target and cell["setting"] == SCALE_SETTING:
                out += _scale(cell, tls)
    return out


def _scale(cell: dict[str, Any], tls: bool) -> list[dict[str, Any]]:
    c, target = cell["concurrency"], cell["target"]
    failed = cell["errors"] + cell["invalid"] + cell["mismatched"]
    out = [
        _check(
            f"c={c} {target}: every stream answered, no errors",
            f"{cell['ok']}/{cell['requested']} ok, {failed} failed",
            failed == 0 and cell["ok"] == cell["requested"],
            issue=16,
            tls=tls,
        )
    ]
    peak = cell.get("gateway_peak_rss_mb")
    if peak is not None:
        out.append(
            _check(
                f"peak RSS c={c} {target} <= {R3_PEAK_RSS_MB:g} MiB",
                f"{peak:.1f} MiB",
                peak <= R3_PEAK_RSS_MB,
                issue=16,
                tls=tls,
            )
        )
    if "stream_kib" in cell:
        kib = cell["stream_kib"]
        measured = (
            f"not all open at once (at most {cell.get('max_open')})"
            if kib is None
            else f"{kib:.1f} KiB"
        )
        out.append(
            _check(
                f"memory per open stream c={c} {target} <= {R3_STREAM_KIB:g} KiB",
                measured,
                kib is not None and kib <= R3_STREAM_KIB,
                issue=16,
                tls=tls,
            )
        )
    return out


def _issue6(cells: list[dict[str, Any]], tls: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    gateway = [c for c in cells if c["target"] in GATEWAY and c["setting"] != SCALE_SETTING]
    for setting, limit in (("paced", CPU_PACED_MS), ("burst", CPU_BURST_MS)):
        costs = [c["gateway_cpu_ms_per_req"] for c in gateway if c["setting"] == setting]
        if costs:
            worst = max(costs)
            out.append(
                _check(
                    f"gateway CPU/request {setting} <= {limit} ms",
                    f"{worst}",
                    worst <= limit,
                    issue=6,
                    tls=tls,
                )
            )
    for target in GATEWAY:
        direct, via = _cell(cells, "paced", 1, "direct", tls), _cell(cells, "paced", 1, target, tls)
        if _p50(direct) and _p50(via):
            added = round(_p50(via) - _p50(direct), 3)  # type: ignore[operator]
            out.append(
                _check(
                    f"TTFT added c=1 p50 {target} <= {TTFT_ADDED_C1_MS} ms",
                    f"{added}",
                    added <= TTFT_ADDED_C1_MS,
                    issue=6,
                    tls=tls,
                )
            )
        direct = _cell(cells, "paced", 128, "direct", tls)
        via = _cell(cells, "paced", 128, target, tls)
        if _p50(direct) and _p50(via):
            ratio = round(_p50(via) / _p50(direct), 2)  # type: ignore[operator]
            out.append(
                _check(
                    f"TTFT p50 c=128 {target} <= {TTFT_C128_RATIO}x direct",
                    f"{ratio}x",
                    ratio <= TTFT_C128_RATIO,
                    issue=6,
                    tls=tls,
                )
            )
        if direct.get("rps") and via.get("rps"):
            share = round(via["rps"] / direct["rps"], 3)
            out.append(
                _check(
                    f"throughput c=128 paced {target} >= {THROUGHPUT_C128_SHARE:.0%} of direct",
                    f"{share:.1%}",
                    share >= THROUGHPUT_C128_SHARE,
                    issue=6,
                    tls=tls,
                )
            )
    peaks = [c["gateway_peak_rss_mb"] for c in gateway if c["concurrency"] == 128]
    if peaks:
        out.append(
            _check(
                f"peak RSS c=128 <= {PEAK_RSS_MB:.0f} MB",
                f"{max(peaks)}",
                max(peaks) <= PEAK_RSS_MB,
                issue=6,
                tls=tls,
            )
        )
    return out


def _load_after(info: dict[str, Any]) -> str:
    after = info.get("loadavg_after")
    return "?" if not after else f"{after[0]:.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(
    cells: list[dict[str, Any]], checks: list[dict[str, Any]], info: dict[str, Any], *, workers: int
) -> None:
    print(
        f"\nmachine: {info['nproc']} x {info['cpu']}, Python {info['python']}, "
        f"load {info['loadavg'][0]:.2f} before / {_load_after(info)} after; "
        f"gateway workers: {workers}; wall {info.get('wall_s', '?')} s\n"
    )
    head = (
        f"{'mode':<6}{'setting':<7}{'c':>5} {'target':<10}{'req/s':>8}{'ttft50':>8}{'ttft99':>8}"
        f"{'tot50':>8}{'tot99':>8}{'err':>5}{'inv':>5}{'diff':>5}{'gwCPU':>8}{'emuCPU':>8}"
        f"{'RSS':>7}{'KiB/s':>7}"
    )
    print(head)
    print("-" * len(head))
    for c in cells:
        cpu = c.get("gateway_cpu_ms_per_req")
        rss = c.get("gateway_peak_rss_mb")
        kib = c.get("stream_kib")
        print(
            f"{mode_name(bool(c.get('tls'))):<6}"
            f"{c['setting']:<7}{c['concurrency']:>5} {c['target']:<10}{c['rps']:>8.1f}"
            f"{_ms(c['ttft_ms']['p50']):>8}{_ms(c['ttft_ms']['p99']):>8}"
            f"{_ms(c['total_ms']['p50']):>8}{_ms(c['total_ms']['p99']):>8}"
            f"{c['errors']:>5}{c['invalid']:>5}{c['mismatched']:>5}"
            f"{'-' if cpu is None else f'{cpu:.2f}':>8}{c['emulator_cpu_ms_per_req']:>8.2f}"
            f"{'-' if rss is None else f'{rss:.0f}':>7}{'-' if kib is None else f'{kib:.0f}':>7}"
        )
        for sample in c.get("samples", []):
            print(f"{'':>19}! {sample}")
    print(
        "\n(times in ms; CPU in ms per request; RSS = tested process's peak MiB during the "
        "cell; KiB/s = memory per open stream)\n"
    )
    for check in checks:
        mark = "met" if check["ok"] else "NOT MET"
        where = f"#{check['issue']} {check['mode']}" if check["issue"] else "run"
        print(f"  [{mark:>7}] ({where}) {check['check']}: {check['measured']}")


# ---- markdown, for docs/performance.md


def _row(values: Iterable[object]) -> str:
    return "| " + " | ".join(str(v) for v in values) + " |"


def _table(head: list[str], rows: list[list[object]], align: str = "---:") -> str:
    lines = [_row(head), _row(["---"] + [align] * (len(head) - 1))]
    lines += [_row(r) for r in rows]
    return "\n".join(lines)


def _label(target: str, tls: bool) -> str:
    return f"{target}, TLS" if tls else target


def _grid(
    cells: list[dict[str, Any]],
    targets: list[str],
    columns: list[tuple[str, int]],
    value: Callable[[dict[str, Any]], str],
) -> str:
    modes = sorted({bool(c.get("tls")) for c in cells})
    rows = []
    for tls in modes:
        for target in targets:
            row: list[object] = [_label(target, tls)]
            for setting, c in columns:
                cell = _cell(cells, setting, c, target, tls)
                row.append(value(cell) if cell else "")
            rows.append(row)
    return _table(["target"] + [f"{s} c={c}" for s, c in columns], rows)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(
    cells: list[dict[str, Any]], checks: list[dict[str, Any]], info: dict[str, Any]
) -> str:
    """The run as markdown: side-by-side tables per measure, the scale table, the targets
    (one column per mode) and every cell."""
    order = ["direct", "relay", "anthropic", "openai"]
    targets = [t for t in order if any(c["target"] == t for c in cells)]
    tested = [t for t in targets if t != "direct"]
    columns = sorted(
        {(c["setting"], c["concurrency"]) for c in cells if c["setting"] != SCALE_SETTING},
        key=lambda sc: (["paced", "burst", "single", "slow"].index(sc[0]), sc[1]),
    )
    scale = [c for c in cells if c["setting"] == SCALE_SETTING]
    parts = [
        f"Machine: {info['nproc']} x {info['cpu']}, Python {info['python']}; load average "
        f"{info['loadavg'][0]:.2f} before, {_load_after(info)} after; "
        f"the whole run took {info.get('wall_s', '?')} s. CPU is the tested process's "
        "(the gateway's, or the relay's) user + system time per request; on a shared machine "
        "CPU and latency figures are noisy, compare rows of one run only.",
    ]
    if columns:
        parts += [
            "**CPU ms per request**\n\n"
            + _grid(cells, tested, columns, lambda c: _fmt(c.get("gateway_cpu_ms_per_req"))),
            "**TTFT p50 / p99, ms**\n\n"
            + _grid(
                cells,
                targets,
                columns,
                lambda c: (
                    f"{_fmt(c['ttft_ms'].get('p50'), 1)} / {_fmt(c['ttft_ms'].get('p99'), 1)}"
                ),
            ),
            "**Requests per second**\n\n"
            + _grid(cells, targets, columns, lambda c: f"{c['rps']:.1f}"),
            "**Peak RSS, MiB**\n\n"
            + _grid(cells, tested, columns, lambda c: _fmt(c.get("gateway_peak_rss_mb"), 0)),
        ]
    if scale:
        rows = [
            [
                _label(c["target"], bool(c.get("tls"))),
                c["concurrency"],
                f"{c['ok']}/{c['requested']}",
                c["errors"] + c["invalid"] + c["mismatched"],
                c.get("max_open", "-"),
                _fmt(c["ttft_ms"].get("p50"), 0),
                _fmt(c.get("gateway_cpu_ms_per_req")),
                _fmt(c.get("rss_rest_mb"), 1),
                _fmt(c.get("rss_open_mb"), 1),
                _fmt(c.get("gateway_peak_rss_mb"), 1),
                _fmt(c.get("stream_kib"), 1),
            ]
            for c in sorted(scale, key=lambda c: (bool(c.get("tls")), order.index(c["target"])))
        ]
        head = ["target", "c", "ok", "failed", "open at once", "TTFT p50 ms", "CPU ms/req",
                "RSS at rest", "RSS all open", "peak RSS", "KiB per open stream"]  # fmt: skip
        parts.append("**Scale: slow streams all open at once (MiB unless stated)**\n\n"
                     + _table(head, rows))  # fmt: skip
    parts.append("**Targets of issue #16**\n\n" + _targets(checks, 16))
    parts.append("**Every cell**\n\n" + _cells(cells))
    return "\n\n".join(parts) + "\n"


def _targets(checks: list[dict[str, Any]], issue: int) -> str:
    mine = [c for c in checks if c["issue"] == issue]
    modes = [m for m in ("plain", "TLS") if any(c["mode"] == m for c in mine)]
    names = list(dict.fromkeys(c["check"] for c in mine))
    rows = []
    for name in names:
        row: list[object] = [name]
        for mode in modes:
            found = [c for c in mine if c["check"] == name and c["mode"] == mode]
            if found:
                verdict = "met" if found[0]["ok"] else "**not met**"
                row.append(f"{found[0]['measured']}: {verdict}")
            else:
                row.append("")
        rows.append(row)
    if not rows:
        return "(this run has none of the cells they compare)"
    return _table(["target", *modes], rows, align="---")


def _cells(cells: list[dict[str, Any]]) -> str:
    head = ["mode", "setting", "c", "target", "req/s", "TTFT p50", "TTFT p99", "total p50",
            "total p99", "CPU ms/req", "emulator CPU", "peak RSS", "errors"]  # fmt: skip
    rows = [
        [
            mode_name(bool(c.get("tls"))),
            c["setting"],
            c["concurrency"],
            c["target"],
            f"{c['rps']:.1f}",
            _fmt(c["ttft_ms"].get("p50"), 1),
            _fmt(c["ttft_ms"].get("p99"), 1),
            _fmt(c.get("total_ms", {}).get("p50"), 1),
            _fmt(c.get("total_ms", {}).get("p99"), 1),
            _fmt(c.get("gateway_cpu_ms_per_req")),
            _fmt(c.get("emulator_cpu_ms_per_req")),
            _fmt(c.get("gateway_peak_rss_mb"), 0),
            c["errors"] + c["invalid"] + c["mismatched"],
        ]
        for c in cells
    ]
    return _table(head, rows)


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

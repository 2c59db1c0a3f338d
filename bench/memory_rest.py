"""Memory at rest of one ``kirogate serve`` (SQLite, console and operator API on), and its parts.

    python bench/memory_rest.py [--json PATH|-] [--settle SECONDS]

Two measurements (issue #16's "memory at rest at most 80 MiB"):

1. **At rest**: ``bench/stack.py``'s paced stack (an emulator, a gateway with an admin key,
   five warm-up requests), then one OpenAI request, the console page, its sign-in state, a
   few admin API reads and a ``/metrics`` scrape; after ``--settle`` seconds the gateway's
   ``VmRSS`` (and its anonymous / file-backed split from ``/proc/PID/status``).
2. **By group**: a fresh interpreter imports the stack's packages group by group, in the
   order a serving process meets them, and records ``VmRSS`` and the Python heap
   (``tracemalloc``, a second pass) after each. A group's cost is what it adds on top of the
   groups before it (shared dependencies count where they first load). The last rows run
   ``kirogate serve``'s own start-up in that interpreter, with ``uvicorn.run`` replaced by
   the app's lifespan (the store opened, the background tasks started), and the remainder
   up to the live figure is what serving and the warm-up add.

Every figure is MiB (2**20 bytes). Resident memory is the machine's own accounting: shared
library pages count once they are touched, freed Python memory stays resident until a
whole arena is free.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procs
from bench.stack import ADMIN_KEY, API_KEY, MODEL, stack

# (label, module prefixes): each row imports, in the serving process's own order, the modules
# of the at-rest list that start with one of its prefixes ("stdlib": the standard library's).
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("standard library modules the stack loads", ("stdlib",)),
    ("uvicorn, uvloop, httptools (+ click, watchfiles, h11)",
     ("uvicorn", "uvloop", "httptools", "click", "watchfiles", "h11")),
    ("pydantic, pydantic_core (+ annotated_types, typing_inspection)",
     ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions")),
    ("starlette, fastapi (+ anyio, sniffio)", ("starlette", "fastapi", "anyio", "sniffio")),
    ("aiohttp (+ yarl, multidict, frozenlist, attrs, propcache, aiohappyeyeballs, idna)",
     ("aiohttp", "yarl", "multidict", "frozenlist", "aiosignal", "attr", "propcache",
      "aiohappyeyeballs", "idna")),
    ("SQLAlchemy Core (+ asyncio ext, greenlet), aiosqlite", ("sqlalchemy", "greenlet", "aiosqlite")),
    ("cryptography (+ cffi)", ("cryptography", "_cffi_backend", "_openssl", "cffi")),
    ("prometheus_client", ("prometheus_client",)),
    ("opentelemetry API", ("opentelemetry",)),
    ("other third-party (orjson, ...)", ("third-party",)),
    ("kirogate CLI, settings, logging, errors, metrics, serve",
     ("kirogate.cli", "kirogate.settings", "kirogate.log", "kirogate.errors", "kirogate.metrics",
      "kirogate.serve", "kirogate.daemon", "kirogate.events", "kirogate.tasks", "kirogate.caller")),
    ("kirogate protocol, convert", ("kirogate.protocol", "kirogate.convert")),
    ("kirogate upstream, pool, cluster", ("kirogate.upstream", "kirogate.pool", "kirogate.cluster")),
    ("kirogate store", ("kirogate.store",)),
    ("kirogate service (the Gateway and operations)", ("kirogate.service",)),
    ("kirogate api (client APIs; not api.app, which loads the next two)", ("kirogate.api",)),
    ("kirogate admin (operator API)", ("kirogate.admin",)),
    ("kirogate console", ("kirogate.console",)),
    ("kirogate api.app and the rest", ("kirogate",)),
]  # fmt: skip
# Not loaded by a serving process at rest (tests/memory/test_serve_modules.py), shown for size.
NOT_AT_REST: list[tuple[str, list[str]]] = [
    ("alembic (+ mako): migrations run in a child process", ["alembic", "alembic.command"]),
    ("kirogate emulator", ["kirogate.emulator.app"]),
    ("rich (the other commands' output)", ["rich.console", "rich.table"]),
]


def resolve(modules: list[str]) -> list[tuple[str, list[str]]]:
    """``GROUPS`` with the at-rest ``modules`` (in load order) each group's prefixes take."""
    taken: set[str] = set()
    resolved = []
    stdlib = sys.stdlib_module_names
    for label, prefixes in GROUPS:
        names = []
        for name in modules:
            top = name.split(".")[0]
            if name in taken or name in ("__main__", "__mp_main__"):
                continue
            if name == "kirogate.api.app" and label.startswith("kirogate api "):
                continue
            if (
                ("stdlib" in prefixes and (top in stdlib or top.lstrip("_") in stdlib))
                or ("third-party" in prefixes and not top.startswith("kirogate"))
                or any(name == p or name.startswith(p + ".") for p in prefixes)
            ):
                names.append(name)
        taken.update(names)
        resolved.append((label, names))
    return resolved


PROBE = r"""
import gc, importlib, json, sys, tracemalloc

heap = sys.argv[1] in ("heap", "owners")
owners = sys.argv[1] == "owners"
groups = json.loads(sys.argv[2])
serve_args = json.loads(sys.argv[3])


def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def point():
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 2**20 if heap else rss()


if heap:
    tracemalloc.start(8 if owners else 1)
rows = [("Python interpreter", point())]
for label, modules in groups:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # a module only its parent can import; it loads with the parent's group
    rows.append((label, point()))
def owner(filename):
    # The package a source file belongs to: kirogate's subpackage, a distribution, stdlib.
    parts = filename.replace("\\", "/").split("/")
    if "kirogate" in parts:
        rest = parts[len(parts) - 1 - parts[::-1].index("kirogate"):]
        return ".".join(rest[:2]).removesuffix(".py")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    return "stdlib" if filename.startswith("/") else filename


def owner_table():
    # Live Python memory by owner. A block allocated while a module's body ran (its classes,
    # functions, pydantic models, tables) belongs to that module; a later one to the innermost
    # kirogate frame, else the innermost frame. Approximate: a module-level statement spread
    # over several lines may count for the module that imported it.
    import linecache

    seen = {}

    def module_body(frame):
        key = (frame.filename, frame.lineno)
        if key not in seen:
            line = linecache.getline(frame.filename, frame.lineno)
            seen[key] = not frame.filename.startswith("<") and bool(line.strip()) and (
                not line[:1].isspace()
            )
        return seen[key]

    gc.collect()
    totals = {}
    for trace in tracemalloc.take_snapshot().traces:
        frames = [f for f in trace.traceback if not f.filename.startswith("<frozen")]
        name = next((owner(f.filename) for f in frames if module_body(f)), None)
        if name is None:
            ours = [f for f in frames if "/kirogate/" in f.filename]
            name = owner((ours or frames)[0].filename) if frames else "?"
        totals[name] = totals.get(name, 0) + trace.size
    return sorted(([k, v / 2**20] for k, v in totals.items()), key=lambda r: -r[1])


if serve_args:
    import uvicorn

    def lifespan_only(app, **options):
        import asyncio

        async def run():
            queue = [{"type": "lifespan.startup"}]
            started = asyncio.Event()

            async def receive():
                if queue:
                    return queue.pop(0)
                await asyncio.sleep(3)  # the background tasks' first rounds
                return {"type": "lifespan.shutdown"}

            async def send(message):
                if message["type"] == "lifespan.startup.complete":
                    started.set()
                if message["type"] == "lifespan.startup.failed":
                    raise SystemExit(message.get("message"))

            async def measured():
                await started.wait()
                await asyncio.sleep(2.5)
                rows.append(("app built, store open, background tasks running", point()))
                if owners:
                    rows.append(("owners", owner_table()))

            task = asyncio.ensure_future(measured())
            await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
            await task

        asyncio.run(run())

    uvicorn.run = lifespan_only
    from kirogate.cli import main

    main(serve_args)
print()
json.dump({"rows": rows, "modules": list(sys.modules)}, sys.stdout)
"""


def probe(kind: str, groups: list[tuple[str, list[str]]], serve_args: list[str]) -> dict[str, Any]:
    """One fresh interpreter importing ``groups`` in order, then serving's start-up: the
    (label, figure) rows after each and the modules loaded at the end, in load order."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, kind, json.dumps(groups), json.dumps(serve_args)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _serve_args(data: Path) -> list[str]:
    args = ["serve", "--port", str(procs.free_port()), "--api-key", API_KEY]
    args += ["--admin-key", ADMIN_KEY, "--data-dir", str(data), "--log-level", "warning"]
    return [*args, "--set", "upstream.usage_interval=0"]


def by_group(tmp: Path) -> tuple[list[dict[str, Any]], list[tuple[str, list[str]]]]:
    """The table by group, and the groups as resolved against the at-rest modules."""
    data = tmp / "probe-data"
    plain = probe("rss", [], _serve_args(data))  # also creates the database: later runs find it
    groups = resolve(plain["modules"])
    rss_rows = probe("rss", groups, _serve_args(data))["rows"]
    heap_rows = probe("heap", groups, _serve_args(data))["rows"]
    table = []
    for k, ((label, rss), (_, heap)) in enumerate(zip(rss_rows, heap_rows, strict=True)):
        before_rss = rss_rows[k - 1][1] if k else 0.0
        before_heap = heap_rows[k - 1][1] if k else 0.0
        count = len(groups[k - 1][1]) if 0 < k <= len(groups) else 0
        table.append({"group": label, "modules": count, "rss": rss - before_rss, "total": rss,
                      "heap": heap - before_heap})  # fmt: skip
    one_go = "the same start-up in one go (no groups first: less fragmentation)"
    table.append({"group": one_go, "modules": 0, "rss": 0.0, "total": plain["rows"][-1][1],
                  "heap": 0.0})  # fmt: skip
    return table, groups


def not_at_rest(base_groups: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    base = probe("rss", base_groups, [])["rows"][-1][1]
    table = []
    for label, modules in NOT_AT_REST:
        rss = probe("rss", [*base_groups, (label, modules)], [])["rows"][-1][1]
        table.append({"group": label, "rss": rss - base})
    return table


def _get(url: str, headers: dict[str, str]) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
        r.read()


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


def at_rest(tmp: Path, settle: float) -> dict[str, float]:
    with stack("paced", tmp) as st:
        url = st.gateway_urls[0]
        client = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
        body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        _post(f"{url}/v1/chat/completions", body, client)
        admin = {"x-api-key": ADMIN_KEY}
        _get(f"{url}/admin", {})
        _get(f"{url}/admin/session", {})
        for path in ("credentials", "keys", "logs", "pool", "settings"):
            # A path this version does not have answers 404: the routes are loaded all the same.
            with contextlib.suppress(urllib.error.HTTPError):
                _get(f"{url}/api/admin/{path}", admin)
        _get(f"{url}/metrics", {"authorization": f"Bearer {ADMIN_KEY}"})
        time.sleep(settle)
        pid = st.gateways[0].pid
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status
                  if line.startswith(("VmRSS", "RssAnon", "RssFile", "VmHWM"))}  # fmt: skip
        return fields


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON ('-': stdout)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before reading")
    parser.add_argument(
        "--owners",
        type=int,
        metavar="N",
        default=0,
        help="also the N largest owners of Python memory after start-up (slow: minutes)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kirogate-memory-") as name:
        tmp = Path(name)
        live = at_rest(tmp, args.settle)
        groups, resolved = by_group(tmp)
        third_party = [g for g in resolved if not g[1] or not g[1][0].startswith("kirogate")]
        extra = not_at_rest(third_party)
        owners: list[Any] = []
        if args.owners:
            owners = probe("owners", [], _serve_args(tmp / "probe-data"))["rows"][-1][1]
            owners = owners[: args.owners]
    built = groups[-1]["total"]  # the start-up in one go: the groups' sum runs a little over
    print(
        f"\nkirogate serve at rest (SQLite, console + admin API, warmed up, {args.settle:.0f} s idle):"
    )
    print(f"  VmRSS {live['VmRSS']:.1f} MiB (anonymous {live['RssAnon']:.1f}, files "
          f"{live['RssFile']:.1f}; peak {live['VmHWM']:.1f}); target 80\n")  # fmt: skip
    print("| group | modules | RSS MiB | cumulative | Python heap MiB |")
    print("|---|---:|---:|---:|---:|")
    for row in groups:
        print(f"| {row['group']} | {row['modules']} | {row['rss']:.1f} | {row['total']:.1f} "
              f"| {row['heap']:.1f} |")  # fmt: skip
    print(f"| serving and warm-up (live figure less the start-up in one go) | | {live['VmRSS'] - built:.1f} "
          f"| {live['VmRSS']:.1f} | |")  # fmt: skip
    print("\nNot loaded at rest (each added after the third-party groups):\n")
    print("| group | RSS MiB |")
    print("|---|---:|")
    for row in extra:
        print(f"| {row['group']} | {row['rss']:.1f} |")
    if owners:
        print("\nPython memory after start-up by owner (tracemalloc; a module's import-time")
        print("objects count for it, later ones for the innermost kirogate frame):\n")
        print("| owner | MiB |")
        print("|---|---:|")
        for name, mib in owners:
            print(f"| {name} | {mib:.2f} |")
    result = {"at_rest": live, "groups": groups, "not_at_rest": extra, "owners": owners}
    if args.json == "-":
        json.dump(result, sys.stdout, indent=2)
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

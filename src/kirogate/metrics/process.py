"""This process's resource use for the ``process_*`` metrics, read from ``/proc`` on Linux.

Elsewhere (macOS, or a ``/proc`` that cannot be read) CPU time comes from ``getrusage``,
the RSS is the peak instead of the current size, and the start time is when this module
was imported.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

_IMPORTED_AT = time.time()


def _sysconf(name: str, default: int) -> int:
    try:
        value = os.sysconf(name)
    except (ValueError, OSError, AttributeError):
        return default
    return value if value > 0 else default


class ProcessStats:
    """One :meth:`read` per scrape; the start time is computed once."""

    def __init__(self, proc: str = "/proc") -> None:
        self._proc = proc
        self._ticks = float(_sysconf("SC_CLK_TCK", 100))
        self._page = _sysconf("SC_PAGE_SIZE", 4096)
        self._start: float | None = None

    def read(self) -> dict[str, float]:
        """Keys (each present only when known): rss, virtual, cpu, start, fds, max_fds."""
        stats: dict[str, float] = {}
        try:
            with open(f"{self._proc}/self/stat", encoding="ascii") as f:
                text = f.read()
            # The command name (field 2) may hold spaces and parentheses: split after it.
            fields = text[text.rindex(")") + 2 :].split()
            # fields[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
            stats["cpu"] = (int(fields[11]) + int(fields[12])) / self._ticks
            stats["virtual"] = float(fields[20])
            stats["rss"] = float(int(fields[21]) * self._page)
            stats["start"] = self._start_time(int(fields[19]))
        except (OSError, ValueError, IndexError):
            stats.update(self._fallback())
        with contextlib.suppress(OSError):
            stats["fds"] = float(len(os.listdir(f"{self._proc}/self/fd")))
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if soft != resource.RLIM_INFINITY:
                stats["max_fds"] = float(soft)
        except (ImportError, OSError, ValueError):
            pass
        return stats

    def _start_time(self, start_ticks: int) -> float:
        if self._start is None:
            boot = None
            try:
                with open(f"{self._proc}/stat", encoding="ascii") as f:
                    for line in f:
                        if line.startswith("btime "):
                            boot = float(line.split()[1])
                            break
            except (OSError, ValueError, IndexError):
                boot = None
            self._start = boot + start_ticks / self._ticks if boot is not None else _IMPORTED_AT
        return self._start

    def _fallback(self) -> dict[str, float]:
        out = {"start": _IMPORTED_AT}
        try:
            import resource

            usage = resource.getrusage(resource.RUSAGE_SELF)
        except (ImportError, OSError):
            return out
        out["cpu"] = usage.ru_utime + usage.ru_stime
        # ru_maxrss is in bytes on macOS and KiB elsewhere.
        out["rss"] = float(usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))
        return out

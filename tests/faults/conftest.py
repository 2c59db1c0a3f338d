"""A private PostgreSQL that the fault tests may stop and freeze (never the shared one)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest

# This helper's private port range (the shared PostgreSQL on 5432 is never touched).
PG_PORT = 55432
PG_USER = "kgfaultuser"
PG_DATABASE = "kgfaultdb"


def _binary(name: str) -> str | None:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: p.split("/")[4])
    return found[-1] if found else shutil.which(name)


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` on :data:`PG_PORT`, run as the ``postgres`` user under root."""

    def __init__(self, root: Path, port: int = PG_PORT) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.url = f"postgresql://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"
        self.frozen: list[int] = []

    def _run(self, *args: str) -> None:
        as_user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        subprocess.run(args, check=True, capture_output=True, timeout=60, **as_user)  # type: ignore[call-overload]

    def init(self) -> None:
        initdb = _binary("initdb")
        assert initdb is not None
        self._run(initdb, "-D", str(self.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8")
        self.start()
        createdb = _binary("createdb")
        assert createdb is not None
        self._run(createdb, "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, PG_DATABASE)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = _binary("pg_ctl")
        assert pg_ctl is not None
        self._run(
            pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = _binary("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def _processes(self) -> list[int]:
        """The postmaster and every process it started (the backends hold our connections)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    pids.append(int(stat.split("/")[2]))
        return pids

    def freeze(self) -> None:
        """SIGSTOP the whole server: it accepts connections but never answers."""
        self.frozen = self._processes()
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def destroy(self) -> None:
        self.thaw()
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    # Under /tmp, not pytest's tmp_path: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="kg-faults-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    pg = PrivatePostgres(root)
    try:
        pg.init()
        yield pg
    finally:
        pg.destroy()

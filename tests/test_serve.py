"""How ``serve`` hands ``--workers`` processes their state: no secret in the environment."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from kirogate.errors import ConfigError, KirogateError
from kirogate.serve import WORKER_STATE_ENV, read_worker_state, write_worker_state
from kirogate.settings import Settings
from kirogate.upstream.credentials import AuthMethod, Credential

ADMIN = "admin-key-never-in-the-environment"
CLIENT = "kg-client-key-never-in-the-environment"
SECRET = "secret-key-never-in-the-environment"
TOKEN = "aorAAAA-refresh-never-in-the-environment-" + "x" * 60


def state() -> tuple[Settings, list[Credential]]:
    settings = Settings(secret_key=SECRET, workers=2)
    settings = replace(
        settings, server=replace(settings.server, admin_key=ADMIN, api_keys=(CLIENT,))
    )
    return settings, [Credential(AuthMethod.SOCIAL, refresh_token=TOKEN, id=1)]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env: dict[str, str] = {}
    monkeypatch.setattr("kirogate.serve.os.environ", env)
    return env


def test_workers_get_the_state_through_a_private_encrypted_file(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    settings, credentials = state()
    path = write_worker_state(tmp_path, settings, credentials)
    value = environ[WORKER_STATE_ENV]
    for secret in (ADMIN, CLIENT, SECRET, TOKEN):
        assert secret not in value
        assert secret.encode() not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded, creds = read_worker_state(environ)
    assert (loaded.server.admin_key, loaded.server.api_keys) == (ADMIN, (CLIENT,))
    assert creds[0].refresh_token == TOKEN
    assert WORKER_STATE_ENV not in environ  # the worker's own children never see it


def test_a_worker_state_file_written_by_someone_else_is_refused(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    settings, credentials = state()
    path = write_worker_state(tmp_path, settings, credentials)
    path.write_bytes(b"gAAAAA-not-ours")
    with pytest.raises(ConfigError, match="no usable state"):
        read_worker_state(environ)


def test_a_worker_without_state_says_so(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="no usable state"):
        read_worker_state(environ)


# ---------------------------------------------------------------- stopping


def test_uvicorn_cancels_only_after_the_gateways_own_cut() -> None:
    from kirogate.serve import SHUTDOWN_MARGIN, graceful_timeout
    from kirogate.service.shutdown import SETTLE

    assert graceful_timeout(20.0) == 20.0 + SETTLE + SHUTDOWN_MARGIN
    assert graceful_timeout(0.0) > SETTLE


def test_a_sigterm_outside_uvicorns_handling_exits_0() -> None:
    import signal

    from kirogate.serve import exit_quietly

    with pytest.raises(SystemExit) as exited:
        exit_quietly(signal.SIGTERM, None)
    assert exited.value.code == 0


def test_the_supervisor_closes_the_listening_socket_before_stopping_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from uvicorn.supervisors import Multiprocess

    from kirogate.serve import _supervisor_class

    order: list[str] = []
    sock = socket.socket()

    def terminate_all(self: Multiprocess) -> None:
        order.append("closed" if sock.fileno() == -1 else "open")

    monkeypatch.setattr(Multiprocess, "terminate_all", terminate_all)
    cls = _supervisor_class()
    supervisor = cls.__new__(cls)
    supervisor.sockets = [sock]
    supervisor.terminate_all()
    assert order == ["closed"]


# ---------------------------------------------------------------- the supervisor's checks child


def test_the_checks_child_reports_a_config_error_as_the_same_error(tmp_path: Path) -> None:
    import socket

    from kirogate.serve import prepare_workers, worker_state_slot

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(data_dir=tmp_path, workers=2, database_url="postgresql://x/y")
        settings = replace(settings, server=replace(settings.server, port=port))
        state_file, key = worker_state_slot(tmp_path)
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
            prepare_workers(settings, {"HOME": str(tmp_path)}, state_file, key)
    assert not state_file.exists()


@pytest.mark.parametrize(
    ("raised", "sent"),
    [
        (ConfigError("bad flag"), ("config", "bad flag")),
        (KirogateError("store down"), ("failure", "store down")),
        (KeyboardInterrupt(), ("interrupted", "")),
    ],
)
def test_the_checks_child_sends_back_what_went_wrong(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, sent: tuple[str, str]
) -> None:
    import multiprocessing

    from kirogate import serve

    def prepare(settings: Settings, environ: object) -> None:
        raise raised

    monkeypatch.setattr(serve, "prepare", prepare)
    receiver, sender = multiprocessing.Pipe(duplex=False)
    serve._prepare_child(Settings(), {}, Path("unused"), "key", sender)
    assert receiver.recv() == sent


def test_the_checks_child_seals_the_state_and_sends_the_workers_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    import multiprocessing

    from kirogate import serve

    settings, credentials = state()
    monkeypatch.setattr(serve, "prepare", lambda settings, environ: (settings, credentials))
    path, key = serve.worker_state_slot(tmp_path)
    receiver, sender = multiprocessing.Pipe(duplex=False)
    serve._prepare_child(settings, {}, path, key, sender)
    kind, options = receiver.recv()
    assert kind == "ok"
    assert options["http"] == "kirogate.api.http_protocol:BoundedHttpToolsProtocol"
    assert options["timeout_graceful_shutdown"] == serve.graceful_timeout(
        settings.server.shutdown_grace
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    environ[WORKER_STATE_ENV] = f"{path}:{key}"
    loaded, creds = read_worker_state(environ)
    assert loaded.server.admin_key == ADMIN
    assert creds[0].refresh_token == TOKEN

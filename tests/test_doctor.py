"""``kirogate doctor``: every check, against the emulator, fake servers and tmp files."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kirogate.doctor import collect_checks, run_doctor
from kirogate.doctor import network as doctor_network
from kirogate.doctor.checks import (
    Check,
    Status,
    check_data_dir,
    check_file_modes,
    check_port,
    check_token,
    port_holder,
    secret_file_paths,
)
from kirogate.doctor.network import (
    check_database,
    check_redis,
    check_upstream,
    running_kirogate,
    upstream_targets,
)
from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.settings import Settings, load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.live import REFRESH_TOKEN, free_port

ACCESS = "aoaAAAAAGaccess" + "a" * 60


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "server.port": free_port()}
    values.update(overrides)
    return load_settings({}, values)


def env_for(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home)}


def write_credentials(tmp_path: Path, entries: list[dict[str, Any]], mode: int = 0o600) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    path.chmod(mode)
    return path


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


@pytest.fixture
async def emulator_url() -> AsyncIterator[str]:
    emu = await start_emulator(EmulatorConfig(port=0))
    try:
        yield emu.url
    finally:
        await emu.close()


async def serve(handler: Callable[[web.Request], Any]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- the whole report


async def test_a_healthy_setup_passes_every_check(tmp_path: Path, emulator_url: str) -> None:
    from kirogate.store import Store

    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    creds = write_credentials(
        tmp_path,
        [{"refreshToken": REFRESH_TOKEN, "accessToken": ACCESS, "expiresAt": expires}],
    )
    settings = settings_for(
        tmp_path, **{"upstream.url": emulator_url, "credentials_files": (creds,)}
    )
    store = await Store.open(database_url=None, data_dir=settings.data_path)
    await store.close()
    out = io.StringIO()
    code = await asyncio.to_thread(run_doctor, settings, env_for(tmp_path), out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "✗" not in text
    assert "!" not in text.replace("all checks passed", "")
    for name in ("data dir", "file modes", "credentials", "upstream", "clock", "port"):
        assert f"✓ {name}:" in text
    assert "✓ database:" in text
    assert "all checks passed" in text
    assert REFRESH_TOKEN not in text
    assert ACCESS not in text


async def test_json_output_lists_every_check(tmp_path: Path, emulator_url: str) -> None:
    settings = settings_for(tmp_path, **{"upstream.url": emulator_url})
    out = io.StringIO()
    code = await asyncio.to_thread(
        run_doctor, settings, env_for(tmp_path), json_output=True, out=out
    )
    body = json.loads(out.getvalue())
    assert code == 1  # no credentials
    assert body["ok"] is False
    names = [check["name"] for check in body["checks"]]
    assert names[:3] == ["data dir", "file modes", "credentials"]
    assert {"upstream", "clock", "port", "database", "redis"} <= set(names)
    for check in body["checks"]:
        assert check["status"] in ("ok", "warn", "fail")
        assert isinstance(check["details"], list)


async def test_missing_credentials_fail_and_name_the_places_looked_at(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, **{"upstream.url": f"http://127.0.0.1:{free_port()}"})
    checks = by_name(await collect_checks(settings, env_for(tmp_path), limit=1))
    creds = checks["credentials"]
    assert creds.status is Status.FAIL
    assert "kirogate login" in creds.summary
    assert any("kiro-auth-token.json: not found" in d for d in creds.details)
    assert any("REFRESH_TOKEN" in d and "not set" in d for d in creds.details)


async def test_env_credentials_are_found(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, **{"upstream.url": f"http://127.0.0.1:{free_port()}"})
    environ = env_for(tmp_path) | {"REFRESH_TOKEN": REFRESH_TOKEN}
    checks = await collect_checks(settings, environ, limit=1)
    assert by_name(checks)["credentials"].status is Status.OK
    tokens = [c for c in checks if c.name.startswith("credential ")]
    assert len(tokens) == 1
    assert "refreshed on first use" in tokens[0].summary


async def test_an_unusable_credentials_file_fails_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "credentials.json"
    bad.write_text("{not json", encoding="utf-8")
    settings = settings_for(
        tmp_path,
        **{"upstream.url": f"http://127.0.0.1:{free_port()}", "credentials_files": (bad,)},
    )
    checks = by_name(await collect_checks(settings, env_for(tmp_path), limit=1))
    assert checks["credentials"].status is Status.FAIL
    assert str(bad) in checks["credentials"].summary
    assert "invalid JSON" in checks["credentials"].summary


async def test_a_crashing_check_becomes_a_failed_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kirogate.doctor as doctor

    async def broken(*_: Any, **__: Any) -> Check:
        raise RuntimeError("redis client exploded")

    monkeypatch.setattr(doctor, "check_redis", broken)
    settings = settings_for(tmp_path, **{"upstream.url": f"http://127.0.0.1:{free_port()}"})
    checks = by_name(await collect_checks(settings, env_for(tmp_path), limit=1))
    assert checks["redis"].status is Status.FAIL
    assert "redis client exploded" in checks["redis"].summary


# ---------------------------------------------------------------- local checks


def test_missing_data_dir_is_a_warning(tmp_path: Path) -> None:
    check = check_data_dir(settings_for(tmp_path))
    assert check.status is Status.WARN
    assert "creates it" in check.summary


def test_data_dir_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    assert check_data_dir(settings_for(tmp_path)).status is Status.FAIL


def test_open_data_dir_warns_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o755)
    (tmp_path / "data").chmod(0o755)
    check = check_data_dir(settings_for(tmp_path))
    assert check.status is Status.WARN
    assert check.details == [f"fix: chmod 700 {tmp_path / 'data'}"]


def test_private_data_dir_passes(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    assert check_data_dir(settings_for(tmp_path)).status is Status.OK


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_data_dir_fails(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o500)
    assert check_data_dir(settings_for(tmp_path)).status is Status.FAIL


def test_secret_files_readable_by_others_warn_with_chmod(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "api_key").write_text("kg-x")
    (data / "api_key").chmod(0o644)
    (data / "secret.key").write_text("k")
    (data / "secret.key").chmod(0o600)
    creds = write_credentials(tmp_path, [], mode=0o640)
    settings = settings_for(tmp_path, credentials_files=(creds,))
    paths = secret_file_paths(settings, env_for(tmp_path))
    assert set(paths) == {data / "api_key", data / "secret.key", creds}
    check = check_file_modes(paths)
    assert check.status is Status.WARN
    assert f"{data / 'api_key'} is 0644; fix: chmod 600 {data / 'api_key'}" in check.details
    assert any(str(creds) in d and "0640" in d for d in check.details)
    assert len(check.details) == 2


def test_tight_secret_files_pass(tmp_path: Path) -> None:
    creds = write_credentials(tmp_path, [])
    assert check_file_modes([creds]).status is Status.OK


def _cred(**fields: Any) -> Credential:
    return Credential(fields.pop("auth_method", AuthMethod.SOCIAL), **fields)


@pytest.mark.parametrize(
    ("fields", "status", "phrase"),
    [
        ({"refresh_token": REFRESH_TOKEN}, Status.OK, "refreshed on first use"),
        (
            {"refresh_token": REFRESH_TOKEN, "access_token": ACCESS, "expires_in": 3600},
            Status.OK,
            "valid until",
        ),
        (
            {"refresh_token": REFRESH_TOKEN, "access_token": ACCESS, "expires_in": -600},
            Status.OK,
            "expired",
        ),
        ({"access_token": ACCESS, "expires_in": -600}, Status.FAIL, "no refresh token"),
        ({"access_token": ACCESS, "expires_in": 600}, Status.OK, "valid until"),
        ({}, Status.FAIL, "no access token and no refresh token"),
        (
            {"refresh_token": REFRESH_TOKEN, "disabled": True, "disabled_reason": "Manual"},
            Status.WARN,
            "disabled: Manual",
        ),
        (
            {"auth_method": AuthMethod.API_KEY, "kiro_api_key": "ksk_" + "k" * 40},
            Status.OK,
            "no expiry",
        ),
    ],
)
def test_token_checks(fields: dict[str, Any], status: Status, phrase: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    if "expires_in" in fields:
        fields["expires_at"] = now + timedelta(seconds=fields.pop("expires_in"))
    check = check_token(_cred(**fields), now=now)
    assert check.status is status
    assert phrase in check.summary
    shown = check.summary + " ".join(check.details)
    for secret in (REFRESH_TOKEN, ACCESS, "ksk_" + "k" * 40):
        assert secret not in shown


def test_busy_port_names_the_process_holding_it(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = settings_for(tmp_path, **{"server.port": port})
        check = check_port(settings)
    assert check.status is Status.FAIL
    assert f"port {port}" in check.summary
    assert "--port" in check.summary
    if Path("/proc/net/tcp").exists():
        assert check.details and check.details[0].startswith(f"held by pid {os.getpid()} (")


def test_port_held_by_a_running_kirogate_is_a_warning(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = settings_for(tmp_path, **{"server.port": busy.getsockname()[1]})
        check = check_port(settings, kirogate_version="9.9.9")
    assert check.status is Status.WARN
    assert "running kirogate 9.9.9" in check.summary


def test_free_port_passes(tmp_path: Path) -> None:
    assert check_port(settings_for(tmp_path)).status is Status.OK


def test_port_holder_reads_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    listen = "   0: 0100007F:232E 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1\n"
    (tmp_path / "net" / "tcp").write_text(header + listen)
    (tmp_path / "net" / "tcp6").write_text(header)
    proc = tmp_path / "4321"
    (proc / "fd").mkdir(parents=True)
    os.symlink("socket:[424242]", proc / "fd" / "7")
    (proc / "cmdline").write_bytes(b"nginx: master\0-g\0daemon off;\0")
    assert port_holder(0x232E, tmp_path) == "pid 4321 (nginx: master -g daemon off;)"
    assert port_holder(8080, tmp_path) is None


# ---------------------------------------------------------------- network checks


async def test_running_kirogate_is_recognised_by_its_health_answer() -> None:
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": "1.2.3"})

    runner, url = await serve(health)
    try:
        port = int(url.rsplit(":", 1)[1])
        assert await running_kirogate("0.0.0.0", port, limit=2) == "1.2.3"
        assert await running_kirogate("127.0.0.1", free_port(), limit=2) is None
    finally:
        await runner.cleanup()


async def test_unreachable_upstream_override_fails_with_the_cause(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    upstream, clock = await check_upstream(
        settings_for(tmp_path, **{"upstream.url": url}), [], limit=2
    )
    assert upstream.status is Status.FAIL
    assert upstream.details == [f"{url}: cannot connect: Connect call failed"] or (
        upstream.details[0].startswith(f"{url}: cannot connect:")
    )
    assert clock.status is Status.WARN


async def test_real_hosts_fail_fast_and_clearly_without_network(tmp_path: Path) -> None:
    started = time.monotonic()
    upstream, _ = await check_upstream(settings_for(tmp_path), [], limit=2)
    assert time.monotonic() - started < 6
    assert len(upstream.details) == 4
    known = ("answered HTTP", "DNS lookup failed", "cannot connect", "no answer within", "TLS")
    for detail in upstream.details:
        assert any(phrase in detail for phrase in known), detail


@pytest.mark.parametrize(
    ("offset", "status"),
    [(0, Status.OK), (-90, Status.WARN), (600, Status.FAIL), (-3600, Status.FAIL)],
)
async def test_clock_skew_against_the_upstream_date(
    tmp_path: Path, offset: int, status: Status
) -> None:
    async def dated(_: web.Request) -> web.Response:
        server_now = datetime.now(UTC) + timedelta(seconds=offset)
        return web.Response(status=404, headers={"Date": format_datetime(server_now, usegmt=True)})

    runner, url = await serve(dated)
    try:
        settings = settings_for(tmp_path, **{"upstream.url": url})
        upstream, clock = await check_upstream(settings, [], limit=2)
    finally:
        await runner.cleanup()
    assert upstream.status is Status.OK
    assert upstream.details == [f"{url}: answered HTTP 404"]
    assert clock.status is status
    if status is not Status.OK:
        assert ("behind" if offset > 0 else "ahead of") in clock.summary


def test_upstream_targets_cover_every_region_in_use(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert upstream_targets(settings, []) == [
        "https://runtime.us-east-1.kiro.dev",
        "https://management.us-east-1.kiro.dev",
        "https://prod.us-east-1.auth.desktop.kiro.dev",
        "https://oidc.us-east-1.amazonaws.com",
    ]
    other = _cred(refresh_token=REFRESH_TOKEN, api_region="eu-central-1")
    targets = upstream_targets(settings, [other])
    assert "https://runtime.eu-central-1.kiro.dev" in targets
    assert len(targets) == 6
    override = settings_for(tmp_path, **{"upstream.url": "http://emu:9000/"})
    assert upstream_targets(override, [other]) == ["http://emu:9000"]


async def test_missing_sqlite_database_is_not_created(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    check, count = await check_database(settings, limit=5)
    assert check.status is Status.WARN
    assert count is None
    assert not (settings.data_path / "kirogate.db").exists()


async def test_existing_sqlite_database_is_reachable_with_its_credential_count(
    tmp_path: Path,
) -> None:
    from kirogate.store import Store

    settings = settings_for(tmp_path)
    store = await Store.open(database_url=None, data_dir=settings.data_path)
    await store.add_credential(_cred(refresh_token=REFRESH_TOKEN))
    await store.close()
    check, count = await check_database(settings, limit=10)
    assert check.status is Status.OK, check.summary
    assert count == 1
    assert "1 stored credential" in check.summary


async def test_unreachable_postgres_fails_with_the_password_masked(tmp_path: Path) -> None:
    url = f"postgresql://kg:pw-very-secret@127.0.0.1:{free_port()}/kg"
    settings = settings_for(tmp_path, database_url=url, secret_key="k" * 44)
    check, _ = await check_database(settings, limit=10)
    assert check.status is Status.FAIL
    assert "pw-very-secret" not in check.summary
    assert "127.0.0.1" in check.summary


async def test_redis_not_configured_is_fine(tmp_path: Path) -> None:
    assert (await check_redis(settings_for(tmp_path), limit=1)).status is Status.OK


async def test_unreachable_redis_fails_with_the_password_masked(tmp_path: Path) -> None:
    url = f"redis://:redis-secret@127.0.0.1:{free_port()}/0"
    check = await check_redis(settings_for(tmp_path, redis_url=url), limit=1)
    assert check.status is Status.FAIL
    assert "redis-secret" not in check.summary
    assert "***" in check.summary


def test_mask_url_hides_passwords_only() -> None:
    assert doctor_network.mask_url("redis://u:p@h:1/0") == "redis://u:***@h:1/0"
    assert doctor_network.mask_url("redis://h:1/0") == "redis://h:1/0"


async def test_a_stored_credential_with_a_rejected_token_fails_the_report(
    tmp_path: Path, emulator_url: str
) -> None:
    from kirogate.pool.state import DisableReason
    from kirogate.store import Store

    settings = settings_for(tmp_path, **{"upstream.url": emulator_url})
    store = await Store.open(database_url=None, data_dir=settings.data_path)
    try:
        cred, _ = await store.add_credential(
            Credential(AuthMethod.SOCIAL, refresh_token=REFRESH_TOKEN, email="a@example.com")
        )
        assert cred.id is not None
        sets = {"disabled_reason": DisableReason.INVALID_REFRESH_TOKEN}
        await store.apply_state(cred.id, sets=sets, increments={})
    finally:
        await store.close()
    checks = by_name(await collect_checks(settings, env_for(tmp_path), limit=5))
    line = checks[f"stored credential #{cred.id} a@example.com"]
    assert line.status is Status.FAIL and "invalid_refresh_token" in line.summary


def test_a_short_refresh_token_is_a_detail_of_its_line() -> None:
    check = check_token(_cred(refresh_token="rt-short"))
    assert "the refresh token is only 8 characters; real Kiro ones are longer" in check.details

"""``kirogate serve`` and ``kirogate emulator`` as real processes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kirogate.pool.state import CooldownReason, CredentialState, DisableReason
from kirogate.serve import GeneratedKey, print_banner
from kirogate.settings import ServerSettings, Settings
from kirogate.upstream.auth.sources import DiscoveryResult, Probe
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin
from tests.live import API_KEY, clean_env, free_port, live_stack, running


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kirogate", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "status", "stop", "restart", "test", "login", "accounts", "config",
                    "doctor", "emulator", "demo"):  # fmt: skip
        assert command in out


def test_no_command_prints_help_and_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "kirogate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage" in proc.stdout.lower()


def test_serve_answers_health_with_emulator_upstream(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack, urllib.request.urlopen(f"{stack.base_url}/health") as r:
        body = json.loads(r.read())
    assert body["status"] == "ok"


def test_serve_reports_busy_port_and_how_to_pick_another(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kirogate",
                "serve",
                "--port",
                str(port),
                "--api-key",
                "k",
                "--data-dir",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            env=clean_env(tmp_path),
            timeout=30,
        )
    assert proc.returncode == 2
    assert f"port {port}" in proc.stderr
    assert "--port" in proc.stderr


def test_serve_without_credentials_names_the_places_it_looked(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path)
    with running(
        ["serve", "--port", str(port), "--api-key", API_KEY, "--data-dir", str(tmp_path / "d")],
        f"http://127.0.0.1:{port}/health",
        env,
    ) as proc:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "none found" in out
    assert "kiro-auth-token.json" in out


def test_serve_generates_a_client_key_in_the_data_dir_with_mode_0600(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "d"
    with running(
        ["serve", "--port", str(port), "--data-dir", str(data)],
        f"http://127.0.0.1:{port}/health",
        clean_env(tmp_path),
    ):
        key_file = data / "api_key"
        assert key_file.read_text().strip().startswith("kg-")
        assert key_file.stat().st_mode & 0o777 == 0o600


def test_emulator_command_serves_on_the_given_port(tmp_path: Path) -> None:
    port = free_port()
    with (
        running(
            ["emulator", "--port", str(port)],
            f"http://127.0.0.1:{port}/_emulator/stats",
            clean_env(tmp_path),
        ),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/stats") as r,
    ):
        assert r.status == 200


def test_demo_starts_both_processes_and_smoke_tests_them(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kirogate", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=clean_env(tmp_path),
        text=True,
    )
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "ANTHROPIC_BASE_URL=" in line:
                break
    finally:
        # Ctrl-C: the demo stops its emulator and gateway (SIGTERM could land before the demo
        # installs its handler and leave them running).
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        proc.stdout.close()
    text = "".join(seen)
    base = text.split("ANTHROPIC_BASE_URL=", 1)[1].split()[0]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/health", timeout=2)
    assert "Smoke test through the gateway answered: 'Echo: Hello from the kirogate demo'" in text
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:" in text


def test_serve_reads_port_and_client_key_from_peer_env_names(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path)
    env.update(PORT=str(port), API_KEY="peer-key", KIROGATE_LOG_LEVEL="warning")
    with running(
        ["serve", "--data-dir", str(tmp_path / "d")], f"http://127.0.0.1:{port}/health", env
    ):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models", headers={"authorization": "Bearer peer-key"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


def test_serve_with_a_bad_config_file_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[server]\nhots = '0.0.0.0'\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "kirogate", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=30,
    )
    assert proc.returncode == 2
    assert f"{config}: key 'server.hots': unknown key; did you mean 'host'?" in proc.stderr


def test_banner_lists_credentials_admin_api_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cred = Credential(AuthMethod.SOCIAL, refresh_token="r" * 120, email="a@example.com")
    settings = Settings(server=ServerSettings(host="0.0.0.0", port=9000, admin_key="adm"))
    found = DiscoveryResult(credentials=[cred])
    print_banner(settings, found, "kg-" + "x" * 30, False, tmp_path / "api_key", stored=[cred])
    out = capsys.readouterr().out
    assert "listening on 0.0.0.0:9000" in out
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:9000" in out
    assert "Admin API: http://127.0.0.1:9000/api/admin/credentials" in out
    assert "Console: http://127.0.0.1:9000/admin (sign in with the admin key)" in out
    assert "a@example.com [social] ready" in out
    assert "kg-x…xxxx" in out and "kg-" + "x" * 30 not in out


def test_banner_without_credentials_names_the_places_and_how_to_log_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = DiscoveryResult(
        probes=[Probe("/home/u/.aws/sso/cache/kiro-auth-token.json", 0, "not found")]
    )
    print_banner(Settings(), found, "", True, tmp_path / "api_key", store="sqlite:///kg.db")
    out = capsys.readouterr().out
    assert "none found. Looked at:" in out
    assert "kiro-auth-token.json: not found" in out
    assert "the store sqlite:///kg.db: no credentials" in out
    assert "kirogate login" in out and "kirogate accounts import FILE" in out
    assert "Admin API: off (turn it on with --admin-key" in out


def test_banner_counts_stored_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = [
        Credential(AuthMethod.IDC, refresh_token="r" * 120, id=4, client_id="c", client_secret="s")
    ]
    print_banner(Settings(), DiscoveryResult(), "k", False, tmp_path / "k", stored=stored)
    out = capsys.readouterr().out
    assert "Credentials (1):" in out and "#4 [idc]" in out


def test_banner_shows_a_new_generated_key_once_then_masks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "kg-" + "g" * 32
    settings = Settings(server=ServerSettings(api_keys=(key,)))  # as run_server passes it
    print_banner(settings, DiscoveryResult(), key, True, tmp_path / "api_key")
    assert f"API key (generated, saved in {tmp_path / 'api_key'}): {key}" in capsys.readouterr().out
    print_banner(settings, DiscoveryResult(), key, False, tmp_path / "api_key")
    out = capsys.readouterr().out
    assert "API key: kg-g…gggg, saved in" in out and key not in out


def test_banner_shows_a_new_admin_key_once_then_says_where_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin_key = "kga-" + "a" * 43
    settings = Settings(server=ServerSettings(api_keys=("k",), admin_key=admin_key))
    where = tmp_path / "admin_key"
    print_banner(settings, DiscoveryResult(), "", False, tmp_path / "api_key",
                 admin=GeneratedKey(where, new=True))  # fmt: skip
    assert f"Admin key (generated, saved in {where}): {admin_key}" in capsys.readouterr().out
    print_banner(settings, DiscoveryResult(), "", False, tmp_path / "api_key",
                 admin=GeneratedKey(where, new=False))  # fmt: skip
    out = capsys.readouterr().out
    assert f"admin key saved in {where} (cat it to see it)" in out and admin_key not in out
    print_banner(settings, DiscoveryResult(), "", False, tmp_path / "api_key")
    out = capsys.readouterr().out
    assert "admin key: the one you configured" in out and admin_key not in out
    off = Settings(server=ServerSettings(api_keys=("k",), admin=False))
    print_banner(off, DiscoveryResult(), "", False, tmp_path / "api_key")
    out = capsys.readouterr().out
    assert "Admin API: off (--no-admin)" in out and "Console:" not in out


def test_serve_generates_an_admin_key_once_and_no_admin_turns_it_off(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack:
        key_file = stack.data_dir / "admin_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text(encoding="utf-8").strip()
        assert key.startswith("kga-") and len(key) > 40
        request = urllib.request.Request(
            f"{stack.base_url}/api/admin/credentials", headers={"x-api-key": key}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    with live_stack(tmp_path, serve_args=["--no-admin"]) as stack:
        assert stack.data_dir / "admin_key" == key_file and key_file.exists()
        request = urllib.request.Request(
            f"{stack.base_url}/api/admin/credentials", headers={"x-api-key": key}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        refused.value.close()
        assert refused.value.code == 404


def test_banner_with_configured_keys_does_not_print_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(server=ServerSettings(api_keys=("secret-one", "secret-two")))
    print_banner(settings, DiscoveryResult(), "", False, tmp_path / "api_key")
    out = capsys.readouterr().out
    assert "API key: the 2 you configured" in out and "secret-one" not in out


def test_banner_numbers_credentials_as_the_store_and_shows_their_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    from_file = Credential(
        AuthMethod.SOCIAL,
        refresh_token="r" * 120,
        id=3,
        email="ide@example.com",
        origin=CredentialOrigin("kiro-ide", Path("/home/u/kiro-auth-token.json")),
    )
    stored = [
        from_file,
        Credential(
            AuthMethod.SOCIAL, refresh_token="s" * 120, id=5, origin=CredentialOrigin("store")
        ),
        Credential(AuthMethod.SOCIAL, refresh_token="t" * 120, id=7),
        Credential(AuthMethod.SOCIAL, refresh_token="u" * 120, id=8),
    ]
    states = {
        5: CredentialState(
            5, disabled_reason=DisableReason.INVALID_REFRESH_TOKEN, disabled_detail="rejected"
        ),
        7: CredentialState(
            7,
            cooldown_until=now + timedelta(hours=1),
            cooldown_reason=CooldownReason.QUOTA_EXCEEDED,
        ),
        8: CredentialState(
            8, cooldown_until=now + timedelta(minutes=1), cooldown_reason=CooldownReason.THROTTLED
        ),
    }
    print_banner(
        Settings(), DiscoveryResult(), "k", False, tmp_path / "k", stored=stored, states=states
    )
    out = capsys.readouterr().out
    assert "Credentials (4):" in out
    assert "#3 ide@example.com [social] ready" in out and "from /home/u/kiro-auth-token.json" in out
    assert "#5 [social] disabled (invalid_refresh_token: rejected)" in out
    assert "stored (accounts add/import, login or the admin API)" in out
    assert "#7 [social] quota used up until" in out
    assert "#8 [social] cooling down until" in out and "(throttled)" in out


def test_banner_says_where_background_runs_find_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    print_banner(Settings(), DiscoveryResult(), "kg-" + "k" * 30, False, tmp_path / "api_key")
    out = capsys.readouterr().out
    assert f"background runs (serve -d) use the same key: cat {tmp_path / 'api_key'}" in out


def test_serve_banner_lists_a_credential_added_to_the_store_with_its_store_id(
    tmp_path: Path,
) -> None:
    env = clean_env(tmp_path)
    data = tmp_path / "data"
    token = "aorAAAA" + "b" * 120
    subprocess.run(
        [sys.executable, "-m", "kirogate", "accounts", "add", "--data-dir", str(data),
         "--refresh-token", token, "--email", "added@example.com"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kirogate", "serve", "--data-dir", str(data), "--port", str(port),
         "--upstream-url", "http://127.0.0.1:9"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Credentials (" in line:
                lines.append(proc.stdout.readline())
                break
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        proc.stdout.close()
    out = "".join(lines)
    assert "Credentials (1):" in out
    assert "#1 added@example.com [social] ready" in out


def test_banner_colours_its_marks_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = [Credential(AuthMethod.SOCIAL, refresh_token="r" * 120, id=1)]
    print_banner(Settings(), DiscoveryResult(), "k", False, tmp_path / "k", stored=stored,
                 environ={"FORCE_COLOR": "1"})  # fmt: skip
    coloured = capsys.readouterr().out
    assert "\x1b[32m✓\x1b[0m #1 [social] ready" in coloured
    assert "\x1b[1mCredentials (1):\x1b[0m" in coloured
    print_banner(Settings(), DiscoveryResult(), "k", False, tmp_path / "k", stored=stored,
                 environ={})  # fmt: skip
    assert "\x1b[" not in capsys.readouterr().out

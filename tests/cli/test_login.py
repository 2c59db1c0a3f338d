"""``kirogate login`` in a real terminal (pexpect) against the emulator's OIDC and social login."""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pexpect
import pytest

from tests.cli.conftest import Cli, Emulator, subprocess_env

ANSI = r"(?:\x1b\[[0-9;]*m)*"  # rich styles what it shows; the expectations skip the codes
USER_CODE = re.compile(rf"code\s+{ANSI}([A-Z0-9]{{4}}-[A-Z0-9]{{4}})")


def spawn_login(tmp_path: Path, emulator: Emulator, *args: str) -> pexpect.spawn:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return pexpect.spawn(
        sys.executable,
        ["-m", "kirogate", "login", "--upstream-url", emulator.url,
         "--data-dir", str(tmp_path / "data"), *args],
        env=subprocess_env(home),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )  # fmt: skip


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1)


def approve(emulator: Emulator, user_code: str, *, deny: bool = False) -> None:
    emulator.post("/_emulator/approve", {"userCode": user_code, "deny": deny})


def test_device_login_shows_url_and_code_spins_and_saves_to_the_store(
    tmp_path: Path, emulator: Emulator, cli: Cli
) -> None:
    child = spawn_login(tmp_path, emulator)
    child.expect(rf"Sign in with {ANSI}AWS Builder ID")
    child.expect(r"Open\s+(http://\S+/device\?user_code=\S+)")
    child.expect(USER_CODE)
    user_code = child.match.group(1)
    child.expect("Waiting for the approval")  # the spinner
    approve(emulator, user_code)
    child.expect(r"logged in \(idc, BuilderId\); credential saved as #1 in sqlite")
    child.expect(r"refresh token \S+…\S+, access token valid until")
    assert finish(child) == 0
    listed = cli("accounts", "list", "--json", "--data-dir", tmp_path / "data")
    (row,) = json.loads(listed.out)
    assert (row["id"], row["authMethod"], row["provider"]) == (1, "idc", "BuilderId")


def test_device_login_with_output_writes_a_kiro_rs_file_0600(
    tmp_path: Path, emulator: Emulator
) -> None:
    out = tmp_path / "creds" / "credentials.json"
    child = spawn_login(tmp_path, emulator, "--output", str(out), "--start-url",
                        "https://my-org.awsapps.com/start", "--priority", "2")  # fmt: skip
    child.expect(rf"Sign in with {ANSI}https://my-org.awsapps.com/start")
    child.expect(USER_CODE)
    approve(emulator, child.match.group(1))
    child.expect(r"credential added to \S+credentials.json \(entry 0, mode 0600\)")
    assert finish(child) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    (entry,) = json.loads(out.read_text())
    assert entry["authMethod"] == "idc" and entry["provider"] == "Enterprise"
    assert entry["clientId"] and entry["clientSecret"] and entry["refreshToken"]
    assert entry["priority"] == 2 and "id" not in entry


def test_device_login_denied_in_the_browser_fails_with_exit_1(
    tmp_path: Path, emulator: Emulator
) -> None:
    child = spawn_login(tmp_path, emulator)
    child.expect(USER_CODE)
    approve(emulator, child.match.group(1), deny=True)
    child.expect("login failed: the login was denied in the browser")
    assert finish(child) == 1


def test_device_login_gives_up_after_the_timeout(tmp_path: Path, emulator: Emulator) -> None:
    child = spawn_login(tmp_path, emulator, "--timeout", "2")
    child.expect(USER_CODE)
    child.expect(r"login failed: the login was not approved within 2s")
    assert finish(child) == 1


def _redirect_of(url: str) -> str:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(url, timeout=10)
    assert answer.value.code == 302
    location = answer.value.headers["Location"]
    answer.value.close()  # the error holds the open response
    assert location.startswith("kiro://kiro.kiroAgent/authenticate-success?code=")
    return str(location)


def test_social_login_takes_the_pasted_redirect_url(
    tmp_path: Path, emulator: Emulator, cli: Cli
) -> None:
    child = spawn_login(tmp_path, emulator, "--social", "github")
    child.expect(rf"Sign in with {ANSI}GitHub")
    child.expect(r"Open\s+(http://\S+/login\?\S+)")
    login_url = child.match.group(1)
    assert "idp=Github" in login_url and "code_challenge_method=S256" in login_url
    child.expect("Redirect URL: ")
    child.sendline(_redirect_of(login_url))
    child.expect(r"logged in \(social, Github\); credential saved as #1")
    assert finish(child) == 0
    (row,) = json.loads(cli("accounts", "list", "--json", "--data-dir", tmp_path / "data").out)
    assert row["authMethod"] == "social" and row["hasProfileArn"]


def test_social_login_rejects_a_redirect_from_another_login(
    tmp_path: Path, emulator: Emulator
) -> None:
    child = spawn_login(tmp_path, emulator, "--social", "google")
    child.expect(r"Open\s+(http://\S+/login\?\S+)")
    redirect = _redirect_of(child.match.group(1))
    child.expect("Redirect URL: ")
    child.sendline(re.sub(r"state=[^&]+", "state=forged", redirect))
    child.expect("login failed: the redirect's state does not match this login")
    assert finish(child) == 1


def test_social_login_needs_a_redirect_url(tmp_path: Path, emulator: Emulator) -> None:
    child = spawn_login(tmp_path, emulator, "--social", "google")
    child.expect("Redirect URL: ")
    child.sendeof()
    child.expect(r"no redirect URL given \(stdin closed\); pass --redirect-url URL")
    assert finish(child) == 1


def test_a_priority_the_store_cannot_hold_fails_before_the_login(
    tmp_path: Path, emulator: Emulator
) -> None:
    child = spawn_login(tmp_path, emulator, "--priority", str(2**31))
    child.expect("--priority must be between 0 and 2147483647")
    assert finish(child) == 2

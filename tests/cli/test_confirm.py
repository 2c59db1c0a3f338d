"""Destructive commands ask on a terminal and, without one, refuse unless ``--yes``."""

from __future__ import annotations

import argparse
import io
import sys
import uuid
from pathlib import Path

import pexpect
import pytest

from kirogate.cli.command_kit import CliError
from kirogate.cli.confirm import confirm
from tests.cli.conftest import REFRESH_TOKEN, Cli, subprocess_env


def args(yes: bool = False) -> argparse.Namespace:
    return argparse.Namespace(yes=yes)


def on_terminal(monkeypatch: pytest.MonkeyPatch, typed: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)


def test_yes_goes_ahead_without_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert confirm(args(yes=True), "Delete?", what="deleting x") is True


def test_without_a_terminal_it_refuses_with_exit_2_naming_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(CliError) as raised:
        confirm(args(), "Delete?", what="deleting credential #3")
    assert raised.value.code == 2
    assert raised.value.message.startswith("deleting credential #3 needs confirmation")
    assert "--yes" in raised.value.message


@pytest.mark.parametrize(("typed", "answer"), [("y\n", True), ("YES\n", True), ("\n", False),
                                               ("n\n", False), ("", False)])  # fmt: skip
def test_on_a_terminal_only_yes_goes_ahead(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: str, answer: bool
) -> None:
    on_terminal(monkeypatch, typed)
    assert confirm(args(), "Delete credential #3?", what="deleting") is answer
    assert capsys.readouterr().err == "Delete credential #3? [y/N] "


def spawn_kirogate(home: Path, *argv: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "kirogate", *argv],
        env=subprocess_env(home),
        encoding="utf-8",
        timeout=30,
    )


def add_credential(cli: Cli, data: Path) -> None:
    token = REFRESH_TOKEN + uuid.uuid4().hex
    assert cli("accounts", "add", "--refresh-token", token, "--data-dir", data).code == 0


def stored(cli: Cli, data: Path) -> int:
    return len(cli("accounts", "list", "--json", "--data-dir", data).out.split('"id"')) - 1


def test_accounts_remove_on_a_terminal_keeps_the_credential_on_no(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    add_credential(cli, data)
    child = spawn_kirogate(home, "accounts", "remove", "1", "--data-dir", str(data))
    child.expect_exact("Delete credential #1 (#1)? [y/N] ")
    child.sendline("n")
    child.expect("nothing deleted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert stored(cli, data) == 1


def test_accounts_remove_on_a_terminal_deletes_on_yes(cli: Cli, home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_credential(cli, data)
    child = spawn_kirogate(home, "accounts", "remove", "1", "--data-dir", str(data))
    child.expect_exact("[y/N] ")
    child.sendline("y")
    child.expect("deleted credential #1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert stored(cli, data) == 0


def test_stop_on_a_terminal_with_nothing_running_asks_nothing(home: Path, tmp_path: Path) -> None:
    child = spawn_kirogate(home, "stop", "--data-dir", str(tmp_path / "data"))
    child.expect("kirogate is not running")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3

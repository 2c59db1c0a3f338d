"""The secret watch of the test suite (tests/secret_watch.py): what it counts as a leak, which
constants it takes for secrets, and that a planted leak fails a pytest session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.secret_watch import PIECE, SecretScanner, constants

ROOT = Path(__file__).resolve().parent.parent
LONG = "Zq8-rT2vLm0Xy7Wb4Nc1Pd6Ke3Jf9Hg5Sa"  # 34 characters, all different enough
SHORT = "sk-watch-9f3k"  # under PIECE: only whole


def scanner(*secrets: str) -> SecretScanner:
    found = SecretScanner()
    for value in secrets:
        found.add(value)
    return found


def test_a_whole_secret_is_found_where_it_is() -> None:
    text = f"line one\nkey={SHORT} and token {LONG}."
    assert sorted(scanner(LONG, SHORT).find(text)) == sorted(
        [(SHORT, text.index(SHORT)), (LONG, text.index(LONG))]
    )


@pytest.mark.parametrize("offset", range(PIECE // 2 + 1))
@pytest.mark.parametrize("start", [0, 5, len(LONG) - PIECE])
def test_any_piece_of_a_long_secret_is_found_at_any_alignment(offset: int, start: int) -> None:
    piece = LONG[start : start + PIECE]
    text = "." * offset + piece + " rest of the line"
    assert list(scanner(LONG).find(text)) == [(LONG, offset)]


def test_a_piece_one_character_short_is_not_a_leak() -> None:
    assert list(scanner(LONG).find("masked: " + LONG[: PIECE - 1] + "...")) == []
    assert list(scanner(SHORT).find(SHORT[:-1])) == []


def test_filler_runs_of_a_test_token_are_no_fingerprint() -> None:
    token = "aorAAAA-refresh-token-one-" + "r" * 100
    assert list(scanner(token).find("r" * 300)) == []
    assert list(scanner(token).find("x: -token-one-rrrrrrrrrrrrrrrrrrr")) != []


def test_constants_too_short_are_not_secrets() -> None:
    found = scanner("short", "   ")
    assert found.secrets == set()


def test_tokens_of_an_emulator_in_another_process_are_recognised_by_shape() -> None:
    issued = "aoaAAAAAG" + "Ab3dE5gH7jK9mN1pQ3sT5vW7y"
    assert [at for _, at in scanner().find(f"sent Bearer {issued}")] == [12]


def test_constants_named_like_secrets_are_taken() -> None:
    namespace = {
        "REFRESH": "aorAAAA-refresh",
        "ADMIN_KEY": "admin-key-123",
        "SECRETS": ("one-secret-value", "two-secret-value", 3),
        "PROXY_PASSWORD": "pass-word-987",
        "KEY_ENV": "KIROGATE_API_KEY",  # the name of a variable, not a value
        "RESULTS_KEY": "x_kirogate_results",  # a field name
        "TOKEN_MESSAGE": "the token was refused",  # a message
        "MODEL": "claude-sonnet-4-6",
        "lower_token": "not-a-constant",
    }
    assert sorted(constants(namespace)) == sorted(
        [
            "aorAAAA-refresh",
            "admin-key-123",
            "one-secret-value",
            "two-secret-value",
            "pass-word-987",
        ]
    )


PLANTED = """
import logging

import pytest

from tests.secret_watch import secret

TOKEN = secret("planted-Zq8-rT2vLm0Xy7Wb4Nc1Pd6Ke3")


def test_logs_a_piece_of_it():
    logging.getLogger("kirogate.test").warning("refreshing with %s", TOKEN[3:30])


@pytest.mark.shows_secret
def test_shows_it_on_purpose(capsys):
    print(TOKEN)
    assert capsys.readouterr().out
"""


def run_planted(tmp_path: Path, *select: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_planted.py").write_text(PLANTED, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.secret_watch", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), "-c", os.devnull, "test_planted.py", *select],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_planted_leak_fails_the_session_and_names_the_test(tmp_path: Path) -> None:
    result = run_planted(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "secrets in outputs" in result.stdout
    assert (
        "test_planted.py::test_logs_a_piece_of_it: log kirogate.test holds secret" in result.stdout
    )
    assert "test_shows_it_on_purpose" not in result.stdout.split("secrets in outputs")[1]


def test_a_test_marked_shows_secret_passes(tmp_path: Path) -> None:
    result = run_planted(tmp_path, "-k", "on_purpose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secrets in outputs" not in result.stdout

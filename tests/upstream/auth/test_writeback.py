import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kirogate.errors import CredentialSourceError
from kirogate.upstream.auth import writeback
from kirogate.upstream.auth.sources import load_credentials_file, load_env_credentials
from kirogate.upstream.auth.writeback import (
    atomic_write_json,
    format_expires_at,
    write_back,
    write_back_async,
)
from kirogate.upstream.credentials import AuthMethod, Credential, CredentialOrigin

RT = "aorAAAAAG" + "x" * 120
RT2 = "aorAAAAAG" + "y" * 120
NEW_RT = "aorAAAAAG" + "n" * 120
WHEN = datetime(2026, 5, 1, 12, 30, 15, 250000, UTC)


def write(path: Path, data: object, mode: int = 0o644) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    path.chmod(mode)
    return path


def read(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def refreshed(cred: Credential) -> Credential:
    cred.access_token = "new-access"
    cred.refresh_token = NEW_RT
    cred.expires_at = WHEN
    cred.profile_arn = "arn:new"
    return cred


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if writeback.TEMP_MARK in p.name]


def test_format_expires_at_rfc3339_z_with_millis():
    assert format_expires_at(WHEN) == "2026-05-01T12:30:15.250Z"


def test_array_element_updated_by_id_and_others_untouched(tmp_path):
    path = write(
        tmp_path / "credentials.json",
        [
            {"id": 1, "refreshToken": RT, "customNote": "keep me"},
            {"id": 2, "refreshToken": RT2, "authMethod": "social", "futureField": [1, 2]},
        ],
    )
    creds = load_credentials_file(path)
    assert write_back(refreshed(creds[1])) is True
    data = read(path)
    assert data[0] == {"id": 1, "refreshToken": RT, "customNote": "keep me"}
    assert data[1] == {
        "id": 2,
        "refreshToken": NEW_RT,
        "accessToken": "new-access",
        "expiresAt": "2026-05-01T12:30:15.250Z",
        "profileArn": "arn:new",
        "authMethod": "social",
        "futureField": [1, 2],
    }


def test_array_element_found_by_id_after_reorder(tmp_path):
    path = write(
        tmp_path / "c.json", [{"id": 1, "refreshToken": RT}, {"id": 2, "refreshToken": RT2}]
    )
    cred = load_credentials_file(path)[1]
    write(path, [{"id": 2, "refreshToken": RT2}, {"id": 1, "refreshToken": RT}])
    write_back(refreshed(cred))
    data = read(path)
    assert data[0]["refreshToken"] == NEW_RT
    assert data[1]["refreshToken"] == RT


def test_array_element_without_id_matched_by_index_and_gets_id(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}, {"refreshToken": RT2}])
    cred = load_credentials_file(path)[1]
    write_back(refreshed(cred))
    data = read(path)
    assert data[1]["refreshToken"] == NEW_RT
    assert data[1]["id"] == 2
    assert data[0] == {"refreshToken": RT}


def test_array_element_gone_is_an_error_and_file_kept(tmp_path):
    path = write(
        tmp_path / "c.json", [{"id": 1, "refreshToken": RT}, {"id": 2, "refreshToken": RT2}]
    )
    cred = load_credentials_file(path)[1]
    write(path, [{"id": 1, "refreshToken": RT}])
    before = path.read_bytes()
    with pytest.raises(CredentialSourceError, match="no longer in this file"):
        write_back(refreshed(cred))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_kiro_rs_defaults_not_added_and_aliases_canonicalised(tmp_path):
    path = write(
        tmp_path / "c.json",
        [{"refreshToken": RT, "authMethod": "builder-id", "clientId": "c", "clientSecret": "s"}],
    )
    [cred] = load_credentials_file(path)
    write_back(refreshed(cred))
    [element] = read(path)
    assert element["authMethod"] == "idc"
    for key in ("priority", "disabled", "endpoint", "provider"):
        assert key not in element


def test_kiro_rs_disabled_and_priority_written_when_set(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT, "priority": 0}])
    [cred] = load_credentials_file(path)
    cred.priority = 3
    cred.disabled = True
    write_back(cred)
    [element] = read(path)
    assert element["priority"] == 3
    assert element["disabled"] is True


def test_single_kiro_rs_object_merged(tmp_path):
    path = write(tmp_path / "c.json", {"refreshToken": RT, "machineId": "a" * 64, "x": 1})
    [cred] = load_credentials_file(path)
    write_back(refreshed(cred))
    data = read(path)
    assert data["refreshToken"] == NEW_RT
    assert data["machineId"] == "a" * 64
    assert data["x"] == 1
    assert data["id"] == 1


def test_ide_file_only_token_fields_updated(tmp_path):
    (tmp_path / "h.json").write_text(json.dumps({"clientId": "c", "clientSecret": "s"}))
    original = {
        "accessToken": "old",
        "refreshToken": RT,
        "expiresAt": "2025-12-31T02:32:45.144Z",
        "clientIdHash": "h",
        "authMethod": "IdC",
        "provider": "BuilderId",
        "region": "us-east-1",
    }
    path = write(tmp_path / "kiro-auth-token.json", original)
    [cred] = load_credentials_file(path)
    write_back(refreshed(cred))
    assert read(path) == {
        **original,
        "accessToken": "new-access",
        "refreshToken": NEW_RT,
        "expiresAt": "2026-05-01T12:30:15.250Z",
        "profileArn": "arn:new",
    }


def test_kiro2api_file_only_token_fields_updated(tmp_path):
    path = write(
        tmp_path / "tokens.json", [{"auth": "Social", "refreshToken": RT, "disabled": False}]
    )
    [cred] = load_credentials_file(path)
    assert cred.origin.kind == "kiro2api"
    cred.access_token = "new-access"
    cred.expires_at = WHEN
    write_back(cred)
    assert read(path) == [
        {
            "auth": "Social",
            "refreshToken": RT,
            "disabled": False,
            "accessToken": "new-access",
            "expiresAt": "2026-05-01T12:30:15.250Z",
        }
    ]


def test_env_credentials_not_written(tmp_path):
    [cred] = load_env_credentials({"REFRESH_TOKEN": RT})
    assert write_back(refreshed(cred)) is False


def test_store_credentials_not_written():
    cred = Credential(AuthMethod.SOCIAL, refresh_token=RT, origin=CredentialOrigin("store"))
    assert write_back(cred) is False


def test_mode_is_0600_after_write(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}], mode=0o644)
    [cred] = load_credentials_file(path)
    write_back(refreshed(cred))
    assert mode_of(path) == 0o600


def test_symlink_written_through(tmp_path):
    real = write(tmp_path / "real.json", [{"refreshToken": RT}])
    link = tmp_path / "link.json"
    link.symlink_to(real)
    [cred] = load_credentials_file(link)
    write_back(refreshed(cred))
    assert link.is_symlink()
    assert read(real)[0]["refreshToken"] == NEW_RT


def test_corrupt_file_not_overwritten(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}])
    [cred] = load_credentials_file(path)
    path.write_text("[{oops", encoding="utf-8")
    with pytest.raises(CredentialSourceError, match="no longer valid JSON"):
        write_back(refreshed(cred))
    assert path.read_text() == "[{oops"


def test_deleted_file_is_an_error(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}])
    [cred] = load_credentials_file(path)
    path.unlink()
    with pytest.raises(CredentialSourceError, match="cannot write back"):
        write_back(refreshed(cred))
    assert not path.exists()


def test_failed_rename_leaves_original_and_no_temp(tmp_path, monkeypatch):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}])
    before = path.read_bytes()
    [cred] = load_credentials_file(path)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writeback.os, "replace", broken_replace)
    with pytest.raises(CredentialSourceError, match="No space left"):
        write_back(refreshed(cred))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failed_temp_write_leaves_no_temp(tmp_path, monkeypatch):
    path = write(tmp_path / "c.json", {"a": 1})

    def broken_fsync(fd):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(writeback.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_json(path, {"a": 2})
    assert read(path) == {"a": 1}
    assert leftovers(tmp_path) == []


def test_stale_temp_files_cleaned_up(tmp_path):
    path = write(tmp_path / "c.json", {"a": 1})
    stale = tmp_path / f".c.json{writeback.TEMP_MARK}abc.tmp"
    fresh = tmp_path / f".c.json{writeback.TEMP_MARK}def.tmp"
    stale.write_text("{")
    fresh.write_text("{")
    old = time.time() - writeback.STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    atomic_write_json(path, {"a": 2})
    assert not stale.exists()
    assert fresh.exists()


def test_concurrent_write_backs_do_not_lose_updates(tmp_path):
    count = 16
    path = write(
        tmp_path / "c.json",
        [{"id": i + 1, "refreshToken": RT + str(i)} for i in range(count)],
    )
    creds = load_credentials_file(path)
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(cred: Credential) -> None:
        cred.access_token = f"access-{cred.id}"
        barrier.wait()
        try:
            write_back(cred)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in creds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [e["accessToken"] for e in read(path)] == [f"access-{i + 1}" for i in range(count)]
    assert leftovers(tmp_path) == []


async def test_write_back_async(tmp_path):
    path = write(tmp_path / "c.json", [{"refreshToken": RT}])
    [cred] = load_credentials_file(path)
    assert await write_back_async(refreshed(cred)) is True
    assert read(path)[0]["refreshToken"] == NEW_RT


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from kirogate.upstream.auth import writeback
    from kirogate.upstream.auth.sources import load_credentials_file

    [cred] = load_credentials_file(Path(sys.argv[1]))
    cred.access_token = "new-access"
    cred.refresh_token = "aorAAAAAG" + "n" * 120

    def stalled_replace(src, dst):
        print("READY", flush=True)
        time.sleep(60)

    writeback.os.replace = stalled_replace
    writeback.write_back(cred)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_killed_during_write_back_leaves_old_file_intact(tmp_path):
    path = write(tmp_path / "c.json", [{"id": 1, "refreshToken": RT, "note": "old"}])
    before = path.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        # The complete new content sits in the temp file, not yet renamed.
        [temp] = [tmp_path / name for name in leftovers(tmp_path)]
        assert json.loads(temp.read_text())[0]["accessToken"] == "new-access"
        assert mode_of(temp) == 0o600
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert read(path) == [{"id": 1, "refreshToken": RT, "note": "old"}]


def test_store_mode_row_id_differs_from_the_file_id(tmp_path: Path) -> None:
    """In store mode the credential's id is the row id; the file entry keeps its own."""
    path = write(
        tmp_path / "credentials.json",
        [
            {"id": 1, "refreshToken": RT, "authMethod": "social"},
            {"id": 2, "refreshToken": RT2, "authMethod": "social"},
        ],
    )
    first, _second = load_credentials_file(path)
    assert first.origin is not None and first.origin.file_id == 1
    first.id = 2  # the store gave it row 2 (row 1 was taken by another credential)
    write_back(refreshed(first))
    entries = read(path)
    assert isinstance(entries, list)
    assert entries[0]["id"] == 1 and entries[0]["refreshToken"] == NEW_RT
    assert entries[1] == {"id": 2, "refreshToken": RT2, "authMethod": "social"}

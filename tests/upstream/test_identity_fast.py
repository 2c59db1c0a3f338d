"""The per-request shortcuts of ``identity``: uuid strings and remembered user agents."""

import uuid
from dataclasses import replace

import pytest

from kirogate.settings import UpstreamSettings
from kirogate.upstream import identity
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.identity import data_plane_headers, random_uuid, random_uuid_hex

SETTINGS = UpstreamSettings(system_version="darwin#24.6.0")


def social() -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token="r" * 40, access_token="aoa-token")


def test_random_uuid_is_a_version_4_rfc_4122_uuid() -> None:
    seen = set()
    for _ in range(200):
        text = random_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 200


def test_random_uuid_hex_is_a_version_4_uuid_hex() -> None:
    text = random_uuid_hex()
    parsed = uuid.UUID(hex=text)
    assert parsed.hex == text and len(text) == 32
    assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_user_agents_follow_the_settings_and_machine_id() -> None:
    first = data_plane_headers(social(), SETTINGS, machine_id="a" * 64)
    again = data_plane_headers(social(), SETTINGS, machine_id="a" * 64)
    other_id = data_plane_headers(social(), SETTINGS, machine_id="b" * 64)
    newer = data_plane_headers(
        social(), replace(SETTINGS, kiro_version="9.9.9"), machine_id="a" * 64
    )
    other_os = data_plane_headers(
        social(), replace(SETTINGS, system_version="win32#10.0.22631"), machine_id="a" * 64
    )
    assert first["user-agent"] == again["user-agent"]
    assert "a" * 64 in first["user-agent"] and "b" * 64 in other_id["user-agent"]
    assert "KiroIDE-9.9.9-" in newer["x-amz-user-agent"]
    assert "os/win32#10.0.22631" in other_os["user-agent"]
    assert "os/darwin#24.6.0" in first["user-agent"]


def test_user_agent_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "_AGENTS_MEMO_MAX", 4)
    monkeypatch.setattr(identity, "_agents_memo", {})
    for index in range(20):
        headers = data_plane_headers(social(), SETTINGS, machine_id=f"{index:064x}")
        assert f"{index:064x}" in headers["user-agent"]
    assert 0 < len(identity._agents_memo) <= 4


def test_data_plane_head_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "_AGENTS_MEMO_MAX", 4)
    monkeypatch.setattr(identity, "_heads_memo", {})
    for index in range(20):
        headers = data_plane_headers(social(), SETTINGS, machine_id=f"{index:064x}")
        assert f"{index:064x}" in headers["x-amz-user-agent"]
    assert 0 < len(identity._heads_memo) <= 4


def test_each_request_gets_its_own_headers_in_the_kiro_ide_order() -> None:
    first = data_plane_headers(social(), SETTINGS, machine_id="a" * 64)
    first["x-amzn-kiro-agent-mode"] = "changed"
    again = data_plane_headers(social(), SETTINGS, machine_id="a" * 64, attempt=2)
    assert again["x-amzn-kiro-agent-mode"] == "vibe"
    assert again["amz-sdk-request"] == "attempt=2; max=3"
    assert first["amz-sdk-invocation-id"] != again["amz-sdk-invocation-id"]
    assert list(again) == [
        "content-type",
        "x-amzn-codewhisperer-optout",
        "x-amzn-kiro-agent-mode",
        "x-amz-user-agent",
        "user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "Authorization",
    ]

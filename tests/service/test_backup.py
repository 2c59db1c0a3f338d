"""Backup files: the passphrase rule, the credential records, and the clear header's integrity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kirogate.errors import InvalidRequest
from kirogate.service.backup import check_passphrase, credential_from_record, credential_record
from kirogate.upstream.credentials import AuthMethod, Credential


def test_a_short_passphrase_is_refused_naming_the_header() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_passphrase("short")
    assert caught.value.param == "X-Backup-Passphrase"
    assert check_passphrase("long enough passphrase") == "long enough passphrase"


def test_a_credential_survives_its_record() -> None:
    credential = Credential(AuthMethod.IDC, refresh_token="r" * 40, client_id="c",
                            client_secret="s" * 20, expires_at=datetime(2027, 1, 1, tzinfo=UTC),
                            id=4, email="a@x.test", priority=2)  # fmt: skip
    back = credential_from_record(credential_record(credential))
    assert back.auth_method is AuthMethod.IDC and back.expires_at == credential.expires_at
    assert (back.refresh_token, back.client_secret, back.priority) == ("r" * 40, "s" * 20, 2)
    assert back.origin is not None and back.origin.kind == "admin"
    with pytest.raises(InvalidRequest):
        credential_from_record({"auth_method": "nope"})

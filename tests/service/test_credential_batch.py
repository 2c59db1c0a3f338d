"""The batch operations: an import is all or nothing (the store first), duplicates by token,
export with the audit hook, delete-failed's reasons, disable/enable-all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kirogate.errors import ConfigError, InvalidRequest, StoreUnavailable, UpstreamForbidden
from kirogate.pool import CredentialPool
from kirogate.pool.state import CooldownReason, DisableReason
from kirogate.service.credential_batch import balance_summary, scrubbed
from kirogate.service.credential_import import ImportItem, read_item
from kirogate.service.operations import Operations
from kirogate.settings import Settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.admin.fakes import balance

TOKEN_A = "aorAAAA-batch-a-" + "a1" * 60
TOKEN_B = "aorAAAA-batch-b-" + "b2" * 60
TOKEN_C = "aorAAAA-batch-c-" + "c3" * 60
OUTAGE = "database postgresql://kg@db.internal:5432/kg: connection refused"


class StoreDown:
    """A store whose every call fails as a stopped database's would."""

    display_url = "postgresql://kg@db.internal:5432/kg"

    def __getattr__(self, name: str) -> object:
        async def fail(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable(OUTAGE)

        return fail


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Operations]:
    async with Operations.open(Settings(data_dir=tmp_path)) as operations:
        yield operations


def over(opened: Operations, pool: CredentialPool | None, store: object) -> Operations:
    return Operations(
        lambda: pool,
        opened._tokens,
        opened._client,
        opened._machine_ready,
        store=lambda: store,  # type: ignore[arg-type,return-value]
    )


def items(*tokens: str) -> list[ImportItem]:
    return [read_item(index, {"refreshToken": token}) for index, token in enumerate(tokens)]


def pool_of(*tokens: str) -> CredentialPool:
    return CredentialPool(
        [
            Credential(AuthMethod.SOCIAL, refresh_token=token, id=index + 1)
            for index, token in enumerate(tokens)
        ]
    )


async def test_an_import_adds_nothing_when_the_store_write_fails(opened: Operations) -> None:
    pool = pool_of(TOKEN_A)
    ops = over(opened, pool, StoreDown())
    with pytest.raises(StoreUnavailable):
        await ops.import_batch(items(TOKEN_B, TOKEN_C))
    assert [c.id for c in pool.credentials()] == [1]


async def test_an_import_into_the_store_alone(opened: Operations) -> None:
    results = await opened.import_batch(items(TOKEN_A, TOKEN_B, TOKEN_A))
    assert [(r["status"], r["id"]) for r in results] == [
        ("added", 1),
        ("added", 2),
        ("duplicate", 1),
    ]
    again = await opened.import_batch(items(TOKEN_B))
    assert [(r["status"], r["id"]) for r in again] == [("duplicate", 2)]
    assert [c.id for c in await opened.stored_credentials()] == [1, 2]


async def test_an_import_over_the_store_and_the_pool(opened: Operations) -> None:
    store = opened._stored()
    first, _ = await store.add_credential(Credential(AuthMethod.SOCIAL, refresh_token=TOKEN_A))
    pool = CredentialPool([first])
    ops = over(opened, pool, store)
    results = await ops.import_batch([*items(TOKEN_A, TOKEN_B), read_item(2, {})])
    assert [r["status"] for r in results] == ["duplicate", "added", "invalid"]
    assert [c.id for c in pool.credentials()] == [first.id, results[1]["id"]]


async def test_an_import_without_pool_or_store_is_refused(opened: Operations) -> None:
    ops = over(opened, None, None)
    with pytest.raises(ConfigError):
        await ops.import_batch(items(TOKEN_A))


async def test_an_export_with_secrets_calls_the_audit_hook(
    opened: Operations, monkeypatch: pytest.MonkeyPatch
) -> None:
    await opened.import_batch(items(TOKEN_A))
    await opened.set_disabled(1, True)
    seen: list[str] = []

    async def audit_event(action: str, *, target: str | None) -> None:
        seen.append(action)

    monkeypatch.setattr(opened, "audit_event", audit_event)
    plain = await opened.export_credentials(secrets=False)
    assert seen == []
    assert (plain[0]["disabled"], plain[0]["disabledReason"]) == (True, "manual")
    assert "refreshToken" not in plain[0]
    full = await opened.export_credentials(secrets=True)
    assert seen == ["credentials.export_secrets"]
    assert full[0]["refreshToken"] == TOKEN_A


async def test_the_audit_hook_is_a_no_op_until_wired(opened: Operations) -> None:
    assert await opened.audit_event("credentials.export_secrets", target=None) is None
    assert await opened.credential_group_members("team-a") is None


async def test_delete_failed_can_take_suspended_accounts_too(opened: Operations) -> None:
    pool = pool_of(TOKEN_A, TOKEN_B, TOKEN_C)
    ops = over(opened, pool, None)
    pool.disable(1, "too many", reason=DisableReason.TOO_MANY_FAILURES)
    lease = await pool.acquire()
    assert lease.credential.id == 2
    pool.report_failure(lease, UpstreamForbidden("403 TEMPORARILY_SUSPENDED"))
    await lease.release()
    assert pool.state_of(2).cooldown_reason is CooldownReason.SUSPENDED
    assert [d["id"] for d in await ops.delete_failed()] == [1]
    deleted = await ops.delete_failed(include_suspended=True)
    assert deleted == [{"id": 2, "reason": "suspended"}]
    assert [c.id for c in pool.credentials()] == [3]


async def test_verify_targets_check_every_id(opened: Operations) -> None:
    ops = over(opened, pool_of(TOKEN_A, TOKEN_B), None)
    assert ops.verify_targets(None) == [1, 2]
    assert ops.verify_targets([2, 2, 1]) == [2, 1]
    with pytest.raises(InvalidRequest, match="#9"):
        ops.verify_targets([1, 9])


async def test_a_store_only_door_cannot_refresh(opened: Operations) -> None:
    with pytest.raises(ConfigError):
        await opened.refresh_now(1)


def test_scrubbed_masks_the_credentials_secrets() -> None:
    credential = Credential(AuthMethod.SOCIAL, refresh_token=TOKEN_A)
    text = scrubbed(f"upstream said {TOKEN_A} is bad", credential)
    assert TOKEN_A not in text
    assert text.startswith("upstream said aorA…")


def test_balance_summary_has_used_limit_and_reset() -> None:
    summary = balance_summary(balance(remaining=25.0))
    assert summary["currentUsage"] == 75.0
    assert summary["usageLimit"] == 100.0
    assert summary["nextResetAt"] is not None

"""``/api/admin/models`` and the model rules as clients see them through ``/v1/models``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.test_settings import ADMIN, CLIENT, Live, live

__all__ = ["live"]


async def models(live: Live) -> dict[str, Any]:
    reply = await live.http.get("/api/admin/models", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def listed(live: Live) -> list[str]:
    reply = await live.http.get("/v1/models", headers=CLIENT)
    assert reply.status_code == 200, reply.text
    return [row["id"] for row in reply.json()["data"]]


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "client-key-settings-0123456789"}])
async def test_the_models_need_the_admin_key(live: Live, headers: dict[str, str]) -> None:
    assert (await live.http.get("/api/admin/models", headers=headers)).status_code == 401
    reply = await live.http.get("/api/admin/models/resolve?name=x", headers=headers)
    assert reply.status_code == 401


async def test_every_public_name_is_shown_with_its_upstream_id(live: Live) -> None:
    rows = {row["name"]: row for row in (await models(live))["models"]}
    assert rows["claude-sonnet-4-6"]["upstream_id"] == "claude-sonnet-4.6"
    assert rows["claude-sonnet-4-6"]["via"] == "builtin"
    assert rows["claude-sonnet-4-6-thinking"]["thinking"] is True
    assert not any(row["hidden"] for row in rows.values())
    assert set(rows) == set(await listed(live))


async def test_rules_show_in_the_admin_list_and_in_v1_models(live: Live) -> None:
    body = {
        "models.aliases": {"team-fast": "claude-haiku-4.5"},
        "models.overrides": {"claude-opus-4-8": "claude-opus-4.6", "gpt-*": "glm-5"},
        "models.hidden": ["claude-opus-4-7", "deepseek-*"],
    }
    assert (await live.patch(body)).status_code == 200
    reply = await models(live)
    rows = {row["name"]: row for row in reply["models"]}
    assert (rows["team-fast"]["via"], rows["team-fast"]["upstream_id"]) == (
        "alias",
        "claude-haiku-4.5",
    )
    assert (rows["claude-opus-4-8"]["via"], rows["claude-opus-4-8"]["upstream_id"]) == (
        "override",
        "claude-opus-4.6",
    )
    assert rows["claude-opus-4-7"]["hidden"] and rows["claude-opus-4-7-thinking"]["hidden"]
    assert rows["deepseek-3.2"]["hidden"]
    assert reply["rules"]["overrides"] == {"claude-opus-4-8": "claude-opus-4.6", "gpt-*": "glm-5"}
    public = await listed(live)
    assert "team-fast" in public
    assert "claude-opus-4-7" not in public and "deepseek-3.2" not in public
    assert (await live.ask("claude-opus-4-7")).status_code == 200  # hidden, still served


async def test_resolve_says_which_rule_decides(live: Live) -> None:
    body = {"models.overrides": {"gpt-*": "glm-5"}, "models.fallback": "claude-sonnet-4.5"}
    assert (await live.patch(body)).status_code == 200
    reply = await live.http.get("/api/admin/models/resolve?name=gpt-4o", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    assert reply.json() | {"served": True} == {
        "name": "gpt-4o",
        "upstream_id": "glm-5",
        "via": "pattern",
        "rule": "gpt-*",
        "thinking": False,
        "context_window": 200_000,
        "hidden": False,
        "served": True,
    }
    reply = await live.http.get("/api/admin/models/resolve?name=mystery", headers=ADMIN)
    assert reply.json()["via"] == "fallback"
    assert reply.json()["upstream_id"] == "claude-sonnet-4.5"


async def test_resolve_without_a_fallback_is_a_404_and_without_a_name_a_400(live: Live) -> None:
    reply = await live.http.get("/api/admin/models/resolve?name=mystery", headers=ADMIN)
    assert reply.status_code == 404
    reply = await live.http.get("/api/admin/models/resolve?name=", headers=ADMIN)
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request"


async def test_a_forced_model_is_shown_for_every_name(live: Live) -> None:
    assert (await live.patch({"models.forced": "claude-haiku-4-5"})).status_code == 200
    reply = await models(live)
    assert reply["rules"]["forced"] == "claude-haiku-4-5"
    assert {row["upstream_id"] for row in reply["models"]} == {"claude-haiku-4.5"}
    assert {row["via"] for row in reply["models"]} == {"forced"}


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("amazonq-claude-sonnet-4-20250514", "claude-sonnet-4"),  # seed 000 (AIClient-2-API)
        ("amazonq-claude-3-7-sonnet-20250219", "claude-sonnet-4.5"),
        ("claude-4.5-opus-high", "claude-opus-4.5"),  # seed 003 (claude-api)
        ("claude-4.5-opus-low", "claude-opus-4.5"),
        ("claude-sonnet-3.5", "claude-sonnet-4.5"),
        ("CLAUDE_OPUS_4_5_20251101_V1_0", "claude-opus-4.5"),  # seed 004 (kiro2api)
        ("CLAUDE_SONNET_4_5_20250929_V1_0", "claude-sonnet-4.5"),
        ("CLAUDE_SONNET_4_20250514_V1_0", "claude-sonnet-4"),
        ("CLAUDE_3_7_SONNET_20250219_V1_0", "claude-sonnet-4.5"),
    ],
)
async def test_the_seeds_names_are_served_end_to_end(live: Live, name: str, upstream: str) -> None:
    reply = await live.ask(name)
    assert reply.status_code == 200, reply.text
    assert live.upstream_models() == [upstream]

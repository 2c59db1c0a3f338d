import pytest

from kirogate.convert.ir import ThinkingConfig
from kirogate.convert.models import (
    MAX_OUTPUT_TOKENS,
    ModelTable,
    known_upstream_ids,
    list_public_models,
    resolve_model,
)
from kirogate.errors import ConfigError, NotFound
from kirogate.protocol.validation import CURRENT_MODEL_IDS, KNOWN_MODEL_IDS


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-opus-4-5-20251101", "claude-opus-4.5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-3-7-sonnet-20250219", "claude-sonnet-4.5"),
    ],
)
def test_dated_names_map_to_upstream_ids(name: str, upstream: str) -> None:
    assert resolve_model(name).upstream_id == upstream


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("claude-sonnet-4.5", "claude-sonnet-4.5"),
        ("claude-sonnet-4.6", "claude-sonnet-4.6"),
        ("claude-opus-4.7", "claude-opus-4.7"),
        ("claude-haiku-4.5", "claude-haiku-4.5"),
    ],
)
def test_dot_forms_map_to_upstream_ids(name: str, upstream: str) -> None:
    assert resolve_model(name).upstream_id == upstream


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("claude-sonnet-4-6", "claude-sonnet-4.6"),
        ("claude-sonnet-4-5", "claude-sonnet-4.5"),
        ("claude-opus-4-6", "claude-opus-4.6"),
        ("claude-opus-4-7", "claude-opus-4.7"),
        ("claude-opus-4-8", "claude-opus-4.8"),
        ("claude-haiku-4-5", "claude-haiku-4.5"),
        ("claude-sonnet-4-0", "claude-sonnet-4"),
    ],
)
def test_dash_forms_map_to_upstream_ids(name: str, upstream: str) -> None:
    assert resolve_model(name).upstream_id == upstream


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("claude-sonnet-4-5-latest", "claude-sonnet-4.5"),
        ("claude-3-7-sonnet-latest", "claude-sonnet-4.5"),
        ("claude-3-5-haiku-latest", "claude-haiku-4.5"),
        ("claude-opus-4-5-latest", "claude-opus-4.5"),
    ],
)
def test_latest_aliases_map_to_upstream_ids(name: str, upstream: str) -> None:
    assert resolve_model(name).upstream_id == upstream


def test_claude_3_5_sonnet_maps_to_sonnet_4_5() -> None:
    assert resolve_model("claude-3-5-sonnet-20241022").upstream_id == "claude-sonnet-4.5"


def test_old_opus_versions_map_to_the_opus_fallback() -> None:
    assert resolve_model("claude-opus-4-1-20250805").upstream_id == "claude-opus-4.6"


def test_family_without_version_maps_to_the_family_fallback() -> None:
    assert resolve_model("sonnet").upstream_id == "claude-sonnet-4.5"
    assert resolve_model("claude-haiku-latest").upstream_id == "claude-haiku-4.5"


def test_old_style_names_with_new_versions_resolve() -> None:
    assert resolve_model("claude-4.5-sonnet").upstream_id == "claude-sonnet-4.5"


def test_newer_versions_of_a_known_family_pass_through() -> None:
    info = resolve_model("claude-sonnet-4-7-20260101")
    assert (info.upstream_id, info.public_id, info.family) == (
        "claude-sonnet-4.7",
        "claude-sonnet-4-7",
        "sonnet",
    )
    assert info.context_window == 1_000_000


def test_newer_major_version_without_minor_passes_through() -> None:
    assert resolve_model("claude-opus-5").upstream_id == "claude-opus-5"


def test_matching_is_case_insensitive() -> None:
    assert resolve_model("Claude-Sonnet-4-5-20250929").upstream_id == "claude-sonnet-4.5"


def test_one_m_suffix_is_stripped() -> None:
    assert resolve_model("claude-sonnet-4-6[1m]").upstream_id == "claude-sonnet-4.6"


def test_provider_prefix_is_stripped() -> None:
    assert resolve_model("anthropic/claude-sonnet-4.5").upstream_id == "claude-sonnet-4.5"
    assert resolve_model("us.anthropic.claude-opus-4-6-v1:0").upstream_id == "claude-opus-4.6"


def test_legacy_upstream_ids_map_to_current_ids() -> None:
    assert resolve_model("CLAUDE_SONNET_4_5_20250929_V1_0").upstream_id == "claude-sonnet-4.5"


@pytest.mark.parametrize(
    "name", ["deepseek-3.2", "glm-5", "minimax-m2.1", "minimax-m2.5", "qwen3-coder-next"]
)
def test_third_party_ids_resolve_to_themselves(name: str) -> None:
    assert resolve_model(name).upstream_id == name


def test_third_party_context_windows_follow_the_catalogue() -> None:
    assert resolve_model("deepseek-3.2").context_window == 164_000
    assert resolve_model("qwen3-coder-next").context_window == 256_000


@pytest.mark.parametrize(
    "name",
    ["claude-sonnet-4-6", "claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8", "kiro-auto"],
)
def test_one_million_token_models(name: str) -> None:
    assert resolve_model(name).context_window == 1_000_000


@pytest.mark.parametrize(
    "name",
    ["claude-sonnet-4-5", "claude-sonnet-4-20250514", "claude-opus-4-5", "claude-haiku-4-5"],
)
def test_two_hundred_thousand_token_models(name: str) -> None:
    assert resolve_model(name).context_window == 200_000


def test_every_model_outputs_at_most_64000_tokens() -> None:
    assert {model.max_output for model in list_public_models()} == {MAX_OUTPUT_TOKENS}


def test_thinking_suffix_forces_budget_thinking() -> None:
    info = resolve_model("claude-sonnet-4-5-20250929-thinking")
    assert info.upstream_id == "claude-sonnet-4.5"
    assert info.thinking == ThinkingConfig(mode="enabled", budget_tokens=20_000)


def test_thinking_suffix_on_opus_4_6_forces_adaptive_high() -> None:
    info = resolve_model("claude-opus-4-6-thinking")
    assert info.thinking == ThinkingConfig(mode="adaptive", effort="high")


def test_thinking_suffix_is_kept_in_the_public_id() -> None:
    assert resolve_model("claude-sonnet-4.5-thinking").public_id == (
        "claude-sonnet-4-5-20250929-thinking"
    )


def test_thinking_suffix_after_one_m_suffix_is_understood() -> None:
    info = resolve_model("claude-sonnet-4-6[1m]-thinking")
    assert info.upstream_id == "claude-sonnet-4.6"
    assert info.thinking is not None


def test_models_without_suffix_do_not_force_thinking() -> None:
    assert resolve_model("claude-opus-4-6").thinking is None


@pytest.mark.parametrize("name", ["gpt-4o", "claude-foo-4", "", "llama-3", "claude"])
def test_unknown_models_are_not_found(name: str) -> None:
    with pytest.raises(NotFound) as caught:
        resolve_model(name)
    assert caught.value.param == "model"
    assert "GET /v1/models" in caught.value.message


def test_bare_auto_is_not_listed() -> None:
    assert "auto" not in {model.public_id for model in list_public_models()}


def test_kiro_auto_is_listed_and_maps_to_upstream_auto() -> None:
    assert "kiro-auto" in {model.public_id for model in list_public_models()}
    assert resolve_model("kiro-auto").upstream_id == "auto"
    assert resolve_model("claude-auto").upstream_id == "auto"


def test_bare_auto_is_still_accepted_on_input() -> None:
    assert resolve_model("auto").public_id == "kiro-auto"


def test_claude_models_are_listed_with_a_thinking_variant() -> None:
    ids = {model.public_id for model in list_public_models()}
    assert {"claude-opus-4-6-thinking", "claude-sonnet-4-5-20250929-thinking"} <= ids
    assert "glm-5-thinking" not in ids


def test_every_listed_model_resolves_to_itself() -> None:
    for model in list_public_models():
        assert resolve_model(model.public_id) == model


def test_listed_upstream_ids_are_known_to_the_upstream() -> None:
    assert {model.upstream_id for model in list_public_models()} <= KNOWN_MODEL_IDS


def test_known_upstream_ids_match_the_upstream_catalogue() -> None:
    assert set(known_upstream_ids()) == set(CURRENT_MODEL_IDS)


def test_overrides_add_an_alias() -> None:
    table = ModelTable.from_overrides({"my-model": "claude-opus-4.5"})
    info = resolve_model("MY-MODEL", table=table)
    assert (info.public_id, info.upstream_id, info.context_window) == (
        "my-model",
        "claude-opus-4.5",
        200_000,
    )


def test_overrides_replace_a_built_in_alias() -> None:
    table = ModelTable.from_overrides({"claude-sonnet-4-5": "claude-sonnet-4.6"})
    assert resolve_model("claude-sonnet-4-5", table=table).upstream_id == "claude-sonnet-4.6"


def test_overrides_may_target_another_alias() -> None:
    table = ModelTable.from_overrides({"fast": "claude-haiku-4-5-20251001"})
    assert resolve_model("fast", table=table).upstream_id == "claude-haiku-4.5"


def test_overrides_may_target_a_public_name_a_client_could_ask_for() -> None:
    table = ModelTable.from_overrides({"team-fast": "claude-haiku-4-5", "big": "claude-opus-4.6"})
    fast = resolve_model("team-fast", table=table)
    assert (fast.upstream_id, fast.family) == ("claude-haiku-4.5", "haiku")
    assert resolve_model("big", table=table).upstream_id == "claude-opus-4.6"


def test_overrides_may_target_an_unknown_upstream_id() -> None:
    info = resolve_model("x", table=ModelTable.from_overrides({"x": "kimi-k3"}))
    assert (info.upstream_id, info.family, info.context_window) == ("kimi-k3", "custom", 200_000)


def test_overrides_are_listed() -> None:
    table = ModelTable.from_overrides({"my-model": "glm-5"})
    assert "my-model" in {model.public_id for model in list_public_models(table=table)}


def test_overrides_do_not_change_the_default_table() -> None:
    ModelTable.from_overrides({"my-model": "glm-5"})
    with pytest.raises(NotFound):
        resolve_model("my-model")


def test_empty_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        ModelTable.from_overrides({"": "glm-5"})


def test_a_guessed_newer_version_falls_back_to_the_newest_known_of_its_family() -> None:
    assert resolve_model("claude-opus-5-5").fallback == "claude-opus-4.8"
    assert resolve_model("claude-sonnet-4-7").fallback == "claude-sonnet-4.6"


def test_known_models_have_no_fallback() -> None:
    assert resolve_model("claude-opus-4-8").fallback is None
    assert resolve_model("opus").fallback is None


@pytest.mark.parametrize(
    ("name", "upstream", "thinks"),
    [
        # AIClient-2-API (seed 000)
        ("amazonq-claude-sonnet-4-20250514", "claude-sonnet-4", False),
        ("amazonq-claude-3-7-sonnet-20250219", "claude-sonnet-4.5", False),
        # claude-api (seed 003), Cursor-style effort words
        ("claude-4.5-opus-high", "claude-opus-4.5", True),
        ("claude-4.5-opus-low", "claude-opus-4.5", False),
        ("claude-4.5-opus-high-thinking", "claude-opus-4.5", True),
        ("claude-4.5-sonnet-max", "claude-sonnet-4.5", True),
        ("claude-sonnet-3.5", "claude-sonnet-4.5", False),
        ("glm-5-medium", "glm-5", False),
        # kiro2api (seed 004): Kiro's own ids
        ("CLAUDE_SONNET_4_20250514_V1_0", "claude-sonnet-4", False),
        ("CLAUDE_OPUS_4_5_20251101_V1_0", "claude-opus-4.5", False),
        ("CLAUDE_3_7_SONNET_20250219_V1_0", "claude-sonnet-4.5", False),
    ],
)
def test_the_names_the_peers_users_type_resolve(name: str, upstream: str, thinks: bool) -> None:
    model = resolve_model(name)
    assert model.upstream_id == upstream
    assert (model.thinking is not None) is thinks


def test_an_effort_word_on_an_unknown_name_is_still_unknown() -> None:
    with pytest.raises(NotFound):
        resolve_model("gpt-4o-high")


# ---------------------------------------------------------------- operators' rules


def _rules(**rules: object) -> ModelTable:
    from kirogate.settings import ModelsSettings

    return ModelTable(rules=ModelsSettings(**rules))  # type: ignore[arg-type]


def test_an_override_comes_before_the_built_in_table() -> None:
    table = _rules(overrides=(("claude-sonnet-4-6", "claude-sonnet-4.5"),))
    assert table.resolve("claude-sonnet-4-6").upstream_id == "claude-sonnet-4.5"
    assert table.explain("CLAUDE-SONNET-4-6").via == "override"


def test_patterns_apply_in_order_and_thinking_follows_the_bare_name() -> None:
    table = _rules(overrides=(("gpt-4*", "glm-5"), ("gpt-*", "claude-haiku-4.5")))
    assert table.resolve("gpt-4o").upstream_id == "glm-5"
    assert table.resolve("gpt-3.5-turbo").upstream_id == "claude-haiku-4.5"
    thinking = table.resolve("gpt-5-thinking")
    assert (thinking.upstream_id, thinking.thinking is not None) == ("claude-haiku-4.5", True)


def test_an_override_target_unknown_to_the_table_is_sent_as_it_is() -> None:
    table = _rules(overrides=(("mine", "brand-new-model"),))
    info = table.resolve("mine")
    assert (info.upstream_id, info.family) == ("brand-new-model", "custom")
    assert table.resolve("mine-thinking").upstream_id == "brand-new-model"


def test_a_fallback_answers_unknown_names_only() -> None:
    table = _rules(fallback="claude-sonnet-4.5")
    assert table.explain("gpt-4o").via == "fallback"
    assert table.resolve("gpt-4o").upstream_id == "claude-sonnet-4.5"
    assert table.resolve("claude-opus-4-6").upstream_id == "claude-opus-4.6"


def test_a_forced_model_answers_every_name() -> None:
    table = _rules(forced="glm-5", overrides=(("x", "claude-opus-4.6"),))
    for name in ("x", "claude-opus-4-6", "nothing-at-all"):
        assert table.resolve(name).upstream_id == "glm-5"


def test_hidden_names_are_not_listed_but_still_served() -> None:
    table = _rules(hidden=("claude-opus-4-7", "minimax-*"))
    listed = [info.public_id for info in table.list_public()]
    assert "claude-opus-4-7" not in listed and "claude-opus-4-7-thinking" not in listed
    assert not any(name.startswith("minimax") for name in listed)
    assert table.resolve("claude-opus-4-7").upstream_id == "claude-opus-4.7"
    assert "claude-opus-4-7" in table.public_names(hidden=True)


def test_resolutions_are_cached_until_the_rules_change() -> None:
    from kirogate.settings import ModelsSettings

    table = ModelTable()
    first = table.resolve("claude-sonnet-4-6")
    assert table.resolve("claude-sonnet-4-6") is first
    table.configure(ModelsSettings(forced="glm-5"))
    assert table.resolve("claude-sonnet-4-6").upstream_id == "glm-5"


def test_aliases_are_listed_and_explained_as_aliases() -> None:
    table = _rules(aliases=(("team-fast", "claude-haiku-4.5"),))
    assert table.explain("team-fast").via == "alias"
    assert "team-fast" in [info.public_id for info in table.list_public()]


def test_an_override_without_a_target_is_refused() -> None:
    with pytest.raises(ConfigError):
        _rules(overrides=(("x", " "),))


def test_the_cache_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    import kirogate.convert.models as models

    monkeypatch.setattr(models, "CACHE_SIZE", 2)
    table = ModelTable()
    for name in ("claude-sonnet-4-6", "claude-opus-4-6", "glm-5"):
        table.resolve(name)
    assert len(table._cache) == 1


def test_rules_are_the_configured_ones() -> None:
    from kirogate.settings import ModelsSettings

    rules = ModelsSettings(hidden=("claude-3-7-sonnet",))
    assert ModelTable(rules=rules).rules is rules

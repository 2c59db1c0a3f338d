"""The model table: client model names to Kiro upstream model ids.

Clients ask for Anthropic names (``claude-sonnet-4-5-20250929``, ``claude-opus-4-6``,
``claude-3-5-sonnet-latest``), Kiro's own ids (``claude-sonnet-4.5``) or third-party ids
(``glm-5``). :func:`resolve_model` maps any of them to a :class:`ModelInfo`; an unknown
family is a :class:`~kirogate.errors.NotFound`, never a silent default (spec §3.6).

Matching rules, in order, on the lower-cased name:

1. a leading ``anthropic/``, ``anthropic.``, ``us.anthropic.`` or ``amazonq-`` (AIClient-2-API's
   names) and a trailing ``[1m]`` / ``[200k]`` are stripped; a trailing ``-thinking`` forces
   thinking (as kiro.rs does);
2. an exact alias (configured overrides first, then the built-in table);
3. ``claude-{family}-{major}[-.{minor}]`` or ``claude-{major}[-.{minor}]-{family}``, with an
   optional ``-YYYYMMDD``, ``-latest`` or ``-vN[:M]`` tail. A version Kiro serves maps to it;
   an older one (Claude 3.x, Opus 4.1) maps to the family fallback; a newer one is passed
   through as ``claude-{family}-{major}.{minor}`` so new upstream models work before this
   table learns them (upstream answers ``INVALID_MODEL_ID`` if it does not exist);
4. a name that matches nothing but ends in a Cursor-style effort word (``claude-4.5-opus-high``,
   ``-low``, ``-medium``, ``-max``, ``-xhigh``) is matched without it; ``high`` and above force
   thinking, as ``-thinking`` does.

Operators' rules (:class:`~kirogate.settings.ModelsSettings`, changeable at runtime) come
before and after these: a *forced* model answers every name; an *override* (an exact name or
an fnmatch pattern, in order) maps a name to its target before the built-in rules; a
*fallback* answers a name nothing else knows instead of the 404; *hidden* names are left out
of the public list and still served. Resolutions are cached per name until the rules change.

Kiro's ``auto`` is reachable only as ``kiro-auto`` / ``claude-auto`` / ``auto-kiro`` in the
public list: Cursor reserves the bare name ``auto`` (it is still accepted on input).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Literal, TypeAlias

from kirogate.convert.ir import ThinkingConfig
from kirogate.errors import ConfigError, NotFound
from kirogate.settings.model import ModelsSettings

Family: TypeAlias = Literal[
    "sonnet", "opus", "haiku", "auto", "deepseek", "glm", "minimax", "qwen", "custom"
]

MAX_OUTPUT_TOKENS = 64_000
DEFAULT_CONTEXT_WINDOW = 200_000
FORCED_THINKING_BUDGET = 20_000
THINKING_SUFFIX = "-thinking"
CACHE_SIZE = 4096  # resolved names kept; the cache starts over when full
_PATTERN_CHARS = frozenset("*?[")

# How a name was resolved (GET /api/admin/models).
Via: TypeAlias = Literal["forced", "override", "pattern", "alias", "builtin", "fallback"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the gateway knows about one model a client can ask for."""

    public_id: str
    upstream_id: str
    context_window: int
    max_output: int
    thinking: ThinkingConfig | None
    family: str
    # For a name newer than any model the table knows (``claude-opus-5-5``): the newest known
    # model of its family, used when the upstream rejects the guessed id.
    fallback: str | None = None


@dataclass(frozen=True, slots=True)
class _Upstream:
    upstream_id: str
    family: Family
    context_window: int
    version: tuple[int, int] | None = None


# Context windows: kiro.rs's rule (1M for sonnet-4.6 and opus-4.6+, 200k for the other
# Claude models) plus the catalogue figures of spec §3.6 for auto and third-party models.
_UPSTREAM: tuple[_Upstream, ...] = (
    _Upstream("auto", "auto", 1_000_000),
    _Upstream("claude-sonnet-4", "sonnet", 200_000, (4, 0)),
    _Upstream("claude-sonnet-4.5", "sonnet", 200_000, (4, 5)),
    _Upstream("claude-sonnet-4.6", "sonnet", 1_000_000, (4, 6)),
    _Upstream("claude-haiku-4.5", "haiku", 200_000, (4, 5)),
    _Upstream("claude-opus-4.5", "opus", 200_000, (4, 5)),
    _Upstream("claude-opus-4.6", "opus", 1_000_000, (4, 6)),
    _Upstream("claude-opus-4.7", "opus", 1_000_000, (4, 7)),
    _Upstream("claude-opus-4.8", "opus", 1_000_000, (4, 8)),
    _Upstream("deepseek-3.2", "deepseek", 164_000),
    _Upstream("glm-5", "glm", 200_000),
    _Upstream("minimax-m2.1", "minimax", 196_000),
    _Upstream("minimax-m2.5", "minimax", 196_000),
    _Upstream("qwen3-coder-next", "qwen", 256_000),
)
_BY_UPSTREAM = {u.upstream_id: u for u in _UPSTREAM}

# A known family asked for with a version Kiro does not serve (older, or in a gap).
_FAMILY_FALLBACK = {
    "sonnet": "claude-sonnet-4.5",  # kiro.rs, KQ: claude-3-5-sonnet-* and friends
    "haiku": "claude-haiku-4.5",
    "opus": "claude-opus-4.6",  # kiro.rs: "any other opus"
}

# Public ids listed by GET /v1/models, Anthropic style, each with its upstream id.
_PUBLIC: tuple[tuple[str, str], ...] = (
    ("claude-opus-4-8", "claude-opus-4.8"),
    ("claude-opus-4-7", "claude-opus-4.7"),
    ("claude-opus-4-6", "claude-opus-4.6"),
    ("claude-opus-4-5-20251101", "claude-opus-4.5"),
    ("claude-sonnet-4-6", "claude-sonnet-4.6"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
    ("claude-sonnet-4-20250514", "claude-sonnet-4"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
)
_PUBLIC_PLAIN: tuple[tuple[str, str], ...] = (
    ("kiro-auto", "auto"),
    ("deepseek-3.2", "deepseek-3.2"),
    ("glm-5", "glm-5"),
    ("minimax-m2.1", "minimax-m2.1"),
    ("minimax-m2.5", "minimax-m2.5"),
    ("qwen3-coder-next", "qwen3-coder-next"),
)

_EXTRA_ALIASES: dict[str, str] = {
    "auto": "auto",
    "claude-auto": "auto",
    "auto-kiro": "auto",
    "sonnet": "claude-sonnet-4.5",
    "opus": "claude-opus-4.6",
    "haiku": "claude-haiku-4.5",
    # Legacy codewhisperer-host ids (spec §3.6) map to today's ids.
    "claude_sonnet_4_5_20250929_v1_0": "claude-sonnet-4.5",
    "claude_sonnet_4_20250514_v1_0": "claude-sonnet-4",
    "claude_3_7_sonnet_20250219_v1_0": "claude-sonnet-4.5",
    "claude_opus_4_5_20251101_v1_0": "claude-opus-4.5",
    "deepseek-v3.2": "deepseek-3.2",
    "deepseek-3-2": "deepseek-3.2",
    "minimax-m2-1": "minimax-m2.1",
    "minimax-m2-5": "minimax-m2.5",
}

_PREFIX = re.compile(r"^(?:(?:us\.|eu\.|apac\.)?anthropic[./]|amazonq-)")
# Cursor-style effort words (``claude-4.5-opus-high``): high and above think, the rest do not.
_EFFORT_TAIL = re.compile(r"-(?P<effort>low|medium|high|max|xhigh)$")
_THINKING_EFFORTS = frozenset({"high", "max", "xhigh"})
_BRACKET_TAIL = re.compile(r"\[[0-9a-z]+\]$")
_TAIL = r"(?:-(?:\d{8}|latest|v\d+(?::\d+)?))*"
_NEW_STYLE = re.compile(
    rf"^claude-(?P<family>sonnet|opus|haiku)(?:-(?P<major>\d+)(?:[-.](?P<minor>\d))?)?{_TAIL}$"
)
_OLD_STYLE = re.compile(
    rf"^claude-(?P<major>\d+)(?:[-.](?P<minor>\d))?-(?P<family>sonnet|opus|haiku){_TAIL}$"
)


def _forced_thinking(upstream: _Upstream) -> ThinkingConfig:
    # kiro.rs: Opus 4.6 thinks adaptively at high effort; every other model gets a budget.
    # Newer Opus models (4.7, 4.8) are treated like 4.6.
    if upstream.family == "opus" and (upstream.version or (0, 0)) >= (4, 6):
        return ThinkingConfig(mode="adaptive", effort="high")
    return ThinkingConfig(mode="enabled", budget_tokens=FORCED_THINKING_BUDGET)


@dataclass(frozen=True, slots=True)
class Resolution:
    """A name's model and the rule that chose it (``rule``: the override or alias key)."""

    info: ModelInfo
    via: Via
    rule: str | None = None


def is_pattern(name: str) -> bool:
    return not _PATTERN_CHARS.isdisjoint(name)


class ModelTable:
    """Aliases to upstream ids, with the public list for GET /v1/models, under the
    operator's rules (:meth:`configure`)."""

    def __init__(
        self, overrides: Mapping[str, str] | None = None, *, rules: ModelsSettings | None = None
    ) -> None:
        self._rules = ModelsSettings()
        self._public: dict[str, _Upstream] = {}
        self._aliases: dict[str, tuple[str, _Upstream]] = {}
        self._exact: dict[str, str] = {}
        self._patterns: tuple[tuple[str, str], ...] = ()
        self._hidden: tuple[str, ...] = ()
        self._alias_names: frozenset[str] = frozenset()
        self._cache: dict[str, ModelInfo] = {}
        self._load(overrides)
        if rules is not None:
            self.configure(rules)

    @property
    def rules(self) -> ModelsSettings:
        return self._rules

    def configure(self, rules: ModelsSettings) -> None:
        """Take new rules (aliases, overrides, hidden, fallback, forced) for the next lookup.

        Raises :class:`ConfigError` for an alias or override without a name or target.
        """
        exact: dict[str, str] = {}
        patterns: list[tuple[str, str]] = []
        for name, target in rules.overrides:
            key = name.strip().lower()
            if not key or not target.strip():
                raise ConfigError(
                    f"model override {name!r} -> {target!r}: name and target are required"
                )
            if is_pattern(key):
                patterns.append((key, target.strip()))
            else:
                exact[key] = target.strip()
        table = ModelTable(dict(rules.aliases))  # built aside, then taken whole
        self._public, self._aliases = table._public, table._aliases
        self._alias_names = frozenset(name for name, _ in rules.aliases)
        self._exact, self._patterns = exact, tuple(patterns)
        self._hidden = tuple(name.strip().lower() for name in rules.hidden if name.strip())
        self._rules = rules
        self._cache = {}

    def _load(self, overrides: Mapping[str, str] | None) -> None:
        for public_id, upstream_id in (*_PUBLIC, *_PUBLIC_PLAIN):
            upstream = _BY_UPSTREAM[upstream_id]
            self._public[public_id] = upstream
            self._aliases[public_id] = (public_id, upstream)
        for upstream in _UPSTREAM:
            self._aliases.setdefault(upstream.upstream_id, (self._public_id(upstream), upstream))
        for alias, upstream_id in _EXTRA_ALIASES.items():
            upstream = _BY_UPSTREAM[upstream_id]
            self._aliases[alias] = (self._public_id(upstream), upstream)
        for alias, target in (overrides or {}).items():
            self._add_override(alias, target)

    @classmethod
    def from_overrides(cls, mapping: Mapping[str, str]) -> ModelTable:
        """The built-in table plus ``alias -> target`` overrides (listed publicly).

        A target is an upstream id, a built-in alias or any other string, which is then sent
        upstream as-is with a 200k window.
        """
        return cls(mapping)

    def _add_override(self, alias: str, target: str) -> None:
        key = alias.strip().lower()
        if not key or not target.strip():
            raise ConfigError(
                f"model override {alias!r} -> {target!r}: alias and target are required"
            )
        lowered = target.strip().lower()
        # A public name (``claude-haiku-4-5``) maps as a client asking for it would.
        known = self._aliases.get(lowered) or self._match_pattern(lowered)
        if known is not None:
            upstream = known[1]
        else:
            upstream = _BY_UPSTREAM.get(target.strip()) or _Upstream(
                target.strip(), "custom", DEFAULT_CONTEXT_WINDOW
            )
        self._public[alias] = upstream
        self._aliases[key] = (alias, upstream)

    def _public_id(self, upstream: _Upstream) -> str:
        listed = (public_id for public_id, known in self._public.items() if known == upstream)
        return next(listed, upstream.upstream_id)

    def resolve(self, name: str) -> ModelInfo:
        """Map a client model name to its upstream model, or raise NotFound."""
        info = self._cache.get(name)
        if info is None:
            info = self.explain(name).info
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[name] = info
        return info

    def explain(self, name: str) -> Resolution:
        """:meth:`resolve` with the rule that decided (not cached; for the admin API)."""
        rules = self._rules
        if rules.forced:
            return Resolution(self._target(rules.forced), "forced", rules.forced)
        lowered = name.strip().lower()
        bare = lowered.removesuffix(THINKING_SUFFIX)
        # ``x-thinking`` follows the rule for ``x``, thinking (as a built-in name does).
        found = self._override(bare) if bare != lowered else None
        thinking = found is not None
        if found is None:
            found = self._override(lowered)
        if found is not None:
            via, rule, target = found
            info = self._target(target)
            if thinking and info.thinking is None:
                # A known target thinks as its -thinking name does; an unknown id stays as is.
                with contextlib.suppress(NotFound):
                    info = self._builtin(target + THINKING_SUFFIX)
            return Resolution(info, via, rule)
        try:
            info = self._builtin(name)
        except NotFound:
            if not rules.fallback:
                raise
            return Resolution(self._target(rules.fallback), "fallback", rules.fallback)
        alias = info.public_id.removesuffix(THINKING_SUFFIX)
        if alias in self._alias_names:
            return Resolution(info, "alias", alias)
        return Resolution(info, "builtin")

    def _override(self, lowered: str) -> tuple[Via, str, str] | None:
        target = self._exact.get(lowered)
        if target is not None:
            return "override", lowered, target
        for pattern, aim in self._patterns:
            if fnmatchcase(lowered, pattern):
                return "pattern", pattern, aim
        return None

    def _target(self, target: str) -> ModelInfo:
        """The model a rule names: a known name, else an upstream id sent as it is."""
        try:
            return self._builtin(target)
        except NotFound:
            upstream = _BY_UPSTREAM.get(target) or _Upstream(
                target, "custom", DEFAULT_CONTEXT_WINDOW
            )
            return ModelInfo(
                public_id=target,
                upstream_id=upstream.upstream_id,
                context_window=upstream.context_window,
                max_output=MAX_OUTPUT_TOKENS,
                thinking=None,
                family=upstream.family,
            )

    def is_hidden(self, public_id: str) -> bool:
        """Whether an operator's ``hidden`` rule keeps ``public_id`` out of the list."""
        lowered = public_id.lower()
        bare = lowered.removesuffix(THINKING_SUFFIX)
        return any(fnmatchcase(lowered, p) or fnmatchcase(bare, p) for p in self._hidden)

    def _builtin(self, name: str) -> ModelInfo:
        key = _PREFIX.sub("", _BRACKET_TAIL.sub("", name.strip().lower()))
        thinking = key.endswith(THINKING_SUFFIX)
        if thinking:
            key = _BRACKET_TAIL.sub("", key.removesuffix(THINKING_SUFFIX))
        found = self._aliases.get(key) or self._match_pattern(key)
        effort = _EFFORT_TAIL.search(key) if found is None else None
        if effort is not None:
            bare = key[: effort.start()]
            found = self._aliases.get(bare) or self._match_pattern(bare)
            thinking = thinking or effort["effort"] in _THINKING_EFFORTS
        if found is None:
            raise NotFound(f"model '{name}' is not available; see GET /v1/models", param="model")
        public_id, upstream = found
        known = _BY_UPSTREAM.get(upstream.upstream_id)
        return ModelInfo(
            public_id=public_id + THINKING_SUFFIX if thinking else public_id,
            upstream_id=upstream.upstream_id,
            context_window=upstream.context_window,
            max_output=MAX_OUTPUT_TOKENS,
            thinking=_forced_thinking(upstream) if thinking else None,
            family=upstream.family,
            fallback=_newest(upstream.family) if known is None and upstream.version else None,
        )

    def _match_pattern(self, key: str) -> tuple[str, _Upstream] | None:
        match = _NEW_STYLE.match(key) or _OLD_STYLE.match(key)
        if match is None:
            return None
        family = match["family"]
        members = [u for u in _UPSTREAM if u.family == family and u.version is not None]
        if match["major"] is None:
            upstream = _BY_UPSTREAM[_FAMILY_FALLBACK[family]]
            return self._public_id(upstream), upstream
        version = (int(match["major"]), int(match["minor"] or 0))
        newest = max(members, key=lambda u: u.version or (0, 0))
        for upstream in members:
            if upstream.version == version:
                return self._public_id(upstream), upstream
        if version > (newest.version or (0, 0)):
            minor = f".{match['minor']}" if match["minor"] is not None else ""
            upstream_id = f"claude-{family}-{match['major']}{minor}"
            public_id = upstream_id.replace(".", "-")
            return public_id, replace(newest, upstream_id=upstream_id, version=version)
        upstream = _BY_UPSTREAM[_FAMILY_FALLBACK[family]]
        return self._public_id(upstream), upstream

    def public_names(self, *, hidden: bool = False) -> list[str]:
        """Every public name (aliases included), and a ``-thinking`` variant of each Claude
        one; the hidden ones only when ``hidden``."""
        names: list[str] = []
        for public_id, upstream in self._public.items():
            names.append(public_id)
            if upstream.family in ("sonnet", "opus", "haiku"):
                names.append(public_id + THINKING_SUFFIX)
        return names if hidden else [name for name in names if not self.is_hidden(name)]

    def list_public(self) -> list[ModelInfo]:
        """Every listed model (not hidden), each as a request for it would resolve."""
        infos: list[ModelInfo] = []
        for name in self.public_names():
            info = self.resolve(name)
            infos.append(info if info.public_id == name else replace(info, public_id=name))
        return infos


def _newest(family: str) -> str:
    members = [u for u in _UPSTREAM if u.family == family and u.version is not None]
    return max(members, key=lambda u: u.version or (0, 0)).upstream_id


DEFAULT_MODELS = ModelTable()


def resolve_model(name: str, *, table: ModelTable = DEFAULT_MODELS) -> ModelInfo:
    """Map a client model name to a :class:`ModelInfo`; unknown names raise NotFound."""
    return table.resolve(name)


def list_public_models(*, table: ModelTable = DEFAULT_MODELS) -> list[ModelInfo]:
    """The models GET /v1/models lists (never the bare ``auto``)."""
    return table.list_public()


def known_upstream_ids() -> tuple[str, ...]:
    """Every upstream model id the built-in table knows."""
    return tuple(_BY_UPSTREAM)

from __future__ import annotations

from kirogate.convert.cache_estimate import (
    MIN_CACHEABLE_TOKENS,
    PrefixCache,
    prompt_prefixes,
)
from kirogate.convert.ir import (
    NO_CACHE,
    CachePoint,
    CacheUsage,
    Conversation,
    Text,
    ToolDef,
    Turn,
)
from kirogate.convert.tokens import estimate_conversation_tokens

SYSTEM = "You are a careful assistant. " * 400  # well over the minimum on its own
TOOL = ToolDef("Read", "Read a file", {"type": "object"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def user(text: str) -> Turn:
    return Turn("user", (Text(text),))


def assistant(text: str) -> Turn:
    return Turn("assistant", (Text(text),))


def conv(
    *turns: Turn, points: tuple[int, ...] = (), key: str | None = None, **kw: object
) -> Conversation:
    return Conversation(
        "claude-opus-4-8",
        turns,
        system=SYSTEM,
        cache_points=tuple(CachePoint(end) for end in points),
        cache_key=key,
        **kw,  # type: ignore[arg-type]
    )


def tokens_of(c: Conversation, segments: int) -> int:
    return prompt_prefixes(c, b"")[1][segments - 1]


def test_a_request_without_breakpoints_or_key_is_not_estimated() -> None:
    cache = PrefixCache()
    assert cache.estimate(conv(user("hi"))) == NO_CACHE
    assert len(cache) == 0


def test_prefix_tokens_add_up_to_the_conversation_estimate() -> None:
    c = conv(user("hi"), assistant("hello"), tools=(TOOL,))
    _, tokens = prompt_prefixes(c, b"")
    assert len(tokens) == 4  # the tool, the system prompt, two turns
    assert tokens[-1] + 3 == estimate_conversation_tokens(c)  # all but the reply overhead


def test_first_request_writes_up_to_its_last_breakpoint() -> None:
    first = conv(user("hi"), points=(2,))
    usage = PrefixCache().estimate(first)
    assert usage == CacheUsage(read=0, creation=tokens_of(first, 2))


def test_repeated_request_reads_what_the_first_wrote() -> None:
    cache = PrefixCache()
    first = conv(user("hi"), points=(2,))
    cache.estimate(first)
    assert cache.estimate(first) == CacheUsage(read=tokens_of(first, 2), creation=0)


def test_moving_breakpoint_reads_the_earlier_prefix_and_writes_the_new_part() -> None:
    # Claude Code marks the last message of each request.
    cache = PrefixCache()
    first = conv(user("hi"), points=(1, 2))
    cache.estimate(first)
    second = conv(user("hi"), assistant("hello"), user("more"), points=(1, 4))
    usage = cache.estimate(second)
    assert usage.read == tokens_of(first, 2)
    assert usage.creation == tokens_of(second, 4) - tokens_of(first, 2)


def test_a_changed_prefix_reads_only_the_common_part() -> None:
    cache = PrefixCache()
    cache.estimate(conv(user("hi"), assistant("a"), user("b"), points=(1, 4)))
    changed = conv(user("hi"), assistant("a"), user("c"), points=(1, 4))
    assert cache.estimate(changed).read == tokens_of(changed, 1)


def test_another_client_reads_nothing() -> None:
    cache = PrefixCache()
    request = conv(user("hi"), points=(2,))
    cache.estimate(request, "client-a")
    assert cache.estimate(request, "client-b").read == 0


def test_entries_expire_after_five_minutes() -> None:
    clock = Clock()
    cache = PrefixCache(clock=clock)
    request = conv(user("hi"), points=(2,))
    cache.estimate(request)
    clock.now += 301
    assert cache.estimate(request).read == 0


def test_a_hit_renews_the_lifetime() -> None:
    clock = Clock()
    cache = PrefixCache(clock=clock)
    request = conv(user("hi"), points=(2,))
    cache.estimate(request)
    clock.now += 200
    cache.estimate(request)
    clock.now += 200
    assert cache.estimate(request).read > 0


def test_one_hour_breakpoints_live_an_hour() -> None:
    clock = Clock()
    cache = PrefixCache(clock=clock)
    request = Conversation(
        "m", (user("hi"),), system=SYSTEM, cache_points=(CachePoint(2, ttl=3600.0),)
    )
    cache.estimate(request)
    clock.now += 3000
    assert cache.estimate(request).read > 0


def test_short_prompts_are_not_cached() -> None:
    cache = PrefixCache()
    short = Conversation("m", (user("hi"),), system="Be brief.", cache_points=(CachePoint(2),))
    assert tokens_of(short, 2) < MIN_CACHEABLE_TOKENS
    assert cache.estimate(short) == NO_CACHE
    assert cache.estimate(short) == NO_CACHE
    assert len(cache) == 0


def test_prompt_cache_key_reads_the_previous_whole_prompt() -> None:
    cache = PrefixCache()
    first = conv(user("hi"), key="session-1")
    assert cache.estimate(first) == NO_CACHE
    second = conv(user("hi"), assistant("hello"), user("more"), key="session-1")
    assert cache.estimate(second) == CacheUsage(read=tokens_of(first, 2))


def test_another_prompt_cache_key_reads_nothing() -> None:
    cache = PrefixCache()
    cache.estimate(conv(user("hi"), key="session-1"))
    assert cache.estimate(conv(user("hi"), key="session-2")).read == 0


def test_tool_breakpoint_caches_the_tools() -> None:
    long_tool = ToolDef("Big", "x " * 3000, {"type": "object"})
    cache = PrefixCache()
    first = Conversation("m", (user("a"),), tools=(long_tool,), cache_points=(CachePoint(1),))
    cache.estimate(first)
    second = Conversation("m", (user("b"),), tools=(long_tool,), cache_points=(CachePoint(1),))
    assert cache.estimate(second).read == tokens_of(first, 1)


def test_the_least_recently_used_entries_go_first() -> None:
    cache = PrefixCache(max_entries=2)
    requests = [conv(user(word), points=(2,)) for word in ("a", "b", "c")]
    for request in requests:
        cache.estimate(request)
    assert len(cache) == 2
    assert cache.estimate(requests[0]).read == 0
    assert cache.estimate(requests[2]).read > 0

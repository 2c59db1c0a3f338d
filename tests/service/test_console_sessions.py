"""Console sessions: signed tokens, CSRF tokens, expiry and sign-out."""

from __future__ import annotations

import pytest

from kirogate.cluster.ratelimit import MemoryCounters
from kirogate.errors import AuthenticationFailed, PermissionDenied
from kirogate.service.console_sessions import ConsoleSessions

KEY = "admin-key-for-sessions"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_an_issued_token_is_accepted_with_its_csrf_token() -> None:
    sessions = ConsoleSessions(lambda: None)
    token, session = sessions.issue(KEY, 3600)
    checked = await sessions.check(KEY, token)
    assert checked == session
    assert checked.actor == f"console:{session.id[:8]}"
    assert ConsoleSessions.csrf_matches(checked, session.csrf)
    assert not ConsoleSessions.csrf_matches(checked, None)
    assert not ConsoleSessions.csrf_matches(checked, session.csrf[:-1] + "x")


async def test_tokens_of_another_key_forged_or_malformed_are_refused() -> None:
    sessions = ConsoleSessions(lambda: None)
    token, _ = sessions.issue(KEY)
    assert await sessions.check("another-admin-key", token) is None
    version, payload, signature = token.split(".")
    assert await sessions.check(KEY, f"{version}.{payload}.{signature[:-2]}AA") is None
    assert await sessions.check(KEY, f"v2.{payload}.{signature}") is None
    for junk in (None, "", "a.b", "v1.!!!.???", "v1.AAAA.AAAA", "v1.." + "A" * 43):
        assert await sessions.check(KEY, junk) is None


async def test_a_session_expires() -> None:
    clock = Clock()
    sessions = ConsoleSessions(lambda: None, clock=clock)
    token, session = sessions.issue(KEY, 60)
    assert session.expires == int(clock.now + 60)
    clock.now += 59
    assert await sessions.check(KEY, token) is not None
    clock.now += 1
    assert await sessions.check(KEY, token) is None


async def test_sign_out_ends_the_session_everywhere_the_counters_reach() -> None:
    shared = MemoryCounters()
    here = ConsoleSessions(lambda: shared)
    elsewhere = ConsoleSessions(lambda: shared)  # another instance with the same admin key
    token, session = here.issue(KEY)
    other_token, _ = here.issue(KEY)
    assert await elsewhere.check(KEY, token) is not None
    await here.end(session)
    assert await here.check(KEY, token) is None
    assert await elsewhere.check(KEY, token) is None
    assert await elsewhere.check(KEY, other_token) is not None


async def test_sign_out_without_a_cluster_holds_in_this_process() -> None:
    sessions = ConsoleSessions(lambda: None)
    token, session = sessions.issue(KEY)
    await sessions.end(session)
    assert await sessions.check(KEY, token) is None


async def test_accept_answers_401_without_a_session_and_403_without_its_csrf_token() -> None:
    sessions = ConsoleSessions(lambda: None)
    token, session = sessions.issue(KEY)
    assert await sessions.accept(KEY, token, None, changes=False) == session
    assert await sessions.accept(KEY, token, session.csrf, changes=True) == session
    with pytest.raises(PermissionDenied, match="CSRF"):
        await sessions.accept(KEY, token, "wrong", changes=True)
    for admin_key, presented in ((KEY, None), (KEY, "junk"), ("", token), (None, token)):
        with pytest.raises(AuthenticationFailed, match="sign in again"):
            await sessions.accept(admin_key, presented, session.csrf, changes=False)

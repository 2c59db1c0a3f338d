"""What the admin API shows: proxy passwords masked, secrets scrubbed out of free text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from kirogate.admin.views import body_secrets, mask_proxy_url, rfc3339, scrub


def test_a_proxy_password_is_masked_and_direct_stays_direct() -> None:
    assert mask_proxy_url("http://alice:s3cret@proxy.example:8080") == (
        "http://alice:***@proxy.example:8080"
    )
    assert mask_proxy_url("http://proxy.example:8080") == "http://proxy.example:8080"
    assert mask_proxy_url("direct") == "direct"
    assert mask_proxy_url(None) is None


def test_scrub_replaces_each_secret_in_free_text() -> None:
    secret = "aorAAAA-refresh-" + "r" * 40
    text = scrub(f"refresh failed for {secret}", [secret])
    assert text is not None and secret not in text and text.startswith("refresh failed for ")


def test_body_secrets_include_the_proxy_password() -> None:
    body = {"refreshToken": "rt-value", "proxyUrl": "http://bob:pw-123@p.example:1"}
    assert {"rt-value", "pw-123"} <= set(body_secrets(body))


def test_times_are_rfc3339_in_utc_with_milliseconds() -> None:
    moment = datetime(2026, 5, 14, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2026-05-14T12:00:00.000Z"
    assert rfc3339(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"
    assert rfc3339(None) is None

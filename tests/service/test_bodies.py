"""Recorded bodies: secrets and images replaced, the size capped."""

import orjson

from kirogate.service.bodies import REDACTED, cut, recorded_body


def test_secret_fields_are_redacted_at_any_depth() -> None:
    raw = orjson.dumps(
        {
            "api_key": "sk-abcdef123456",
            "nested": [{"Authorization": "Bearer zzzzzzzzzzzz"}, {"refresh_token": "aor1234"}],
            "max_tokens": 100,
            "input_tokens": 3,
        }
    )
    text = recorded_body(raw, 10_000)
    body = orjson.loads(text)
    assert body["api_key"] == REDACTED
    assert body["nested"] == [{"Authorization": REDACTED}, {"refresh_token": REDACTED}]
    assert body["max_tokens"] == 100 and body["input_tokens"] == 3


def test_secrets_inside_text_go_through_the_log_patterns() -> None:
    raw = orjson.dumps({"text": "use Bearer abcdefghijklmnopq and ksk_secretkey123"})
    text = recorded_body(raw, 10_000)
    assert "abcdefghijklmnopq" not in text and "ksk_secretkey123" not in text


def test_images_become_a_note_of_their_size() -> None:
    data = "A" * 300
    raw = orjson.dumps(
        {
            "a": {"type": "base64", "media_type": "image/png", "data": "QUJD"},
            "b": {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
            "c": "x" + "B" * 400,
        }
    )
    body = orjson.loads(recorded_body(raw, 10_000))
    assert body["a"]["data"] == "[image: 4 base64 characters]"
    assert body["b"]["image_url"]["url"] == "data:image/png;base64,[image: 300 base64 characters]"
    assert "BBBB" not in body["c"]


def test_text_that_is_not_json_is_redacted_as_text() -> None:
    text = recorded_body(b'data: {"x": 1}\n\nBearer abcdefghijklmnop', 10_000)
    assert text.startswith("data:") and "abcdefghijklmnop" not in text


def test_the_size_is_capped_and_says_how_much_was_cut() -> None:
    assert cut("abc", 10) == "abc"
    assert cut("a" * 20, 10) == "a" * 10 + "…[cut: 10 bytes more]"
    assert cut("é" * 10, 5) == "éé…[cut: 16 bytes more]"  # never half a character
    capped = recorded_body(b"x" * 100, 10, cut_before=50)
    assert capped.startswith("x" * 10) and "[cut: 90 bytes more]" in capped
    assert recorded_body(b"xy", 10, cut_before=7).endswith("[cut: 7 bytes more]")

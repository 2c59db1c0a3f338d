import base64
import io
from typing import Any

import pytest
from PIL import Image as PILImage

from kirogate.convert import tokens
from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Instruction,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.tokens import (
    IMAGE_MAX_TOKENS,
    MESSAGE_OVERHEAD,
    PDF_PAGE_TOKENS,
    REPLY_OVERHEAD,
    TOOL_SYSTEM_TOKENS,
    TOOL_SYSTEM_TOKENS_FORCED,
    cjk_count,
    document_tokens,
    estimate_conversation_tokens,
    estimate_text_tokens,
    image_size,
    image_tokens,
    output_tokens_for,
)

# A fixed sample (written for this test) of the kinds of text a coding assistant sends.
# REFERENCE holds the counts of Anthropic's published tokenizer (the tokenizer.json shipped
# with anthropic<=0.38.0); regenerate with `bench/token_calibration.py TOKENIZER_JSON --sample`.
SAMPLE_TEXTS: dict[str, str] = {
    "chat": "Hi! Can you help me figure out why my tests fail only on CI?",
    "prose": (
        "The gateway sits between a coding assistant and the upstream service. It accepts "
        "requests in the dialect the assistant already speaks, rewrites them into the form the "
        "upstream expects, and streams the answer back as if nothing had happened in between. "
        "Most of the work is bookkeeping: keeping track of which tool call belongs to which "
        "result, which credential is resting after a throttling error, and how many tokens a "
        "conversation has used so far. None of it is glamorous, but every piece has to be right, "
        "because a single misplaced identifier makes the whole exchange fail with an unhelpful "
        "error message that tells the user nothing about what went wrong."
    ),
    "markdown": (
        "## Configuration\n\n"
        "Settings are read once at startup, in this order:\n\n"
        "1. command-line flags such as `--pool-cooldown 30s`;\n"
        "2. environment variables (`KIROGATE_POOL_COOLDOWN`);\n"
        "3. the `[pool]` table of `kirogate.toml`.\n\n"
        "> **Note:** a value given twice wins in that order. Unknown keys are an error, so a "
        "typo such as `cooldwon` stops the server instead of being ignored.\n\n"
        "| Setting | Default | Meaning |\n"
        "|---|---|---|\n"
        "| `pool.cooldown` | `60s` | rest after a 429 |\n"
        "| `pool.max_failures` | `3` | failures before a credential is disabled |\n"
    ),
    "python": (
        "def merge_turns(turns: list[Turn]) -> list[Turn]:\n"
        '    """Merge consecutive turns of the same role, keeping part order."""\n'
        "    merged: list[Turn] = []\n"
        "    for turn in turns:\n"
        "        if merged and merged[-1].role == turn.role:\n"
        "            last = merged.pop()\n"
        "            merged.append(Turn(last.role, last.parts + turn.parts))\n"
        "        else:\n"
        "            merged.append(turn)\n"
        "    return merged\n\n\n"
        "class RetryPolicy:\n"
        "    def __init__(self, attempts: int = 3, base_delay: float = 0.2) -> None:\n"
        "        self.attempts = attempts\n"
        "        self.base_delay = base_delay\n\n"
        "    def delay(self, attempt: int) -> float:\n"
        "        return min(2.0, self.base_delay * 2**attempt)\n"
    ),
    "typescript": (
        "export async function fetchModels(client: HttpClient, region = 'us-east-1') {\n"
        "  const response = await client.get(`/models?region=${region}`, {\n"
        "    headers: { Accept: 'application/json' },\n"
        "    timeoutMs: 15_000,\n"
        "  });\n"
        "  if (!response.ok) {\n"
        "    throw new Error(`listing models failed: ${response.status}`);\n"
        "  }\n"
        "  const body = (await response.json()) as { models: Array<{ id: string }> };\n"
        "  return body.models.map((m) => m.id).filter((id) => !id.startsWith('legacy-'));\n"
        "}\n"
    ),
    "json_compact": (
        '{"name":"Bash","description":"Run a shell command and return its output.",'
        '"input_schema":{"type":"object","properties":{"command":{"type":"string",'
        '"description":"The command to run"},"timeout":{"type":"number","description":'
        '"Optional timeout in milliseconds (max 600000)"},"run_in_background":{"type":'
        '"boolean"}},"required":["command"],"additionalProperties":false}}'
    ),
    "json_pretty": (
        "{\n"
        '  "id": "msg_01XFDUDYJgAACzvnptvVoYEL",\n'
        '  "type": "message",\n'
        '  "role": "assistant",\n'
        '  "content": [\n'
        "    {\n"
        '      "type": "tool_use",\n'
        '      "id": "toolu_01A09q90qw90lq917835lq9",\n'
        '      "name": "get_weather",\n'
        '      "input": {"location": "San Francisco, CA", "unit": "celsius"}\n'
        "    }\n"
        "  ],\n"
        '  "stop_reason": "tool_use",\n'
        '  "usage": {"input_tokens": 2095, "output_tokens": 503}\n'
        "}\n"
    ),
    "shell_output": (
        "$ git log --oneline -5\n"
        "d00be91 Package skeleton: error tree, settings, event-stream codec\n"
        "8c1f2aa Add emulator scenarios for throttling and expired tokens\n"
        "4e77b01 Fix CRC check for frames split inside the prelude\n"
        "$ ls -la src/kirogate\n"
        "total 48\n"
        "drwxr-xr-x  9 dev dev  4096 Nov 21 00:56 .\n"
        "-rw-r--r--  1 dev dev  7431 Nov 21 00:56 errors.py\n"
        "-rw-r--r--  1 dev dev  2210 Nov 21 00:56 settings.py\n"
    ),
    "diff": (
        "--- a/src/kirogate/pool/policy.py\n"
        "+++ b/src/kirogate/pool/policy.py\n"
        "@@ -41,7 +41,9 @@ def select_credential(pool: Pool, now: float) -> Credential:\n"
        "     candidates = [c for c in pool.credentials if c.enabled]\n"
        "-    candidates.sort(key=lambda c: c.last_used)\n"
        "+    candidates = [c for c in candidates if c.resting_until <= now]\n"
        "+    if not candidates:\n"
        "+        raise NoCredentialAvailable('every credential is resting')\n"
        "+    candidates.sort(key=lambda c: (c.failures, c.last_used))\n"
        "     return candidates[0]\n"
    ),
    "chinese": (
        "这个网关位于编程助手和上游服务之间。它接收助手已经熟悉的请求格式，把请求改写成上游需要的形式，"
        "然后把回答以流的方式原样返回。大部分工作是记录：哪个工具调用对应哪个结果，哪个凭证在限流之后需要休息，"
        "以及一次对话到目前为止用掉了多少令牌。这些工作并不起眼，但每一步都必须正确，否则整个交互就会失败。"
    ),
    "japanese": (
        "このゲートウェイは、コーディングアシスタントと上流サービスの間に置かれます。"
        "アシスタントが使い慣れた形式のリクエストを受け取り、上流が求める形式に書き換えて、"
        "応答をそのままストリームで返します。認証情報が制限された場合は、しばらく休ませてから再び使います。"
    ),
    "mixed_cjk_code": (
        "## 快速开始\n\n"
        "1. 安装依赖：`pip install kirogate`\n"
        "2. 复制配置文件：`cp kirogate.example.toml kirogate.toml`\n"
        "3. 启动服务：\n\n"
        "```bash\n"
        "kirogate serve --port 8080 --pool-cooldown 30s\n"
        "```\n\n"
        "启动后访问 http://localhost:8080/admin 查看凭证状态。如果看到 `429` 错误，说明请求过于频繁。\n"
    ),
}
REFERENCE: dict[str, int] = {
    "chat": 16,
    "prose": 130,
    "markdown": 162,
    "python": 178,
    "typescript": 143,
    "json_compact": 81,
    "json_pretty": 144,
    "shell_output": 138,
    "diff": 161,
    "chinese": 130,
    "japanese": 122,
    "mixed_cjk_code": 112,
}
CJK_SAMPLES = {"chinese", "japanese", "mixed_cjk_code"}
# The documented error bands (docs/token-estimation.md).
MAX_ERROR = 0.10
MAX_ERROR_CJK = 0.20
MAX_MEAN_ERROR = 0.06


def relative_error(name: str) -> float:
    return abs(estimate_text_tokens(SAMPLE_TEXTS[name]) - REFERENCE[name]) / REFERENCE[name]


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **options: Any) -> str:
    buffer = io.BytesIO()
    PILImage.new(mode, size).save(buffer, fmt, **options)
    return base64.b64encode(buffer.getvalue()).decode()


# ---------------------------------------------------------------- text accuracy


@pytest.mark.parametrize("name", sorted(set(SAMPLE_TEXTS) - CJK_SAMPLES))
def test_estimate_is_within_ten_percent_on_latin_text_code_and_json(name: str) -> None:
    assert relative_error(name) <= MAX_ERROR


@pytest.mark.parametrize("name", sorted(CJK_SAMPLES))
def test_estimate_is_within_twenty_percent_on_cjk_text(name: str) -> None:
    assert relative_error(name) <= MAX_ERROR_CJK


def test_mean_error_on_the_sample_is_within_six_percent() -> None:
    errors = [relative_error(name) for name in SAMPLE_TEXTS]
    assert sum(errors) / len(errors) <= MAX_MEAN_ERROR


def test_empty_text_has_no_tokens() -> None:
    assert estimate_text_tokens("") == 0


def test_any_text_has_at_least_one_token() -> None:
    assert estimate_text_tokens(" ") == 1


def test_lone_surrogates_do_not_break_the_estimate() -> None:
    assert estimate_text_tokens("bad \ud800 char") >= 2


def test_cyrillic_greek_and_emoji_are_counted() -> None:
    assert estimate_text_tokens("Привет, мир") >= 3
    assert estimate_text_tokens("Καλημέρα κόσμε 🙂") >= 4


def test_long_text_is_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_memo", {})
    text = "word " * 100
    first = estimate_text_tokens(text)
    assert tokens._memo == {hash(text) ^ len(text): first}
    assert estimate_text_tokens(text) == first


def test_short_text_is_not_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_memo", {})
    estimate_text_tokens("short")
    assert tokens._memo == {}


def test_memo_is_cleared_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_memo", {1: 1, 2: 2})
    monkeypatch.setattr(tokens, "_MEMO_MAX_ENTRIES", 2)
    text = "x" * 300
    estimate_text_tokens(text)
    assert list(tokens._memo) == [hash(text) ^ len(text)]


# ---------------------------------------------------------------- output counts


def test_cjk_count_counts_kana_ideographs_and_hangul() -> None:
    assert (cjk_count("abc"), cjk_count("日本語とかな, 한국어!")) == (0, 9)


def test_output_tokens_for_nothing_is_zero() -> None:
    assert output_tokens_for(chars=0) == 0


def test_output_tokens_for_ascii_uses_chars_per_token() -> None:
    assert output_tokens_for(chars=37) == 10


def test_output_tokens_for_cjk_counts_one_per_character() -> None:
    assert output_tokens_for(chars=10, cjk_chars=10) == 10


def test_output_tokens_for_is_at_least_one() -> None:
    assert output_tokens_for(chars=1) == 1


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "RGB", {}),
        ("GIF", "RGB", {}),
        ("JPEG", "RGB", {}),
        ("JPEG", "RGB", {"progressive": True}),
        ("WEBP", "RGB", {}),
        ("WEBP", "RGB", {"lossless": True}),
        ("WEBP", "RGBA", {}),
    ],
)
def test_image_size_reads_the_header(fmt: str, mode: str, options: dict[str, Any]) -> None:
    assert image_size(encoded(fmt, (37, 21), mode, **options)) == (37, 21)


def test_image_size_walks_past_large_jpeg_metadata() -> None:
    exif = PILImage.Exif()
    exif[0x010F] = "Maker" * 100
    data = encoded("JPEG", (40, 30), exif=exif.tobytes(), icc_profile=b"x" * 70000)
    assert image_size(data) == (40, 30)


def test_image_size_skips_jpeg_fill_bytes_and_standalone_markers() -> None:
    raw = b"\xff\xd8\xff\xff\xd0\xff\x01\xff\xc0\x00\x11\x08\x00\x10\x00\x20" + b"\x00" * 20
    assert image_size(base64.b64encode(raw).decode()) == (32, 16)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xd8\xff\xc0\x00\x11",  # start of frame cut short
        b"\xff\xd8\x00\x00\x00\x00",  # not a marker
        b"\xff\xd8",  # nothing after the start marker
        b"RIFF\x00\x00\x00\x00WEBPVP8Z" + b"\x00" * 20,  # unknown WebP chunk
        b"BM" + b"\x00" * 40,  # BMP
    ],
)
def test_image_size_is_unknown_for_unreadable_headers(raw: bytes) -> None:
    assert image_size(base64.b64encode(raw).decode()) is None


def test_image_size_is_unknown_for_a_jpeg_without_a_frame() -> None:
    segment = b"\xff\xe1\x00\x04\x00\x00"
    raw = b"\xff\xd8" + segment * (tokens._JPEG_MAX_SEGMENTS + 1)
    assert image_size(base64.b64encode(raw).decode()) is None


def test_image_size_is_unknown_for_invalid_base64() -> None:
    assert image_size("!!!notbase64") is None


def test_small_image_costs_area_over_750() -> None:
    assert image_tokens(Image("image/png", encoded("PNG", (200, 150)))) == 40


def test_large_image_is_scaled_down_and_capped() -> None:
    assert image_tokens(Image("image/png", encoded("PNG", (4000, 3000)))) == IMAGE_MAX_TOKENS


def test_wide_image_is_scaled_to_the_longest_edge() -> None:
    # 3136x100 -> 1568x50 -> 104.5 tokens
    assert image_tokens(Image("image/png", encoded("PNG", (3136, 100)))) == 105


def test_unreadable_image_costs_the_maximum() -> None:
    assert image_tokens(Image("image/png", "AAAA")) == IMAGE_MAX_TOKENS


# ---------------------------------------------------------------- documents


def test_text_document_costs_its_text_and_title() -> None:
    document = Document("text/plain", "hello world", "Notes")
    assert document_tokens(document) == estimate_text_tokens("hello world") + estimate_text_tokens(
        "Notes"
    )


def test_pdf_costs_its_page_count() -> None:
    raw = b"%PDF-1.4 /Type /Pages /Type /Page /Type/Page /Type /Pageant"
    document = Document("application/pdf", base64.b64encode(raw).decode())
    assert document_tokens(document) == 2 * PDF_PAGE_TOKENS


def test_pdf_without_pages_counts_as_one() -> None:
    document = Document("application/pdf", base64.b64encode(b"%PDF").decode())
    assert document_tokens(document) == PDF_PAGE_TOKENS


def test_undecodable_pdf_counts_as_one_page() -> None:
    assert document_tokens(Document("application/pdf", "A")) == PDF_PAGE_TOKENS


# ---------------------------------------------------------------- conversations


def test_empty_conversation_costs_the_reply_overhead() -> None:
    assert estimate_conversation_tokens(Conversation("m", ())) == REPLY_OVERHEAD


def test_conversation_sums_system_and_turns() -> None:
    conv = Conversation(
        "m",
        (Turn("user", (Text("hello there"),)), Turn("assistant", (Thinking("hmm"), Text("hi")))),
        system="Be brief.",
    )
    expected = (
        REPLY_OVERHEAD
        + estimate_text_tokens("Be brief.")
        + 2 * MESSAGE_OVERHEAD
        + estimate_text_tokens("hello there")
        + estimate_text_tokens("hmm")
        + estimate_text_tokens("hi")
    )
    assert estimate_conversation_tokens(conv) == expected


def test_mid_conversation_instructions_are_counted() -> None:
    text = "Answer in French from now on."
    conv = Conversation("m", (Turn("user", (Text("hi"), Instruction(text))),))
    expected = (
        REPLY_OVERHEAD + MESSAGE_OVERHEAD + estimate_text_tokens("hi") + estimate_text_tokens(text)
    )
    assert estimate_conversation_tokens(conv) == expected


def test_tool_calls_results_and_images_are_counted() -> None:
    png = encoded("PNG", (75, 10))
    conv = Conversation(
        "m",
        (
            Turn("assistant", (ToolCall("t", "shell", {"command": ["ls"]}),)),
            Turn(
                "user",
                (
                    ToolResult("t", "a.txt", images=(Image("image/png", png),)),
                    Image("image/png", png),
                    Document("text/plain", "doc"),
                ),
            ),
        ),
    )
    expected = (
        REPLY_OVERHEAD
        + 2 * MESSAGE_OVERHEAD
        + estimate_text_tokens("shell")
        + estimate_text_tokens('{"command":["ls"]}')
        + estimate_text_tokens("a.txt")
        + 2 * 1  # 75x10 / 750
        + estimate_text_tokens("doc")
    )
    assert estimate_conversation_tokens(conv) == expected


def test_tool_definitions_add_their_text_and_the_tool_system_prompt() -> None:
    tool = ToolDef("shell", "Run a command", {"type": "object"})
    conv = Conversation("m", (), tools=(tool,))
    definition = (
        estimate_text_tokens("shell")
        + estimate_text_tokens("Run a command")
        + estimate_text_tokens('{"type":"object"}')
    )
    assert estimate_conversation_tokens(conv) == REPLY_OVERHEAD + definition + TOOL_SYSTEM_TOKENS


def test_forced_tool_choice_uses_the_smaller_tool_system_prompt() -> None:
    tool = ToolDef("shell", "", {})
    auto = Conversation("m", (), tools=(tool,))
    forced = Conversation("m", (), tools=(tool,), tool_choice=ToolChoice("any"))
    difference = estimate_conversation_tokens(auto) - estimate_conversation_tokens(forced)
    assert difference == TOOL_SYSTEM_TOKENS - TOOL_SYSTEM_TOKENS_FORCED


def test_long_text_is_estimated_in_pieces_like_a_whole() -> None:
    unit = 'The quick brown fox jumps over the lazy dog; 12345 {"k": [1, 2]}\n'
    short = estimate_text_tokens(unit * 100)  # under one piece
    long = estimate_text_tokens(unit * 10_000)  # 650 KB: ten pieces and more
    assert abs(long - 100 * short) <= long * 0.001

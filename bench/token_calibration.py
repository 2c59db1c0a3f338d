"""Fit and measure kirogate's token estimator against a reference Claude tokenizer.

Not part of the runtime or the test run. Needs the ``tokenizers`` package and the
``tokenizer.json`` that ``anthropic`` releases up to 0.38.0 shipped (Anthropic's published,
Claude 2 era tokenizer), e.g.::

    python -m venv /tmp/tokref && /tmp/tokref/bin/pip install tokenizers orjson
    pip download anthropic==0.38.0 --no-deps -d /tmp/tokref
    unzip -o /tmp/tokref/anthropic-0.38.0-py3-none-any.whl anthropic/tokenizer.json -d /tmp/tokref
    /tmp/tokref/bin/python bench/token_calibration.py /tmp/tokref/anthropic/tokenizer.json

It gathers text from files found on a Debian-like machine (vim and gnupg help in several
languages, Node.js docs, the CPython stdlib, npm's JavaScript, botocore JSON, this repo's
specs), cuts them into 300-4000 character chunks with a fixed seed, splits the files into a
fit and a held-out set, fits the coefficients of ``kirogate.convert.tokens`` by weighted
least squares on relative error, and prints the error tables for the current coefficients,
the fitted ones, kiro.rs's estimator and ``len/4``. ``--sample`` prints the reference counts
for the fixed sample in ``tests/convert/test_tokens.py``.
"""

from __future__ import annotations

import argparse
import ast
import collections
import glob
import gzip
import hashlib
import json
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kirogate.convert import tokens  # noqa: E402

SOURCES: dict[str, list[str]] = {
    "prose": [
        "/usr/share/vim/vim90/doc/*.txt",
        "/usr/share/gnupg/help.txt",
        "/root/.pyenv/*.md",
        "/usr/share/doc/nodejs/api/*.md",
        str(ROOT.parent / "shared" / "kiro-protocol-*.md"),
    ],
    "python": ["/root/.pyenv/versions/3.12.1/lib/python3.12/*.py"],
    "js": ["/usr/lib/node_modules/npm/lib/**/*.js"],
    "go": ["/usr/share/doc/git/contrib/**/*.go"],
    "json": [
        "/work/venv/lib/python3.11/site-packages/botocore/data/*/*/examples-1.json",
        "/work/venv/lib/python3.11/site-packages/botocore/data/*/*/service-2.json.gz",
    ],
    "cjk": [
        "/usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.zh_tw.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.ja.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.ko.utf-8",
        "/usr/share/gnupg/help.zh_*.txt",
        "/usr/share/gnupg/help.ja.txt",
        "/usr/lib/systemd/catalog/systemd.zh_CN.catalog",
        "/usr/share/mysql/errmsg-utf8.txt",  # only its simplified Chinese ("chi") messages
        str(ROOT.parent / "shared" / "seeds" / "0*.txt"),
    ],
    "other": [
        "/usr/share/vim/vim90/tutor/tutor.ru.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.el.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.bg.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.de.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.fr.utf-8",
        "/usr/share/vim/vim90/tutor/tutor.es.utf-8",
        "/usr/share/gnupg/help.ru.txt",
        "/usr/share/gnupg/help.pl.txt",
    ],
}
MAX_FILES = {"prose": 100, "python": 120, "js": 80, "json": 105}
CHUNKS_PER_FILE = 12


def read(path: str) -> str | None:
    if path.endswith("errmsg-utf8.txt"):
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return "\n".join(line.strip()[5:-1] for line in lines if line.strip().startswith('chi "'))
    if path.endswith(".gz"):
        return json.dumps(json.loads(gzip.open(path).read()), indent=2)[:60000]
    try:
        return Path(path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def chunks(text: str, rng: random.Random) -> list[str]:
    lines = text.splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        size, buf, n = rng.choice([300, 800, 2000, 4000]), [], 0
        while i < len(lines) and n < size:
            buf.append(lines[i])
            n += len(lines[i])
            i += 1
        if len("".join(buf).strip()) > 50:
            out.append("".join(buf))
    return out


def corpus() -> list[tuple[str, str, str]]:
    """(category, split, text) rows; a file is in the held-out split when its sha1 % 3 == 0."""
    rng = random.Random(0)
    rows = []
    for category, patterns in SOURCES.items():
        paths = sorted({p for pattern in patterns for p in glob.glob(pattern, recursive=True)})
        for path in paths[: MAX_FILES.get(category, len(paths))]:
            text = read(path)
            if not text:
                continue
            split = "eval" if int(hashlib.sha1(path.encode()).hexdigest(), 16) % 3 == 0 else "fit"
            pieces = chunks(text, rng)
            rng.shuffle(pieces)
            rows.extend((category, split, piece) for piece in pieces[:CHUNKS_PER_FILE])
    return rows


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(a)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def fit(rows: list[tuple[str, int]], ridge: float = 1e-3) -> list[float]:
    """Weighted least squares minimising the squared *relative* error."""
    xs = [tokens._features(text) for text, _ in rows]
    k = len(xs[0])
    a = [[0.0] * k for _ in range(k)]
    b = [0.0] * k
    for x, (_, ref) in zip(xs, rows, strict=True):
        w = 1.0 / max(ref, 1) ** 2
        for i in range(k):
            b[i] += w * x[i] * ref
            for j in range(k):
                a[i][j] += w * x[i] * x[j]
    for i in range(k):
        a[i][i] += ridge
    return solve(a, b)


def rs_estimate(text: str) -> int:
    """kiro.rs token.rs (spec §4.6)."""
    units = 0
    for ch in text:
        o = ord(ch)
        western = (
            o < 0x250
            or 0x1E00 <= o <= 0x1EFF
            or 0x2C60 <= o <= 0x2C7F
            or 0xA720 <= o <= 0xA7FF
            or 0xAB30 <= o <= 0xAB6F
        )
        units += 1 if western else 4
    t = units / 4
    t *= 1.5 if t < 100 else 1.3 if t < 200 else 1.25 if t < 300 else 1.2 if t < 800 else 1.0
    return max(1, int(t))


def table(name: str, rows: list[tuple[str, str, int]], estimate: Callable[[str], int]) -> None:
    by: dict[str, list[float]] = collections.defaultdict(list)
    for category, text, ref in rows:
        by[category].append((estimate(text) - ref) / ref)
    print(f"\n{name}\n\n| sample | chunks | mean abs error | bias | max abs error |")
    print("|---|---:|---:|---:|---:|")
    everything = []
    for category, errors in sorted(by.items()):
        everything += errors
        print(
            f"| {category} | {len(errors)} | {sum(map(abs, errors)) / len(errors):.1%} "
            f"| {sum(errors) / len(errors):+.1%} | {max(map(abs, errors)):.1%} |"
        )
    print(
        f"| **all** | {len(everything)} | {sum(map(abs, everything)) / len(everything):.1%} "
        f"| {sum(everything) / len(everything):+.1%} | {max(map(abs, everything)):.1%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokenizer_json")
    parser.add_argument("--sample", action="store_true", help="print the test sample's counts")
    args = parser.parse_args()
    from tokenizers import Tokenizer  # type: ignore[import-not-found]

    reference = Tokenizer.from_file(args.tokenizer_json)

    def count(text: str) -> int:
        return len(reference.encode(text).ids)

    if args.sample:
        source = (ROOT / "tests" / "convert" / "test_tokens.py").read_text(encoding="utf-8")
        sample = next(
            ast.literal_eval(node.value)
            for node in ast.parse(source).body
            if isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "SAMPLE_TEXTS"
            and node.value is not None
        )
        for name, text in sample.items():
            print(f"{name}: reference {count(text)}, estimate {tokens.estimate_text_tokens(text)}")
        return
    rows = [(c, s, t, count(t)) for c, s, t in corpus()]
    fit_rows = [(t, ref) for _, s, t, ref in rows if s == "fit"]
    held_out = [(c, t, ref) for c, s, t, ref in rows if s == "eval"]
    coefficients = fit(fit_rows)
    print("fitted coefficients:", tuple(round(c, 4) for c in coefficients))
    print(f"fit chunks: {len(fit_rows)}, held-out chunks: {len(held_out)}")

    def fitted(text: str) -> int:
        features = tokens._features(text)
        return max(1, round(sum(c * f for c, f in zip(coefficients, features, strict=True))))

    table("kirogate (current coefficients), held-out", held_out, tokens.estimate_text_tokens)
    table("kirogate (fitted now), held-out", held_out, fitted)
    table("kiro.rs token.rs, held-out", held_out, rs_estimate)
    table("len/4, held-out", held_out, lambda t: max(1, math.ceil(len(t) / 4)))


if __name__ == "__main__":
    main()

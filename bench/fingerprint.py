"""Fingerprint figures: who a marked text is attributed to, how often unmarked text is, what it costs.

    python bench/fingerprint.py                     # 100 accounts, 1,000 marked and 2,000 unmarked per corpus
    python bench/fingerprint.py --accounts 200 --unmarked 3000
    python bench/fingerprint.py --null-keys 4       # unmarked texts also under 4 more secrets: 5x the null draws
    python bench/fingerprint.py --alpha 0.001       # another family-wise bound (default: the verifier's)
    python bench/fingerprint.py --dev               # also the development corpus (stdlib docstrings)

Samples are ~300 tokens (proxy/tokens.py's estimate), cut at paragraph or sentence ends, from:

* assistant-style: ``proxy.simulate.expo_text``, the project's generator of assistant explanations.
  The lexicon was tuned while reading its output, so its figures are the optimistic ones.
* python manual: the prose of the Python reference manual shipped with the interpreter
  (``pydoc_data.topics``); never looked at while building the lexicon. Only ~140 samples exist,
  so its marked samples repeat texts (each time for another account) and its unmarked count is small.
* package docs: README / changelog prose under /usr/share/doc (licence text dropped); the lexicon
  saw only its word-frequency list.
* GNU info manuals: the prose of the manuals under /usr/share/info (coreutils, grep, sed, ...),
  held out and never looked at, not even its word list: the honest figure for unseen prose.
* stdlib docstrings (``--dev``): the development corpus (docstrings of the installed Python's
  standard library), read while building the lexicon. Terse API docstrings are the hardest text
  for the mark (few sentences, few function words, repeated phrasing); not an acceptance corpus.

For each corpus: a marked sample is attributed right when ``attribute(verify(...))`` over all the
accounts names its account (Bonferroni, family-wise alpha ``ALPHA`` = 0.0005 unless --alpha); an
unmarked sample is falsely attributed when it names any account. "after normalising" re-runs attribution on marked text whose
whitespace, quotes, apostrophes, ellipses and bold markers were normalised (what a careful
attacker does first): the lexical part of the mark alone.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import math
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from proxy.shaping.fingerprint import ALPHA, TextMarker, account_key, attribute, distinct_slots, scan, verify
from proxy.simulate import CONCEPTS, expo_text
from proxy.tokens import estimate_tokens

TARGET_TOKENS = 300
_LEGAL = re.compile(r"(?i)licen[cs]e|warrant|copyright|merchantab")


def _samples_from_paragraphs(paragraphs: list[str], tokens: int, sep: str) -> list[str]:
    """Consecutive paragraphs (split at sentence ends when long) joined into ~``tokens``-token samples."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for para in paragraphs:
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", para) if estimate_tokens(para) > tokens else [para]:
            current.append(sentence)
            size += estimate_tokens(sentence)
            if size >= tokens:
                out.append(sep.join(current))
                current, size = [], 0
    return out


def assistant_style(rng: random.Random, count: int, tokens: int) -> list[str]:
    out = []
    while len(out) < count:
        text = expo_text(rng, rng.choice(CONCEPTS), int(tokens * 0.78))
        if estimate_tokens(text) >= tokens * 0.9:
            out.append(text)
    return out


def python_manual(tokens: int) -> list[str]:
    from pydoc_data.topics import topics

    paragraphs = []
    for _, text in sorted(topics.items()):
        for para in re.split(r"\n\s*\n", text):
            flat = " ".join(para.split())
            letters = sum(c.isalpha() or c == " " for c in flat)
            if len(flat.split()) >= 25 and letters >= 0.9 * len(flat):
                paragraphs.append(flat)
    return _samples_from_paragraphs(paragraphs, tokens, "\n\n")


def package_docs(rng: random.Random, count: int, tokens: int) -> list[str]:
    return _prose_files(rng, count, tokens, sorted(Path("/usr/share/doc").rglob("*")))


def gnu_info(rng: random.Random, count: int, tokens: int) -> list[str]:
    return _prose_files(rng, count, tokens, sorted(Path("/usr/share/info").glob("*.info*")))


def stdlib_docstrings(tokens: int) -> list[str]:
    import ast
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    paragraphs = []
    for path in sorted(root.glob("**/*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("site-packages", "dist-packages")) or "test" in rel.split("/")[0] or "/test" in rel:
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                for para in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                    flat = " ".join(para.split())
                    letters = sum(c.isalpha() or c == " " for c in flat)
                    if len(flat.split()) >= 25 and letters >= 0.9 * len(flat):
                        paragraphs.append(flat)
    return _samples_from_paragraphs(paragraphs, tokens, "\n\n")


def _prose_files(rng: random.Random, count: int, tokens: int, paths: list[Path]) -> list[str]:
    """Samples of the prose paragraphs of text files (plain or gzipped), shuffled."""
    by_file: list[list[str]] = []
    seen: set[str] = set()
    for path in paths:
        if not path.is_file() or path.suffix not in ("", ".gz", ".txt", ".md") or path.stat().st_size > 2_000_000:
            continue
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        paragraphs = []
        for para in re.split(r"\n\s*\n", text):
            flat = " ".join(para.split())
            letters = sum(c.isalpha() or c == " " for c in flat)
            if len(flat.split()) < 30 or letters < 0.93 * len(flat) or flat.count(". ") < 2 or _LEGAL.search(flat):
                continue
            if flat not in seen:
                seen.add(flat)
                paragraphs.append(flat)
        if paragraphs:
            by_file.append(paragraphs)
    samples = [s for paragraphs in by_file for s in _samples_from_paragraphs(paragraphs, tokens, " ")]
    rng.shuffle(samples)
    return samples[:count]


def normalise(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    for a, b in (("’", "'"), ("“", '"'), ("”", '"'), ("…", "..."), ("__", "**"), (" — ", "—")):
        text = text.replace(a, b)
    return text


def bits(text: str) -> float:
    return sum(math.log2(s.k) for s in distinct_slots(scan(text)))


def run(
    name: str, samples: list[str], accounts: list[str], key: bytes, marked: int, unmarked: int,
    null_keys: tuple[bytes, ...] = (), alpha: float = ALPHA,
) -> dict[str, float]:
    akeys = {a: account_key(key, a) for a in accounts}
    right = wrong = right_norm = 0
    words = changed = marks = 0
    mark_s: list[float] = []
    verify_s: list[float] = []
    sample_bits = []
    for i in range(marked):
        text = samples[i % len(samples)]
        account = accounts[(i * 7919) % len(accounts)]
        started = time.perf_counter()
        marker = TextMarker(akeys[account])
        out = marker.feed(text) + marker.finish()
        mark_s.append(time.perf_counter() - started)
        words += marker.words
        changed += marker.changed_words
        marks += marker.changed_marks
        started = time.perf_counter()
        got = attribute(verify(out, key, accounts), alpha)
        verify_s.append(time.perf_counter() - started)
        right += got == account
        wrong += got is not None and got != account
        right_norm += attribute(verify(normalise(out), key, accounts), alpha) == account
        if i < len(samples):
            sample_bits.append(bits(text))
    false = 0
    clean = samples[:unmarked]
    # The unmarked texts are tested under the secret and, with --null-keys, under more secrets:
    # each (text, secret) is one more independent draw of the null (the picks are keyed).
    for secret in (key, *null_keys):
        for text in clean:
            false += attribute(verify(text, secret, accounts), alpha) is not None
    clean = (clean * (1 + len(null_keys))) or [""]
    tokens = statistics.median(estimate_tokens(s) for s in samples[: min(len(samples), 500)])
    return {
        "samples": len(samples),
        "tokens": tokens,
        "bits": statistics.median(sample_bits),
        "right": right / marked,
        "wrong": wrong / marked,
        "right_norm": right_norm / marked,
        "false": false / len(clean),
        "false_n": false,
        "unmarked": len(clean),
        "words_changed": changed / max(words, 1),
        "marks_per_100w": 100 * marks / max(words, 1),
        "mark_ms": 1000 * statistics.median(mark_s),
        "verify_ms": 1000 * statistics.median(verify_s),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--marked", type=int, default=1000)
    parser.add_argument("--unmarked", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=TARGET_TOKENS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--null-keys", type=int, default=0, help="also test the unmarked texts under N more secrets (more null draws)"
    )
    parser.add_argument("--alpha", type=float, default=ALPHA, help="family-wise false-attribution bound")
    parser.add_argument("--corpus", action="append", help="only the corpora whose name starts with this (repeatable)")
    parser.add_argument("--no-lengths", action="store_true", help="skip the attribution-by-length table")
    parser.add_argument("--dev", action="store_true", help="add the development corpus (stdlib docstrings)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    key = rng.randbytes(32)
    # Derived, so the corpora drawn from rng below are the same whatever --null-keys is.
    null_keys = tuple(hashlib.blake2b(key + bytes([i]), digest_size=32).digest() for i in range(args.null_keys))
    accounts = [f"acct-{i:04d}" for i in range(args.accounts)]
    corpora: dict[str, Callable[[], list[str]]] = {
        "assistant-style (tuned on)": lambda: assistant_style(rng, max(args.unmarked, args.marked), args.tokens),
        "python manual (held out)": lambda: python_manual(args.tokens),
        "package docs (held out)": lambda: package_docs(rng, max(args.unmarked, args.marked), args.tokens),
        "GNU info (never looked at)": lambda: gnu_info(rng, max(args.unmarked, args.marked), args.tokens),
    }
    if args.dev:
        corpora["stdlib docstrings (dev)"] = lambda: stdlib_docstrings(args.tokens)
    print(
        f"{args.accounts} accounts, alpha {args.alpha:g} family-wise ({math.log2(args.accounts / args.alpha):.1f} bits "
        f"needed); {args.marked} marked samples per corpus; "
        f"samples of ~{args.tokens} tokens\n"
    )
    header = (
        f"{'corpus':<28} {'samples':>7} {'tokens':>6} {'bits p50':>8} {'right':>7} {'wrong':>6} "
        f"{'normalised':>10} {'false attr.':>16} {'words chg':>9} {'marks/100w':>10} {'mark ms':>7} {'verify ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, build in corpora.items():
        samples = build()  # every corpus is built (the rng draws stay the same whatever --corpus is)
        if args.corpus and not any(name.startswith(c) for c in args.corpus):
            continue
        r = run(name, samples, accounts, key, args.marked, args.unmarked, null_keys, args.alpha)
        false = f"{r['false_n']}/{r['unmarked']} ({r['false']:.2%})"
        print(
            f"{name:<28} {r['samples']:>7} {r['tokens']:>6.0f} {r['bits']:>8.1f} {r['right']:>7.1%} {r['wrong']:>6.1%} "
            f"{r['right_norm']:>10.1%} {false:>16} {r['words_changed']:>9.2%} {r['marks_per_100w']:>10.2f} "
            f"{r['mark_ms']:>7.2f} {r['verify_ms']:>9.2f}"
        )
    # How much text attribution needs, on held-out text: the mark adds up over a suspect's outputs.
    if args.no_lengths:
        return 0
    docs = package_docs(random.Random(args.seed + 1), 2400, args.tokens)
    print(f"\npackage docs (held out), attribution by text length ({min(args.marked, 200)} marked texts each):")
    print(f"{'tokens':>8} {'bits p50':>8} {'right':>7} {'normalised':>10}")
    for k in (1, 2, 4, 8):
        texts = [" ".join(docs[i * k : (i + 1) * k]) for i in range(min(args.marked, 200, len(docs) // k))]
        r = run("docs", texts, accounts, key, len(texts), 0, alpha=args.alpha)
        print(f"{k * args.tokens:>8} {r['bits']:>8.1f} {r['right']:>7.1%} {r['right_norm']:>10.1%}")
    print(
        "\nright / wrong: marked samples attributed to their account / to another one; normalised: right after "
        "whitespace, quote, apostrophe, ellipsis and bold normalisation;\nfalse attr.: unmarked samples attributed "
        "to any account; words chg: share of words replaced; marks/100w: punctuation or spacing changes per 100 words."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

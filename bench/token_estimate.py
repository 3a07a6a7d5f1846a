"""How far is Sluice's pre-admission token estimate from real tokenizers?

    python bench/token_estimate.py            # needs: pip install quicktok-v1

Real text from this machine: English prose (package documentation under
/usr/share/doc), code (the Python standard library), Chinese (zh_CN message
catalogs under /usr/share/locale). Each sample is ~2 KB; the error is
(estimate - real) / real per sample, against several real BPE vocabularies.
"""

from __future__ import annotations

import gettext
import gzip
import random
import statistics
import sysconfig
from pathlib import Path

from proxy.tokens import estimate_tokens

SAMPLE_CHARS = 2000
SAMPLES = 200


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text) - size, size)]


def english(rng: random.Random) -> list[str]:
    texts = []
    for path in sorted(Path("/usr/share/doc").glob("*/README*")) + sorted(Path("/usr/share/doc").glob("*/changelog*")):
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        letters = sum(c.isalpha() for c in text)
        if len(text) > SAMPLE_CHARS and letters > 0.6 * len(text):
            texts.extend(_chunks(text, SAMPLE_CHARS))
    return rng.sample(texts, min(SAMPLES, len(texts)))


def code(rng: random.Random) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(stdlib.glob("*.py")):
        texts.extend(_chunks(path.read_text(encoding="utf-8", errors="replace"), SAMPLE_CHARS))
    return rng.sample(texts, min(SAMPLES, len(texts)))


def chinese(rng: random.Random) -> list[str]:
    pieces = []
    for path in sorted(Path("/usr/share/locale/zh_CN/LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        except (OSError, UnicodeDecodeError):
            continue
        pieces.extend(v for v in catalog.values() if isinstance(v, str) and len(v) > 8)
    rng.shuffle(pieces)
    text = "\n".join(pieces)
    chunks = _chunks(text, SAMPLE_CHARS // 3)  # ~2 KB of UTF-8
    return rng.sample(chunks, min(SAMPLES, len(chunks)))


def main() -> int:
    import quicktok

    rng = random.Random(7)
    corpora = {"english prose": english(rng), "code (python)": code(rng), "chinese": chinese(rng)}
    encodings = ["o200k_base", "cl100k_base", "qwen3", "llama3"]
    tokenizers = {name: quicktok.get_encoding(name) for name in encodings}
    print(f"{'corpus':<15} {'samples':>7} " + " ".join(f"{name + ' mean/p90 |err|':>28}" for name in encodings))
    for label, samples in corpora.items():
        cells = []
        for name, enc in tokenizers.items():
            errors = []
            for text in samples:
                real = len(enc.encode(text))
                if real:
                    errors.append((estimate_tokens(text) - real) / real)
            bias = statistics.mean(errors)
            p90 = sorted(abs(e) for e in errors)[int(0.9 * len(errors)) - 1]
            cells.append(f"{bias:>+14.1%} / {p90:>10.1%}")
        print(f"{label:<15} {len(samples):>7} " + " ".join(f"{c:>28}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The watermark's tokenizer: words, numbers, whitespace, punctuation, code ticks, opaque runs.

Each whitespace-separated run is tokenized on its own, so a run's tokens never
depend on the text around it: that is what lets the streaming marker decide a
prefix of the text before the rest has arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

WORD: Final = 0
NUM: Final = 1
WS: Final = 2
TICK: Final = 3  # a run of backticks: code spans and fences
DASH: Final = 4  # an em dash
ELLIPSIS: Final = 5
ABBREV: Final = 6  # e.g. / i.e.
PUNCT: Final = 7
OPAQUE: Final = 8  # a URL, path, identifier, number-word mix: never touched
STRONG: Final = 9  # a Markdown strong-emphasis marker at a word's edge: ** or __

_RUN = re.compile(r"\s+|\S+")
_PIECE = re.compile(r"`+|[^`]+")
_SUB = re.compile(
    r"(?P<abbrev>(?i:e\.g\.|i\.e\.))"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    r"|(?P<ellipsis>\.\.\.|…)"
    r"|(?P<dash>—)"
    r"|(?P<punct>.)",
    re.DOTALL,
)
_SUB_KINDS: Final = MappingProxyType(
    {"abbrev": ABBREV, "word": WORD, "num": NUM, "ellipsis": ELLIPSIS, "dash": DASH, "punct": PUNCT}
)
_ABBREV = re.compile(r"(?i:e\.g\.|i\.e\.)")
# Markdown strong emphasis at a piece's edges ("**Term**:"), split off before the opacity test
# so "__Term__" is not taken for a snake_case identifier.
_STRONG_HEAD = re.compile(r"^(?:\*\*|__)(?=[^\W_])")
_STRONG_TAIL = re.compile(r"(?<=[^\W_])(?:\*\*|__)(?=[^\w*]*$)")
# Pieces that are not prose: URLs, e-mail addresses, paths, snake_case / camelCase / dotted
# identifiers, markup, words with digits, calls. Rewriting inside them would break them.
_OPAQUE = re.compile(r"://|[@\\_=<>{}|~^$/]|[^\W\d_]\.[^\W\d_]|[a-z][A-Z]|[^\W\d_]\d|\d[^\W\d_]|[^\W\d_]\(|#\w")
# Sentence punctuation after a URL or a path belongs to the sentence, not to the URL.
_TRAILING = re.compile(r"[.,;:!?)\]\"'”’…]+$")
# A run this long is data (base64, a minified blob), not prose; deciding early bounds the
# stream's hold-back buffer.
LONG_RUN: Final = 200


@dataclass(frozen=True, slots=True)
class Token:
    kind: int
    text: str
    start: int
    end: int


def _sub(p: str, at: int, out: list[Token]) -> None:
    for m in _SUB.finditer(p):
        out.append(Token(_SUB_KINDS[m.lastgroup or "punct"], m.group(), at + m.start(), at + m.end()))


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``."""
    out: list[Token] = []
    for run in _RUN.finditer(text):
        s = run.group()
        base = run.start()
        if s[0].isspace():
            out.append(Token(WS, s, base, run.end()))
            continue
        if len(s) > LONG_RUN:
            out.append(Token(OPAQUE, s, base, run.end()))
            continue
        for piece in _PIECE.finditer(s):
            p = piece.group()
            at = base + piece.start()
            if p[0] == "`":
                out.append(Token(TICK, p, at, at + len(p)))
                continue
            head = _STRONG_HEAD.match(p)
            if head:
                out.append(Token(STRONG, p[:2], at, at + 2))
                p, at = p[2:], at + 2
            tail = _STRONG_TAIL.search(p)
            end: list[Token] = []
            if tail:
                cut = tail.start()
                end.append(Token(STRONG, p[cut : cut + 2], at + cut, at + cut + 2))
                _sub(p[cut + 2 :], at + cut + 2, end)
                p = p[:cut]
            if not p:
                pass
            elif _OPAQUE.search(_ABBREV.sub("", p)):
                trail = _TRAILING.search(p)
                cut = trail.start() if trail and trail.start() > 0 else len(p)
                out.append(Token(OPAQUE, p[:cut], at, at + cut))
                _sub(p[cut:], at + cut, out)
            else:
                _sub(p, at, out)
            out.extend(end)
    return out


def canon(word: str) -> str:
    """A word as context: lowercase, one apostrophe style (so marking never changes a context)."""
    return word.lower().replace("’", "'")

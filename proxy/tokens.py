"""Pre-admission token estimate: no tokenizer, a few C-speed passes over the text.

Sluice reserves budget before the upstream has counted anything, then settles
with the upstream's real usage, so this only has to be close, cheap, and
language-aware: BPE vocabularies give roughly one token per 4 characters of
English prose, fewer characters per token for code (symbols split apart), and
a little under one token per CJK character. Calibrated against real BPE
vocabularies by ``bench/token_estimate.py``.
"""

from __future__ import annotations

import re

# Words, digit runs (tokenizers split numbers into groups of <= 3), single symbols.
_PIECE = re.compile(r"[^\W\d_]+|\d{1,3}|[^\w\s]", re.UNICODE)
# The same pieces for ASCII text (most prompts), counted without a regex: one byte table
# marks every letter "a" and everything else a space, so that after a leading space each
# word starts at a " a", counted in C (split() made an object per word, and the long-word
# sum looped over them); another turns every non-digit into a space, and split() yields
# the digit runs; deleting letters, digits, '_' and whitespace leaves the symbols.
# tests/test_tokens.py checks that they count as the regex does.
# \x1c-\x1f are whitespace to Unicode's \s, so they are no symbols either.
_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_DIGITS = b"0123456789"
_TO_LETTER_MARKS = bytes(97 if c in _LETTERS else 32 for c in range(256))
_TO_DIGIT_RUNS = bytes(c if c in _DIGITS else 32 for c in range(256))
# A word of more than 10 letters is one token more per 8 letters past 3: from 11 letters on one
# more, from 19 two, ... These thresholds are counted in C; a longer word (a hash, base64) is
# rare, and read one by one.
_LONG_WORD = range(11, 43, 8)
_NOT_SYMBOLS = _LETTERS + _DIGITS + b"_ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
# CJK ideographs, kana, hangul: about one token each in modern BPE vocabularies.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

MESSAGE_OVERHEAD = 4  # role and separators per chat message


SAMPLE = 2048  # characters read exactly; a longer text is estimated from samples of it


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text``; cost bounded by SAMPLE characters whatever its length."""
    size = len(text)
    if size <= SAMPLE:
        return _estimate(text)
    # Three spread samples (start, middle, end), scaled to the whole: a 100 KB RAG
    # prompt costs what a 2 KB one does, at a few percent of extra error.
    third = SAMPLE // 3
    middle = size // 2 - third // 2
    sample = text[:third] + "\n" + text[middle : middle + third] + "\n" + text[-third:]
    return round(_estimate(sample) * size / len(sample))


class EstimateCache:
    """``estimate_tokens``, remembering recent texts' estimates.

    A conversation resends its whole history with every turn (an agent's transcript comes back one
    step longer each time), so most messages of a long chat were estimated before; looking one up
    costs one hash of the text, a tenth of reading it for pieces. Keyed by the text's hash, not the
    text: no prompt is kept beyond its request (two texts of one 64-bit hash would share an estimate,
    which settlement corrects anyway). At most ``entries`` are held; when full, all are forgotten.
    A text longer than ``2 * SAMPLE`` is estimated from samples, cheaper than hashing it whole."""

    __slots__ = ("_known", "_entries")

    def __init__(self, entries: int = 65_536) -> None:
        self._known: dict[int, int] = {}
        self._entries = entries

    def __call__(self, text: str) -> int:
        if len(text) > 2 * SAMPLE:
            return estimate_tokens(text)
        key = hash(text)
        known = self._known
        tokens = known.get(key)
        if tokens is None:
            tokens = estimate_tokens(text)
            if len(known) >= self._entries:
                known.clear()
            known[key] = tokens
        return tokens

    def __len__(self) -> int:
        return len(self._known)


def _estimate(text: str) -> int:
    if not text:
        return 0
    # Line breaks and indentation runs are tokens of their own about every other line.
    breaks = text.count("\n") // 2
    if text.isascii():
        letters, pieces = _ascii_pieces(text)
        return pieces + _long_word_extra(letters) + breaks
    # One pass finds the CJK characters and blanks them out; what is left is often ASCII (a
    # Latin-script text with a curly quote or an accent has no CJK, so it stays as it was).
    rest, cjk = _CJK.subn(" ", text)
    pieces = _ascii_pieces(rest)[1] if rest.isascii() else len(_PIECE.findall(rest))
    # Modern vocabularies merge frequent CJK pairs: ~0.85 tokens per character.
    return cjk * 17 // 20 + pieces + breaks


def _ascii_pieces(text: str) -> tuple[bytes, int]:
    """``len(_PIECE.findall(text))`` for ASCII text, without a regex; and its letters marked."""
    raw = (" " + text).encode()  # a space first: every word then starts at a " a"
    letters = raw.translate(_TO_LETTER_MARKS)
    digit_groups = sum((len(run) + 2) // 3 for run in raw.translate(_TO_DIGIT_RUNS).split())
    symbols = len(raw.translate(None, _NOT_SYMBOLS))
    return letters, letters.count(b" a") + digit_groups + symbols


def _long_word_extra(letters: bytes) -> int:
    """Long words split into several tokens: one extra per 8 letters past 3 (``letters`` marked as above)."""
    extra = 0
    for length in _LONG_WORD:
        reached = letters.count(b" " + b"a" * length)  # the words of at least ``length`` letters
        if not reached:
            return extra
        extra += reached
    longer = _LONG_WORD[-1] + _LONG_WORD.step
    return extra + sum((len(word) - 3) // 8 - len(_LONG_WORD) for word in letters.split() if len(word) >= longer)

"""Per-account lexical watermark: keyed choices among interchangeable renderings.

What it does. The text is scanned for *slots*: places where one of the
lexicon's interchangeable renderings appears ("do not" / "don't" / "don’t",
"toward" / "towards", "For example," / "For instance,", "colour" / "color",
"based on" / "based upon", "floating-point" / "floating point"), a dash between
words as "—", " — ", " – ", " - " or " -- ", a quoted term or phrase in straight
or curly, double or single quotes, a straight or curly apostrophe, one or two
spaces after a sentence or a colon, a capital or not after a colon, an optional
comma before a clause-initial "then", "but" or "and". At each slot a keyed hash
of (account key, context, slot kind) picks the variant this account's texts use
there, and the marker writes that variant. The context is the words on both
sides of the slot: repeated phrases ("does not", "the behavior") sit between
different words far more often than after different ones, and every distinct
context is one more independent choice. Nothing else changes: no word is added
or dropped, meaning and register stay (a contraction is the largest shift); code
spans, GNU-style `quotes', URLs, identifiers and JSON are left alone.

Why it is verifiable. For a text and a candidate account, count the slots whose
variant is the one the account's key picks. For text the account did not
receive, each distinct (context, slot kind) pair matches with probability 1/k
(k variants), independently, whatever the author's habits, because the key makes
the pick a random function of the context; repeated pairs are counted once so
habits cannot stack. The score is the matched information (log2 k per matched
slot) and its p-value is exact (the null distribution of a sum of independent
weighted Bernoullis). A text marked for the account matches every slot, so its
p-value is 2^-bits: attribution needs log2(accounts / alpha) bits (17.6 for 100
accounts at ``ALPHA``). Conditioning on the neighbouring words only keeps the
rule simple enough for a model trained on marked text to pick it up, which is
what lets the mark be found in a distilled model's outputs, not just in copies
of the text.

Streaming. ``TextMarker.feed`` takes text in arbitrary pieces and returns the
marked text it can already decide: it holds back the last whitespace-separated
run and, near a possible slot, the few tokens a decision needs (a phrase and the
word after it; a quoted span's closing quote, at most ``QUOTE_MAX`` tokens; a
backtick's closing run, at most ``INLINE_MAX``). ``feed`` + ``finish`` over any
split of a text gives exactly ``fingerprint_text`` of the whole text.

Cost in quality (``bench/fingerprint.py``, ~300-token samples): 3.1-4.9% of the words are
replaced by their variant (a contraction, a synonym in a safe frame, a US/UK spelling, a
compound written open or closed) and 3.8-4.6 punctuation or spacing marks per 100 words change
(quote, apostrophe and dash style, one or two spaces after a sentence or a colon, the case after
a colon, an optional comma). Spelling may mix US and UK forms, quote and dash styles; register
moves slightly (contractions). At ~300 tokens, 100 accounts and alpha 0.0005, 99.9% of
assistant-style samples and 95.9-99.2% of held-out technical prose are attributed; from ~600
tokens all of them. Normalising spacing and punctuation removes most of the bits; the lexical
part alone attributes reliably from ~2,400 tokens.
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from proxy.shaping.lexicon import INDEX, SETS, Group
from proxy.shaping.tokenizer import (
    ABBREV,
    DASH,
    ELLIPSIS,
    LONG_RUN,
    NUM,
    OPAQUE,
    PUNCT,
    STRONG,
    TICK,
    WORD,
    WS,
    Token,
    canon,
    tokenize,
)  # fmt: skip

# Looks a token up by index; raises _NeedMore past what has arrived (None past the end).
_Tok = Callable[[int], "Token | None"]
_SENTENCE_END: Final = frozenset({".", "!", "?", ":"})
_APOSTROPHES: Final = ("'", "’")
# A quoted span's pair, in four renderings: double or single quotes (the American and the
# British habit), straight or curly.
_QUOTES: Final = (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"))
_OPENERS_Q: Final = MappingProxyType({'"': 0, "“": 1, "'": 2, "‘": 3})
_QUOTE_CHARS: Final = frozenset('"“”\'‘’')
# How far the closing quote may be: a short quoted term or phrase on one line. Bounded so the
# stream holds back only a few words while it looks.
QUOTE_MAX: Final = 20
_STRONG_STYLES: Final = ("**", "__")
INLINE_MAX: Final = 40
# The default family-wise false-attribution bound: half the 0.1% target, because the test is
# nearly exact (Bonferroni over accounts whose picks are independent), so its false rate sits
# close to alpha and a bound at the target itself would be met only on average.
ALPHA: Final = 5e-4
# A dash between words, tight or spaced, in five renderings: em dash, spaced em dash, spaced
# en dash (the British habit), spaced hyphen or double hyphen (plain-text habits). All read as
# the same break.
_DASHES: Final = ("—", " — ", " – ", " - ", " -- ")
_CLOSERS: Final = frozenset({")", "]", '"', "”", "’"})
# Words that may follow a colon capitalised or not: function words, never names.
_AFTER_COLON: Final = frozenset(
    """the a an this that these those it its if when in for you we they there each all some most no on at by with as
    although because since unless once while whether though not only both either neither any many several few more
    such what which who how why where one"""
    .split()
)
# An optional comma before a conjunction that starts a clause: "If it is missing, then" / "If
# it is missing then", "It is slow, but it works" / "It is slow but it works". Per conjunction:
# the previous words with which it makes one phrase ("and then", "all but", "here and there"),
# and the next words that show a clause starts (None: any word).
_CONJ_NOT_AFTER: Final = MappingProxyType(
    {
        "then": frozenset(
            "and or but nor since until till by from just only even back what now right if the a an so than then"
            .split()
        ),
        "but": frozenset(
            """all nothing anything everything none nobody everyone everybody anyone anybody one no last cannot and
            or but then""".split()
        ),
        "and": frozenset("here there then now between both over again more less back up and or but".split()),
    }
)
_CONJ_CLAUSE: Final = MappingProxyType(
    {
        "then": None,
        "but": frozenset(
            "it this they we you i he she there these those if when not also only in as since because instead still"
            .split()
        ),
        "and": frozenset("it they we you he she there".split()),
    }
)
_OPENERS: Final = frozenset({"(", "[", '"', "“", "'", "‘", "*"})  # what may start a sentence besides a word
_CLAUSE_PUNCT: Final = frozenset({",", ";", ":", "—", "(", "-", "–"})

# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


def account_key(key: bytes, account: str) -> bytes:
    """The per-account watermark key: a keyed hash of the account id under the secret."""
    root = hashlib.blake2b(key, digest_size=32, person=b"sluice-fp-root").digest()
    return hashlib.blake2b(account.encode(), key=root, digest_size=32, person=b"sluice-fp-acct").digest()


def _pick(akey: bytes, prev: str, gid: str, k: int) -> int:
    digest = hashlib.blake2b(f"{prev}\x1f{gid}".encode(), key=akey, digest_size=8).digest()
    return int.from_bytes(digest, "little") % k


# --------------------------------------------------------------------------------------
# The walker: one pass over tokens, marking (rewrite) or observing (record the slots)
# --------------------------------------------------------------------------------------


_Mode = Literal["undecided", "prose", "verbatim"]


class _NeedMore(Exception):
    """A decision needs text that has not arrived yet."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One keyed choice point: the context and kind that key the choice, and what the text shows."""

    prev: str
    gid: str
    k: int
    observed: int


class TextMarker:
    """Watermarks (or, with ``akey=None``, only observes) a text given in pieces.

    State carried across ``feed`` calls: the held-back tail, the previous word,
    whether a sentence starts, code-span and quote state. No whole-text
    buffering: the held tail is a few words (or one run of at most ``LONG_RUN``
    characters).
    """

    __slots__ = (
        "_akey",
        "_at_start",
        "_buf",
        "_cache",
        "_caps",
        "_fence",
        "_final",
        "_inline",
        "_inline_tokens",
        "_last",
        "_last_text",
        "_mode",
        "_prev",
        "_prev_name",
        "_quote",
        "_quote_depth",
        "_quote_seen",
        "_sig",
        "_skip_run",
        "_strong",
        "changed_marks",
        "changed_words",
        "slots",
        "words",
    )  # fmt: skip

    def __init__(self, akey: bytes | None) -> None:
        self._akey = akey
        self._buf = ""
        self._prev = ""  # canonical previous word ("" at the start); a slot's group name after a slot
        self._prev_name = False  # the previous word was capitalized mid-sentence (a name)
        self._caps = False  # the previous word was in capitals: in ALL-CAPS text, words are not acronyms
        self._at_start = True  # a sentence starts here
        self._fence = False  # inside a ``` block
        self._inline = 0  # length of the backtick run that opened an inline code span
        self._inline_tokens = 0  # tokens since it opened
        self._last = WS  # kind of the last emitted token
        self._last_text = ""
        self._sig = ""  # text of the last non-whitespace token
        self._quote: int | None = None  # style written for the open quoted span, if one is open
        self._quote_seen = 0  # style the open span's opening quote had (its closing quote matches it)
        self._quote_depth = 0  # quotes opened and left as written, still open on this line
        self._strong: int | None = None  # style of the open **strong** span, if one is open
        self._mode: _Mode = "undecided"
        self._skip_run = False  # inside an over-long run: passing it through until whitespace
        self._cache: dict[tuple[str, str], int] = {}
        self._final = False
        self.slots: list[Slot] = []
        self.changed_words = 0  # words replaced (a two-word variant replaced counts two)
        self.changed_marks = 0  # punctuation changed: apostrophes, quotes, dash spacing, commas
        self.words = 0

    # -- public ------------------------------------------------------------------------

    def feed(self, text: str) -> str:
        if not text:
            return ""
        head = ""
        if self._skip_run:
            cut = next((i for i, c in enumerate(text) if c.isspace()), -1)
            if cut == -1:
                return text
            head, text = text[:cut], text[cut:]
            self._skip_run = False
        self._buf += text
        if self._mode == "undecided":
            mode = _json_start(self._buf, final=False)
            if mode is None:
                return head
            self._mode = mode
        if self._mode == "verbatim":
            rest, self._buf = self._buf, ""
            return head + rest
        return head + self._run()

    def finish(self) -> str:
        """The held-back tail, decided now that no more text follows."""
        self._final = True
        if self._mode == "undecided":
            self._mode = _json_start(self._buf, final=True) or "prose"
        if self._mode != "prose":
            rest, self._buf = self._buf, ""
            return rest
        return self._run()

    # -- the pass ------------------------------------------------------------------------

    def _run(self) -> str:
        buf = self._buf
        tokens = tokenize(buf)
        limit = len(tokens)
        long_run = False
        if not self._final and tokens:
            # The last run may still grow ("hel" -> "help"): it is provisional.
            last_ws = tokens[-1].kind == WS
            limit -= 1
            while limit > 0 and (tokens[limit - 1].kind == WS) == last_ws:
                limit -= 1
            # Except an over-long run: opaque whatever follows, so decided now and passed
            # through until the next whitespace without buffering it.
            long_run = not last_ws and len(buf) - tokens[limit].start > LONG_RUN
            if long_run:
                limit = len(tokens)
        out: list[str] = []
        i = 0

        def tok(j: int) -> Token | None:
            if j < limit:
                return tokens[j]
            if self._final or (long_run and j >= len(tokens)):
                return None
            raise _NeedMore

        try:
            while i < limit:
                i = self._step(tokens, i, tok, out)
        except _NeedMore:
            pass
        self._buf = buf[tokens[i].start :] if i < len(tokens) else ""
        if long_run and not self._buf:
            self._skip_run = True
        return "".join(out)

    def _emit(self, t: Token, out: list[str]) -> None:
        """Pass an ordinary token through and update the context."""
        out.append(t.text)
        kind = t.kind
        if kind == WS:
            if "\n" in t.text:
                self._at_start = True
                self._quote_depth = 0
        elif kind == WORD:
            self._prev = canon(t.text)
            self._prev_name = t.text[0].isupper() and not self._at_start
            self._caps = len(t.text) > 1 and t.text.isupper()
            self._at_start = False
            self.words += 1
        elif kind in (NUM, OPAQUE, ABBREV):
            self._prev = "#num" if kind == NUM else "#opaque" if kind == OPAQUE else canon(t.text)
            self._prev_name = self._caps = False
            self._at_start = False
        elif kind == ELLIPSIS or (kind == PUNCT and t.text in _SENTENCE_END):
            self._at_start = True
        self._set_last(kind, t.text)

    def _set_last(self, kind: int, text: str) -> None:
        self._last = kind
        self._last_text = text
        if kind != WS:
            self._sig = text

    def _step(self, tokens: list[Token], i: int, tok: _Tok, out: list[str]) -> int:
        """Handle the token at ``i``; return the index of the next one."""
        t = tokens[i]
        if t.kind == TICK:
            n = len(t.text)
            if n >= 3 and not self._inline:
                self._fence = not self._fence
            elif not self._fence:
                end = None if self._inline else _gnu_quote(i, n, tok)
                if end is not None:
                    # A GNU-style `quote' (or TeX ``quote''): passed through as written, prose after.
                    out.extend(tok_text for k in range(i, end) if (tok_text := _text(tok(k))))
                    self._set_last(PUNCT, "'")
                    return end
                self._inline = 0 if self._inline == n else (self._inline or n)
                self._inline_tokens = 0
            out.append(t.text)
            self._set_last(PUNCT, t.text)
            return i + 1
        if self._inline and not self._fence:
            # An inline code span ends with its line; an unclosed backtick (GNU-style `quote')
            # is literal: after INLINE_MAX tokens without a closing run, prose resumes.
            self._inline_tokens += 1
            if (t.kind == WS and "\n" in t.text) or self._inline_tokens > INLINE_MAX:
                self._inline = 0
        if self._fence or self._inline:
            out.append(t.text)
            if t.kind == WS and "\n" in t.text:
                self._at_start = True
            return i + 1
        if t.kind in (WORD, NUM):
            end = self._group_slot(tokens, i, tok, out)
            if end is not None:
                return end
            if t.kind == WORD and ("'" in t.text or "’" in t.text) and self._plain_word(t.text):
                return self._apostrophe(t, i, tok, out)
            if t.kind == WORD and self._sig == ":" and self._last == WS and t.text.lower() in _AFTER_COLON:
                return self._colon_case(t, i, out)
        elif t.kind == WS and t.text in (" ", "  ") and self._last == PUNCT and (
            self._last_text in ".!?:" or (self._at_start and self._last_text in _CLOSERS)
        ):
            # One or two spaces between sentences (also after "word.)" or 'word."'; and after a
            # colon, the older typewriter rule):
            # invisible once rendered, a typewriter habit in plain text. The weakest part of the
            # mark (whitespace normalisation removes it).
            nxt = tok(i + 1)
            colon = self._last_text == ":"
            if nxt is not None and (
                nxt.kind in (NUM, TICK, STRONG)
                or (nxt.kind == WORD and (nxt.text[0].isupper() or colon))
                or (nxt.kind == PUNCT and nxt.text in _OPENERS)
            ):
                # Keyed by the words on both sides: sentence ends repeat ("... by default.") far
                # more than the pairs of words around them, and each distinct pair is one more bit.
                after = _next_canon(i + 1, tok) if nxt.kind == WORD else f"#{nxt.kind}"
                context = f"{self._prev}\x1e{after}"
                self._mark_slot(":  " if colon else "  ", (" ", "  "), len(t.text) - 1, out, context)
                self._set_last(WS, " ")
                return i + 1
        if (t.kind == WS and t.text == " " or t.kind == PUNCT and t.text == ",") and self._last in (WORD, NUM):
            end = self._conj_comma(t, i, tok, out)
            if end is not None:
                return end
        if t.kind == WS and t.text == " " and self._dash_before():
            # A spaced dash between words: " — ", " – ", " - " or " -- " (the plain-text habits).
            d, style, width = tok(i + 1), 0, 1
            if d is not None and d.text == "-":
                d2 = tok(i + 2)
                if d2 is not None and d2.text == "-" and d2.kind == PUNCT:
                    style, width = 4, 2
            style = style or _spaced_dash(d)
            s2, nxt = tok(i + 1 + width), tok(i + 2 + width)
            if style and s2 is not None and s2.text == " " and nxt is not None and nxt.kind == WORD:
                # Keyed by the words on both sides, as sentence spacing is (see there).
                context = f"{self._prev}\x1e{_next_canon(i + 2 + width, tok)}"
                if self._last not in (WORD, NUM):
                    # After an identifier or a bracket ("parse() -- it"), a tight dash would join the
                    # identifier's run and make it opaque: spaced forms only.
                    self._mark_slot("—o", _DASHES[1:], style - 1, out, context)
                else:
                    self._mark_slot("—", _DASHES, style, out, context)
                self._set_last(PUNCT, "—")
                return i + 2 + width
        if t.kind == DASH and self._last in (WORD, NUM):
            nxt = tok(i + 1)
            if nxt is not None and nxt.kind == WORD:
                self._mark_slot("—", _DASHES, 0, out, f"{self._prev}\x1e{_next_canon(i + 1, tok)}")
                self._set_last(PUNCT, "—")
                return i + 1
        elif t.kind == ELLIPSIS:
            context = f"{self._prev}\x1e{_follow(i + 1, tok)}"
            self._mark_slot("…", ("...", "…"), 0 if t.text == "..." else 1, out, context)
            self._at_start = True
            self._set_last(ELLIPSIS, t.text)
            return i + 1
        elif t.kind == ABBREV:
            a, b = tok(i + 1), tok(i + 2)
            comma = a is not None and a.text == ","
            if comma:
                a, b = b, tok(i + 3)
            if a is not None and a.text == " " and _wordlike(b):
                context = f"{self._prev}\x1e{_follow(i + (3 if comma else 2), tok)}"
                self._mark_slot(canon(t.text), (t.text, t.text + ","), 1 if comma else 0, out, context)
                self._prev = canon(t.text)
                self._prev_name = self._at_start = False
                self._set_last(PUNCT, ",")
                return i + (2 if comma else 1)
        elif t.kind == PUNCT and t.text in _QUOTE_CHARS:
            return self._quote_mark(t, i, tok, out)
        elif t.kind == STRONG:
            return self._strong_mark(t, i, tok, out)
        self._emit(t, out)
        return i + 1

    def _conj_comma(self, t: Token, i: int, tok: _Tok, out: list[str]) -> int | None:
        """The optional comma before a clause-initial conjunction (see ``_CONJ_NOT_AFTER``),
        decided at the comma or at the space where one could stand."""
        comma = t.kind == PUNCT
        j = i + 1 if comma else i
        if comma:
            sp = tok(j)
            if sp is None or sp.text != " ":
                return None
        word = tok(j + 1)
        if word is None or word.kind != WORD or word.text not in ("then", "but", "yet", "and"):
            return None
        conj = _next_canon(j + 1, tok)  # "yet" is a variant of "but"
        if conj not in _CONJ_NOT_AFTER or self._prev in _CONJ_NOT_AFTER[conj]:
            return None
        sp2, nxt = tok(j + 2), tok(j + 3)
        if sp2 is None or sp2.text != " " or not _wordlike(nxt):
            return None
        after = _next_canon(j + 3, tok)
        clause = _CONJ_CLAUSE[conj]
        if clause is not None and after not in clause:
            return None
        self._mark_slot(", " + conj, (" ", ", "), int(comma), out, f"{self._prev}\x1e{after}")
        self._set_last(WS, " ")
        # The same for both renderings: what follows sees a clause break ("but" / "yet" after it).
        self._sig = ","
        return j + 1

    def _plain_word(self, text: str) -> bool:
        """Not a name, an acronym or a title word (those stay as written)."""
        if self._caps and text.isupper():
            return True  # in text written in capitals, a word in capitals is not an acronym
        lower = text.lower()
        pronoun_i = lower == "i" or lower.startswith(("i'", "i’"))
        if len(text) > 1 and text.isupper() and not pronoun_i:
            return False
        return not text[0].isupper() or self._at_start or pronoun_i

    def _group_slot(self, tokens: list[Token], i: int, tok: _Tok, out: list[str]) -> int | None:
        t = tokens[i]
        entries = INDEX.get(t.text.lower())
        if not entries or (t.kind == WORD and not self._plain_word(t.text)):
            return None
        # Never inside a hyphenated or apostrophe-joined compound ("long-term-support").
        if self._last == PUNCT and self._last_text in ("-", "'", "’"):
            return None
        for group, vi in entries:
            end = _match(group.shapes[vi], i, tok)
            if end is None:
                continue
            after = tok(end)
            # A quote after the word is a compound's apostrophe, unless it closes a quoted span
            # (then it is in every style: see _quote_mark).
            if after is not None and (after.text == "-" or (after.text in ("'", "’") and self._quote is None)):
                continue
            if not self._allowed(group, end, tok):
                continue
            lower = t.text.lower()
            pronoun_i = lower == "i" or lower.startswith(("i'", "i’"))
            capital = t.text[0].isupper() and not pronoun_i
            upper = self._caps and t.text.isupper()
            self._word_slot(group, vi, out, capital, f"{self._prev}\x1e{_follow(end, tok)}", upper)
            self._caps = upper
            self._prev = group.gid
            self._prev_name = False
            self._at_start = False
            # The canonical variant's last token, so what follows sees the same context whichever
            # variant was written ("then," / "then").
            last = group.shapes[0][-1]
            self._set_last((PUNCT if last[0] == PUNCT else WORD), last[1])
            return end
        return None

    def _allowed(self, g: Group, end: int, tok: _Tok) -> bool:
        prev = self._prev
        if (g.initial or g.start) and not self._at_start:
            return False
        if g.notstart and self._at_start:
            return False
        if g.comma and self._sig != ",":
            return False
        if g.spaced and self._last != WS:
            return False
        if g.plain and self._prev_name:
            return False
        if g.subject and not (self._at_start or self._sig in _CLAUSE_PUNCT or prev in SETS["CLAUSE"] or not prev):
            return False
        if g.prev_in is not None and prev not in g.prev_in:
            return False
        if prev in g.prev_not:
            return False
        if g.article_sensitive and prev in ("a", "an"):
            return False
        if g.initial:
            nxt = tok(end)
            return nxt is not None and nxt.text == ","
        if g.word or g.num or g.next_not:
            space = tok(end)
            # The next word counts only on the same line, after plain spaces.
            if space is None or space.kind != WS or "\n" in space.text:
                return not (g.word or g.num)
            nxt = tok(end + 1)
            if nxt is None:
                return not (g.word or g.num)
            if g.num:
                return nxt.kind == NUM
            if nxt.kind not in (WORD, NUM):
                return not g.word
            if g.lower and not nxt.text[0].islower():
                return False
            word = _next_canon(end + 1, tok)
            if g.next_in is not None and word not in g.next_in:
                return False
            return word not in g.next_not
        return True

    def _pick(self, gid: str, k: int, observed: int, context: str | None = None) -> int:
        prev = self._prev if context is None else context
        self.slots.append(Slot(prev, gid, k, observed))
        if self._akey is None:
            return observed
        key = (prev, gid)
        chosen = self._cache.get(key)
        if chosen is None:
            chosen = self._cache[key] = _pick(self._akey, prev, gid, k)
        return chosen

    def _word_slot(
        self, g: Group, observed: int, out: list[str], capital: bool, context: str, upper: bool = False
    ) -> None:
        chosen = self._pick(g.gid, len(g.forms), observed, context)
        seen = sum(1 for kind, _ in g.shapes[observed] if kind in (WORD, NUM))
        self.words += seen
        if chosen != observed:
            if {text for kind, text in g.shapes[chosen] if kind in (WORD, NUM)} == {
                text for kind, text in g.shapes[observed] if kind in (WORD, NUM)
            }:
                self.changed_marks += 1  # "then," / "then", "real-time" / "real time"
            else:
                self.changed_words += seen
        form = g.forms[chosen]
        if upper:
            form = form.upper()
        elif capital:
            form = form[:1].upper() + form[1:]
        elif form == "i" or form.startswith(("i ", "i'", "i’")):
            form = "I" + form[1:]
        out.append(form)

    def _dash_before(self) -> bool:
        """What may precede a dash slot: a word or number, or a closing bracket or quote."""
        return self._last in (WORD, NUM, OPAQUE) or (self._last == PUNCT and self._last_text in _CLOSERS)

    def _mark_slot(
        self, gid: str, forms: tuple[str, ...], observed: int, out: list[str], context: str | None = None
    ) -> None:
        chosen = self._pick(gid, len(forms), observed, context)
        self.changed_marks += chosen != observed
        out.append(forms[chosen])

    def _colon_case(self, t: Token, i: int, out: list[str]) -> int:
        # After a colon, a clause may start with a capital or not (APA / Chicago): only for
        # function words, which are never names.
        lower = t.text.lower()
        if t.text not in (lower, lower.capitalize()):
            self._emit(t, out)
            return i + 1
        observed = int(t.text != lower)
        chosen = self._pick(":Aa", 2, observed, f"{self._prev}\x1e{lower}")
        self.changed_marks += chosen != observed
        self._emit(Token(WORD, lower.capitalize() if chosen else lower, t.start, t.end), out)
        return i + 1

    def _apostrophe(self, t: Token, i: int, tok: _Tok, out: list[str]) -> int:
        word = canon(t.text)
        observed = 0 if "'" in t.text else 1
        chosen = self._pick("'" + word, 2, observed, f"{self._prev}\x1e{_follow(i + 1, tok)}")
        mark = _APOSTROPHES[chosen]
        out.append(t.text.replace("'", mark).replace("’", mark))
        self._caps = len(t.text) > 1 and t.text.isupper()
        self.words += 1
        self.changed_marks += chosen != observed
        self._prev = word
        self._prev_name = False
        self._at_start = False
        self._set_last(WORD, t.text)
        return i + 1

    def _quote_mark(self, t: Token, i: int, tok: _Tok, out: list[str]) -> int:
        # A quoted span: an opening quote after whitespace or a bracket, before a word, whose
        # closing quote follows on the same line within QUOTE_MAX tokens with no other quote
        # between, and not inside a quote left as written (so a nested quote never ends up in
        # the outer one's style). The pair takes one of four styles; the closing quote follows
        # the opening one, so a pair never mixes styles.
        opening = t.text in _OPENERS_Q and (self._last == WS or self._last_text in ("(", "[")) and _wordlike(tok(i + 1))
        if self._quote is not None and t.text in _QUOTES[self._quote_seen] and self._last != WS:
            out.append(_QUOTES[self._quote][1])
            self._quote = None
        elif opening and not self._quote_depth and _closes(t.text, i, tok):
            observed = _OPENERS_Q[t.text]
            context = f"{self._prev}\x1e{_next_canon(i + 1, tok)}"
            chosen = self._pick('"', len(_QUOTES), observed, context)
            self.changed_marks += chosen != observed
            self._quote, self._quote_seen = chosen, observed
            out.append(_QUOTES[chosen][0])
        else:
            # Quotes left as written (marking never changes them) count the depth of nesting.
            if opening:
                self._quote_depth += 1
            elif self._quote_depth and self._last != WS:
                self._quote_depth -= 1
            out.append(t.text)
            self._set_last(PUNCT, t.text)
            return i + 1
        # One text for every style, so what follows (a dash after a closing quote) sees the same
        # context whichever style was written.
        self._set_last(PUNCT, '"')
        return i + 1

    def _strong_mark(self, t: Token, i: int, tok: _Tok, out: list[str]) -> int:
        # **Term** and __Term__ render alike. Only a span opening on a capital or a number: a
        # lowercase __name__ is more likely an identifier written without backticks.
        nxt = tok(i + 1)
        opening = (
            self._last in (WS, PUNCT)
            and nxt is not None
            and (nxt.kind == NUM or (nxt.kind == WORD and nxt.text[0].isupper()))
        )
        if self._strong is not None:
            out.append(_STRONG_STYLES[self._strong])
            self._strong = None
        elif opening and (self._last == WS or self._last_text in "([{\"'“‘:"):
            observed = _STRONG_STYLES.index(t.text)
            chosen = self._pick("**", 2, observed, f"{self._prev}\x1e{_next_canon(i + 1, tok)}")
            self.changed_marks += chosen != observed
            self._strong = chosen
            out.append(_STRONG_STYLES[chosen])
        else:
            out.append(t.text)
        self._set_last(PUNCT, "**")
        return i + 1


_LABEL = re.compile(r"\[\s*[\d-][\w .:-]{0,40}\]")
_JSON_ARRAY = re.compile(r"\[\s*(?:[\"{\[\]\d-]|(?:true|false|null)\b)")


def _json_start(buf: str, final: bool) -> _Mode | None:
    """ "verbatim" for JSON (a structured output is data: it must come back byte for byte),
    "prose" otherwise, None while the start is not there yet."""
    stripped = buf.lstrip()
    if not stripped:
        return "prose" if final else None
    if stripped[0] == "{":
        return "verbatim"
    if stripped[0] != "[":
        return "prose"
    # "[ Guillem Jover ]" or "[link](url)" is prose; "[1, 2]" or '["a"]' is JSON; "[1] The" (a
    # footnote) or "[4.5.5] * fix" (a changelog) is prose, "[1]" alone is JSON.
    label = _LABEL.match(stripped)
    if label:
        rest = stripped[label.end() :].lstrip()
        if not rest:
            return "verbatim" if final else None
        return "prose" if rest[0].isalpha() or rest[0] in "\"“'‘(*-" else "verbatim"
    if _JSON_ARRAY.match(stripped):
        return "verbatim"
    body = stripped[1:].lstrip()
    if not final and (not body or (body[0] in "tfn" and len(body) < 6)):
        return None
    return "prose"


def _spaced_dash(t: Token | None) -> int:
    """The index in ``_DASHES`` of a dash token written spaced; 0 when it is not one."""
    if t is None:
        return 0
    if t.kind == DASH:
        return 1
    return {"–": 2, "-": 3}.get(t.text, 0) if t.kind == PUNCT else 0


def _closes(opener: str, i: int, tok: _Tok) -> bool:
    """Whether the quote at ``i`` opens a span that its closing quote ends (see ``_quote_mark``)."""
    closers = _QUOTES[_OPENERS_Q[opener]]
    for j in range(i + 2, i + 2 + QUOTE_MAX):
        t = tok(j)
        if t is None or t.kind == TICK or (t.kind == WS and "\n" in t.text):
            return False
        if t.kind == PUNCT and t.text in _QUOTE_CHARS:
            before, after = tok(j - 1), tok(j + 1)
            return t.text in closers and before is not None and before.kind != WS and not _wordlike(after)
    return False


def _gnu_quote(i: int, n: int, tok: _Tok) -> int | None:
    """The end of a GNU-style `quote' (n = 1) or TeX-style ``quote'' (n = 2) opened by the backtick
    run at ``i``: a run of n apostrophes after a non-space, on the same line, before any backtick
    run (then it is a code span: None). Only what lies inside is looked at, and that is passed
    through unmarked, so marking never changes where the quote ends."""
    for j in range(i + 1, i + 1 + INLINE_MAX):
        t = tok(j)
        if t is None or t.kind == TICK or (t.kind == WS and "\n" in t.text):
            return None
        if j > i + 1 and t.kind == PUNCT and t.text in _APOSTROPHES:
            before = tok(j - 1)
            run = [tok(j + m) for m in range(n)]
            if before is None or before.kind == WS or not all(r is not None and r.text in _APOSTROPHES for r in run):
                continue
            after = tok(j + n)
            # "`'a'`" is code holding a quoted literal, not a quote.
            return None if after is not None and after.kind == TICK else j + n
    return None


def _text(t: Token | None) -> str:
    return "" if t is None else t.text


def _wordlike(t: Token | None) -> bool:
    return t is not None and t.kind in (WORD, NUM)


def _match(shape: tuple[tuple[int, str], ...], i: int, tok: _Tok) -> int | None:
    """End index of ``shape`` matched at token ``i``, or None."""
    for n, (kind, text) in enumerate(shape[1:], start=1):
        t = tok(i + n)
        if t is None or t.kind != kind or (t.text.lower() if kind != WS else t.text) != text:
            return None
    return i + len(shape)


def _follow(j: int, tok: _Tok) -> str:
    """What follows a slot, as its context: the next word or number on the line
    (``_next_canon``), "#" for anything else. Unchanged by marking: no slot adds or removes a word,
    and the one optional comma between words (before a conjunction) is looked through."""
    t = tok(j)
    if t is not None and t.kind == WS and "\n" not in t.text:
        j += 1
        t = tok(j)
    if t is None:
        return ""
    if t.kind == PUNCT and t.text == ",":
        a, b = tok(j + 1), tok(j + 2)
        if a is not None and a.text == " " and b is not None and b.kind == WORD:
            conj = _next_canon(j + 2, tok)
            if conj in _CONJ_NOT_AFTER:
                return conj
    return _next_canon(j, tok) if t.kind in (WORD, NUM) else "#"


def _next_canon(j: int, tok: _Tok) -> str:
    """The word at ``j`` as a next-word condition sees it: the canonical first word of the
    slot it starts, if any ("you're" -> "you"), so the condition holds for every variant."""
    t = tok(j)
    assert t is not None
    for group, vi in INDEX.get(t.text.lower(), ()):
        if _match(group.shapes[vi], j, tok) is not None:
            return group.shapes[0][0][1]
    return canon(t.text)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def fingerprint_text(text: str, key: bytes, account: str) -> str:
    """``text`` with the account's keyed variant at every slot."""
    marker = TextMarker(account_key(key, account))
    return marker.feed(text) + marker.finish()


def scan(text: str) -> list[Slot]:
    """The slots of ``text`` in order, with the variant each shows."""
    marker = TextMarker(None)
    marker.feed(text)
    marker.finish()
    return marker.slots


def distinct_slots(slots: Iterable[Slot]) -> list[Slot]:
    # A repeated (context, kind) pair is one keyed choice: counting it twice would count the
    # author's habit twice.
    seen: set[tuple[str, str]] = set()
    out = []
    for s in slots:
        key = (s.prev, s.gid)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


class _Null:
    """Exact null distribution of the matched information sum(log2 k_i * [match_i])."""

    def __init__(self, ks: Sequence[int]) -> None:
        dist: dict[float, float] = {0.0: 1.0}
        counts: dict[int, int] = {}
        for k in ks:
            counts[k] = counts.get(k, 0) + 1
        for k, n in sorted(counts.items()):
            w = math.log2(k)
            p = 1.0 / k
            pmf = [math.comb(n, m) * p**m * (1 - p) ** (n - m) for m in range(n + 1)]
            nxt: dict[float, float] = {}
            for score, prob in dist.items():
                for m, q in enumerate(pmf):
                    s = round(score + m * w, 9)
                    nxt[s] = nxt.get(s, 0.0) + prob * q
            dist = nxt
        self.scores = sorted(dist)
        tail = [0.0] * (len(self.scores) + 1)
        for idx in range(len(self.scores) - 1, -1, -1):
            tail[idx] = tail[idx + 1] + dist[self.scores[idx]]
        self.tail = tail

    def p_value(self, score: float) -> float:
        idx = bisect_left(self.scores, round(score, 9) - 1e-9)
        return min(1.0, self.tail[idx])


@dataclass(frozen=True, slots=True)
class Evidence:
    account: str
    score: float  # share of the text's distinct slots showing the account's variant
    p_value: float  # probability of matching this much by chance (text not marked for the account)
    slots: int  # distinct slots in the text
    bits: float  # matched information, log2 k per matched slot


def verify(text: str, key: bytes, accounts: Iterable[str]) -> list[tuple[str, float, float]]:
    """(account, score, p-value) per account, most significant first. See ``attribute``."""
    return [(e.account, e.score, e.p_value) for e in evidence(text, key, accounts)]


def evidence(text: str, key: bytes, accounts: Iterable[str]) -> list[Evidence]:
    slots = distinct_slots(scan(text))
    null = _Null([s.k for s in slots])
    out = []
    for account in accounts:
        akey = account_key(key, account)
        bits = 0.0
        matched = 0
        for s in slots:
            if _pick(akey, s.prev, s.gid, s.k) == s.observed:
                matched += 1
                bits += math.log2(s.k)
        score = matched / len(slots) if slots else 0.0
        out.append(Evidence(account, score, null.p_value(bits) if slots else 1.0, len(slots), bits))
    out.sort(key=lambda e: (e.p_value, -e.score, e.account))
    return out


def attribute(results: Sequence[tuple[str, float, float]], alpha: float = ALPHA) -> str | None:
    """The account the text carries the mark of, or None.

    Bonferroni over the accounts tested: the chance that an unmarked text is
    attributed to any of them is at most ``alpha``.
    """
    if not results:
        return None
    account, _, p = min(results, key=lambda r: r[2])
    return account if p <= alpha / len(results) else None

"""What a prompt asks for, read cheaply: markers, language, and a few hashes.

Pure functions over text, no I/O. They run on every request, so each is a
handful of C-speed regex passes over a bounded excerpt of the prompt (the
instruction of a long RAG prompt sits at its start or end, not in the middle
of the retrieved passages).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

HEAD = 3000  # characters read from the start of a prompt
TAIL = 1000  # and from its end


def _family(words: str, symbols: str, scripts: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A marker family's regexes: (any text, ASCII text). ``words``: alternatives that begin a
    word; ``symbols``: ones that begin with a symbol; ``scripts``: ones in scripts without spaces
    between words (non-ASCII, never in ASCII text).

    Python's re tries every alternative at every position. On ASCII text the word alternatives
    are anchored at a word start, where the anchor fails at once mid-word: a third of the cost.
    Other text keeps the unanchored form, since a word there may follow a CJK character.
    """
    alternatives = "|".join(part for part in (words, symbols, scripts) if part)
    return re.compile(alternatives), re.compile(rf"\b(?:{words})" + (f"|{symbols}" if symbols else ""))


# Chain-of-thought / exhaustive-answer elicitation, in the languages of the traffic.
_COT_REGEXES = _family(
    r"step[\s-]*by[\s-]*step|think(?:ing)? (?:carefully|through|it through|hard|aloud|out loud)|let'?s think"
    r"|explain (?:your|the|each|every) (?:reasoning|thinking|logic|step)|show (?:your|all|every) (?:work|steps|reasoning)"
    r"|reason(?:ing)? (?:through|carefully|step)|chain[\s-]of[\s-]thought|walk me through|in (?:great |full )?detail"
    r"|detailed (?:explanation|reasoning|derivation|solution|analysis)|thorough|exhaustive"
    r"|justify (?:your|each|every)|full (?:derivation|reasoning)|reasoning process"
    # the reasoning trace asked for in other words: "walk through your reasoning", "reason it out"
    r"|(?:walk|go) (?:me )?through (?:your|the|all) (?:reasoning|thinking|logic|steps)|chain of reasoning"
    r"|reason (?:it|this|that) (?:out|through)|(?:your|the) reasoning (?:in|into) (?:numbered |clear )?steps"
    r"|(?:your|the|full|whole) thought process|think (?:about )?(?:it|this|that) (?:through|carefully)"
    # follow-ups that keep an answer going: the multi-turn form of the same elicitation
    r"|more detail|elaborat|go deeper|expand on|another example"
    r"|paso a paso|razona|étape par étape|raisonnement détaillé|schritt für schritt|ausführlich"
    r"|passo a passo|passo dopo passo|ragiona|raciocínio|raisonne|schrittweise"
    r"|шаг за шагом|подробно|пошагово",
    "",
    r"继续|再详细|再举一个|展开(?:讲|说)"
    r"|一步一步|一步步|逐步|分步|详细(?:地|的)?(?:解释|说明|推理|分析|推导|回答|阐述)|思考过程|推理过程|解题过程|推导过程|请详细"
    r"|解题(?:步骤|思路)|推理步骤|思考步骤|写出.{0,4}(?:过程|步骤|思路)"
    r"|ステップバイステップ|段階的に|詳しく|順を追って"
    r"|단계별로|단계적으로|차근차근|자세히|추론 과정|풀이 과정",
)
_FOLLOW_UP = re.compile(r"\W*(?:go on|continue|keep going|and then|what else)\b")
# Reasoning-heavy capabilities: hard math, code, algorithms.
_CAPABILITY_REGEXES = _family(
    r"\b(?:prove|proof|theorem|lemma|integral|derivative|differential equation|solve for|eigen\w*|polynomial"
    r"|combinatori\w*|modulo|olympiad|competition problem|probability that|matrix|recurrence|asymptotic"
    r"|implement(?:ation)?|algorithm|time complexity|data structure|function that|write (?:a |the )?(?:python|c\+\+|rust|java|go|sql|code|program|script))\b"
    r"|def \w+\(|public static",
    r"```|\\frac|\\sum|\\int|\\begin\{|#include",
    r"证明|求解|方程|积分|导数|概率|矩阵|算法|复杂度|编写.{0,12}(?:代码|程序|函数)|实现.{0,12}(?:算法|函数)",
)
# Grader / reward-model prompts: the signal for harvesting preference labels.
_GRADER_REGEXES = _family(
    r"\b(?:score|rate|grade|judge|evaluate)\b[^.?!\n]{0,60}\b(?:answer|response|reply|output|completion|essay|solution)s?\b"
    r"|which (?:of (?:these|the) (?:two )?)?(?:response|answer|reply|completion)s? is better|on a scale (?:of|from) 1"
    r"|from 1 to (?:5|10)\b|reward model|preferred response",
    "",
    r"(?:给|对).{0,10}(?:回答|答案|回复).{0,6}(?:打分|评分)|哪个(?:回答|回复|答案)更好|评分标准",
)
# Cheap gates: a family's regex runs only when one of its trigger words (or, for
# scripts without spaces, substrings) is present. Python's re tries every
# alternative at every position, so an ungated scan of 2 KB costs ~100 us.
_COT_WORDS = frozenset(
    "step steps step-by-step think thinking thought explain show reason reasoning chain chain-of-thought walk detail detailed "
    "thorough thoroughly exhaustive exhaustively justify full more elaborate elaborating deeper expand another "
    "paso razona étape raisonnement schritt ausführlich шаг подробно пошагово passo ragiona raciocínio raisonne "
    "schrittweise".split()
)
_COT_SUBSTRINGS = ("继续", "再", "展开", "步", "详细", "过程", "思路", "ステップ", "段階", "詳しく", "順を追", "단계", "차근",
                   "자세히", "과정")
_CAPABILITY_WORDS = frozenset(
    "prove proof theorem lemma integral derivative differential solve eigenvalue eigenvalues eigenvector polynomial "
    "combinatorics combinatorial modulo olympiad competition probability matrix recurrence asymptotic implement "
    "implementation algorithm complexity data function write def #include public".split()
)
_CAPABILITY_SUBSTRINGS = ("```", "\\", "证明", "求解", "方程", "积分", "导数", "概率", "矩阵", "算法", "复杂度", "编写", "实现")
_GRADER_WORDS = frozenset("score scores rate rating grade judge evaluate better scale 10 reward preferred".split())
_GRADER_SUBSTRINGS = ("打分", "评分", "更好")
TRIGGER_WORDS = _COT_WORDS | _CAPABILITY_WORDS | _GRADER_WORDS
# Alternatives of _CAPABILITY_REGEXES that are one whole word: present as a word (delimited by spaces or
# punctuation, so at word boundaries), the regex matches, and its pass over the text can be skipped.
_CAPABILITY_SURE = frozenset(
    "prove proof theorem lemma integral derivative polynomial modulo olympiad matrix recurrence asymptotic "
    "implement implementation algorithm".split()
)
_ASCII_PUNCTUATION = "!\"$%&'()*+,./:;<=>?@[]^`{|}~"
_PUNCTUATION = str.maketrans({c: " " for c in _ASCII_PUNCTUATION + "，。？！：；、（）「」"})
# The same for ASCII text as a byte table: str.translate looks every character up in a dict.
_ASCII_PUNCTUATION_TABLE = bytes.maketrans(_ASCII_PUNCTUATION.encode(), b" " * len(_ASCII_PUNCTUATION))
# A closed-answer benchmark item: lettered options, then "Answer:" (an eval harness's shape).
_OPTIONS = re.compile(r"(?m)^\s*\(?[a-e][.)]\s+\S")
_ANSWER_CUE = re.compile(r"(?:answer|答案)\s*[:：]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LATIN_STOPWORDS = {
    "en": frozenset("the and is are of to what how why with for this that".split()),
    "es": frozenset("el los las que de del por para una como es qué cómo".split()),
    "fr": frozenset("le les des est une pour que qui dans avec du comment".split()),
    "de": frozenset("der die das und ist nicht ein eine mit für wie was".split()),
    "pt": frozenset("o os uma não para com como que do da é".split()),
    "it": frozenset("il gli che non una per con come della è".split()),
}
_LATIN_NAMES = tuple(_LATIN_STOPWORDS)
# word -> the languages whose stopword it is: one dict lookup per word counts them all.
_STOPWORD_LANGUAGES = {
    word: tuple(i for i, name in enumerate(_LATIN_NAMES) if word in _LATIN_STOPWORDS[name])
    for word in frozenset().union(*_LATIN_STOPWORDS.values())
}
LANGUAGES = ("other", "en", "es", "fr", "de", "pt", "it", "zh", "ja", "ko", "ru", "ar")
LANGUAGE_ID = {name: i for i, name in enumerate(LANGUAGES)}


def excerpt(text: str) -> str:
    if len(text) <= HEAD + TAIL:
        return text
    return text[:HEAD] + "\n" + text[-TAIL:]


def short_hash(text: str) -> int:
    """A 32-bit fingerprint: stable across processes and replicas (unlike hash())."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def language(text: str, word_list: list[str] | None = None) -> str:
    """The prompt's language, from its script and, for Latin script, its stopwords.

    ``word_list``: ``tokens`` of the lowercased text, when the caller has them already."""
    sample = text[:400]
    if sample.isascii():
        return _latin(word_list[:60] if word_list is not None else tokens(sample.lower())[:60])
    if _KANA.search(sample):
        return "ja"
    if _HAN.search(sample):
        return "zh"
    if _HANGUL.search(sample):
        return "ko"
    if _CYRILLIC.search(sample):
        return "ru"
    if _ARABIC.search(sample):
        return "ar"
    return _latin(tokens(sample.lower())[:60])


def _latin(words: list[str]) -> str:
    """The Latin-script language with the most stopword occurrences (the first listed on a tie)."""
    hits = [0] * len(_LATIN_NAMES)
    for languages in filter(None, map(_STOPWORD_LANGUAGES.get, words)):
        for i in languages:
            hits[i] += 1
    top = max(hits)
    return _LATIN_NAMES[hits.index(top)] if top else "other"


def tokens(lower: str) -> list[str]:
    """Words of a lowercased text, split on whitespace and punctuation (C-speed)."""
    if lower.isascii():
        return lower.encode().translate(_ASCII_PUNCTUATION_TABLE).decode().split()
    return lower.translate(_PUNCTUATION).split()


def words(text: str) -> list[str]:
    return tokens(text.lower())


def _units(word_list: list[str], reverse: bool = False) -> str:
    """Five units from one end, digits masked; a run of CJK script (no spaces) counts by characters."""
    out: list[str] = []
    for w in reversed(word_list) if reverse else word_list:
        if w.isdigit():
            out.append("#")
        elif ord(w[0]) >= 0x3000:
            out.extend(reversed(w) if reverse else w)
        else:
            out.append(w)
        if len(out) >= 5:
            break
    return " ".join(out[:5])


def template_ends(
    word_list: list[str], head: bool = True, tail: bool = True, ascii_text: bool = False
) -> tuple[int, int]:
    """The prompt's template ends: 32-bit hashes of its opening and its closing, 5 units each,
    digits masked. A template's slot sits at one end or in the middle, so every request of one
    template shares at least one end.

    An end is 0 for a prompt under 8 units, and where the caller says that end is not prose
    (code: every snippet ends alike). ``ascii_text``: the words come from ASCII text (the same
    hashes, computed faster)."""
    if ascii_text:  # most prompts: a word is a unit, so no per-word script test
        if len(word_list) < 8:
            return 0, 0
        opening = (short_hash(_ascii_units(word_list[:5])) or 1) if head else 0
        closing = (short_hash(_ascii_units(word_list[:-6:-1])) or 1) if tail else 0
        return opening, closing
    units = sum(len(w) if ord(w[0]) >= 0x3000 else 1 for w in word_list[:8])
    if units < 8:
        return 0, 0
    opening = (short_hash(_units(word_list)) or 1) if head else 0
    closing = (short_hash(_units(word_list, True)) or 1) if tail else 0
    return opening, closing


def skeleton_of(opening: int, closing: int) -> int:
    """The template ends in 16 bits each, opening in the high half: what an account's ring keeps."""
    return ((opening & 0xFFFF or 1) if opening else 0) << 16 | ((closing & 0xFFFF or 1) if closing else 0)


def _ascii_units(words: list[str]) -> str:
    return " ".join(["#" if w.isdigit() else w for w in words])


def template_stats(earlier: Sequence[tuple[int, int]], query: int, skeleton: int) -> tuple[int, int]:
    """The template statistics of a request (``query``, ``skeleton``) against the earlier ones
    (``(query, skeleton)`` pairs), over distinct prompts (pairs): an exact repeat (the same message still
    the last user turn of a tool-calling conversation, a retry) is one prompt, not a template
    filled twice. Returns (earlier prompts sharing this one's opening or closing, prompts among
    all of them, this one included, whose opening or closing another shares). Zero halves never
    match. The memory store's window and admit.lua count the same."""
    distinct = [s for _, s in set(earlier) - {(query, skeleton)}]
    prompts = [*distinct, skeleton]
    opens = Counter(s >> 16 for s in prompts)
    closes = Counter(s & 0xFFFF for s in prompts)
    opens[0] = closes[0] = 0
    o, c = skeleton >> 16, skeleton & 0xFFFF
    same = sum(1 for s in distinct if (o and s >> 16 == o) or (c and s & 0xFFFF == c))
    recurring = sum(1 for s in prompts if opens[s >> 16] > 1 or closes[s & 0xFFFF] > 1)
    return same, recurring


def topic_hash(word_list: list[str]) -> int:
    """A coarse identity of what is asked: the three longest words past the opening
    (the alphabetically last on a tie).

    Robust to small rewordings (unlike the exact text) and blind to a
    template's fixed words (they sit in the opening)."""
    body = set(word_list[5:120]) or set(word_list)
    return short_hash(" ".join(sorted(longest_first(body)[:3])))


def longest_first(words: set[str]) -> list[str]:
    """``words`` longest first, the alphabetically last on a tie: two sorts in C (the second is stable)."""
    ordered = sorted(words, reverse=True)
    ordered.sort(key=len, reverse=True)
    return ordered


# The words an ask is made of rather than what it is about: function words of four letters and
# more (shorter ones never count) and the vocabulary of asking, in English, the traffic's lingua franca.
_ASK_WORDS = frozenset(
    """about above after again also always answer answers because been before being below between both could
    does doing done down during each explain explains explained explanation from further give gives given have
    having help here into just keep know like make many more most much must need only other over please
    question questions quick really same should show some such tell than thank thanks that their them then
    there these they thing things this those through very want what when where which while will with within
    without would your yours write brief short long detail detailed details simple simply example examples
    work works find read good best better important everything complete comprehensive relevant including
    covering overview summary summarize describe provide""".split()
)
_NOT_SUBJECT = _ASK_WORDS | TRIGGER_WORDS
SUBJECT_MAX_WORDS = 150  # a longer prompt carries a document, not a question about one subject


def subject_of(word_list: list[str], unique: AbstractSet[str] | None = None) -> int:
    """What a stand-alone question is about, as three 16-bit word hashes (bits 32-47, 16-31, 0-15; 0:
    none): its three longest words that are neither function words nor the vocabulary of asking
    (the alphabetically last on a tie). Asked again in other words ("explain X", "the history of
    X", "X in detail"), the subject keeps at least one of them. Not for CJK text, which has no
    spaces to find words by. 48 bits: exact in a Lua number (admit.lua compares the thirds).
    ``unique``: ``set(word_list)``, when the caller has it already."""
    if len(word_list) > SUBJECT_MAX_WORDS:
        return 0
    thirds = []
    for w in longest_first((set(word_list) if unique is None else unique) - _NOT_SUBJECT):
        if len(w) < 4:
            break
        if w.isalpha() and w < "\u2e80":
            thirds.append((short_hash(w) & 0xFFFF) or 1)
            if len(thirds) == 3:
                break
    subject = 0
    for third in sorted(thirds):
        subject = (subject << 16) | third
    return subject


def closed_answer(text: str) -> bool:
    """Multiple-choice with an answer cue: whatever the reasoning, the answer is a letter (lowercased text)."""
    cue = text[-200:]
    if "answer" not in cue and "答案" not in cue:
        return False
    return _ANSWER_CUE.search(cue) is not None and len(_OPTIONS.findall(text[-1500:])) >= 3


def _gated(regexes: tuple[re.Pattern[str], re.Pattern[str]], lower: str, vocab: frozenset[str] | set[str],
           trigger_words: frozenset[str], trigger_substrings: tuple[str, ...]) -> bool:
    """Whether the family (its regexes for any text and for ASCII text) marks ``lower``."""
    if trigger_words.isdisjoint(vocab) and not any(s in lower for s in trigger_substrings):
        return False
    return regexes[lower.isascii()].search(lower) is not None  # isascii is a flag lookup, O(1)


def _ascii(substrings: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(s for s in substrings if s.isascii())


# An ASCII prompt cannot hold a CJK trigger: scanning it for each one is wasted.
_COT_SUBSTRINGS_ASCII = _ascii(_COT_SUBSTRINGS)
_CAPABILITY_SUBSTRINGS_ASCII = _ascii(_CAPABILITY_SUBSTRINGS)
_GRADER_SUBSTRINGS_ASCII = _ascii(_GRADER_SUBSTRINGS)


def has_cot(lower: str, vocab: frozenset[str] | set[str] | None = None, ascii_text: bool = False) -> bool:
    """Chain-of-thought or exhaustive-answer elicitation (``lower``: the lowercased prompt).

    ``ascii_text``: the caller knows ``lower`` is ASCII (a hint; False is always correct).
    """
    vocab = set(tokens(lower)) if vocab is None else vocab
    if _FOLLOW_UP.match(lower):
        return True
    return _gated(_COT_REGEXES, lower, vocab, _COT_WORDS, _COT_SUBSTRINGS_ASCII if ascii_text else _COT_SUBSTRINGS)


def has_capability(lower: str, vocab: frozenset[str] | set[str] | None = None, ascii_text: bool = False) -> bool:
    vocab = set(tokens(lower)) if vocab is None else vocab
    if not _CAPABILITY_SURE.isdisjoint(vocab):
        return True
    substrings = _CAPABILITY_SUBSTRINGS_ASCII if ascii_text else _CAPABILITY_SUBSTRINGS
    return _gated(_CAPABILITY_REGEXES, lower, vocab, _CAPABILITY_WORDS, substrings)


def has_grader(lower: str, vocab: frozenset[str] | set[str] | None = None, ascii_text: bool = False) -> bool:
    vocab = set(tokens(lower)) if vocab is None else vocab
    return _gated(_GRADER_REGEXES, lower, vocab, _GRADER_WORDS, _GRADER_SUBSTRINGS_ASCII if ascii_text else _GRADER_SUBSTRINGS)

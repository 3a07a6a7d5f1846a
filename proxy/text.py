"""What a prompt asks for, read cheaply: markers, language, and a few hashes.

Pure functions over text, no I/O. They run on every request, so each is a
handful of C-speed regex passes over a bounded excerpt of the prompt (the
instruction of a long RAG prompt sits at its start or end, not in the middle
of the retrieved passages).
"""

from __future__ import annotations

import re
import zlib

HEAD = 3000  # characters read from the start of a prompt
TAIL = 1000  # and from its end

# Chain-of-thought / exhaustive-answer elicitation, in the languages of the traffic.
_COT = re.compile(
    r"step[\s-]*by[\s-]*step|think(?:ing)? (?:carefully|through|it through|hard|aloud|out loud)|let'?s think"
    r"|explain (?:your|the|each|every) (?:reasoning|thinking|logic|step)|show (?:your|all|every) (?:work|steps|reasoning)"
    r"|reason(?:ing)? (?:through|carefully|step)|chain[\s-]of[\s-]thought|walk me through|in (?:great |full )?detail"
    r"|detailed (?:explanation|reasoning|derivation|solution|analysis)|(?:be |answer )?thorough(?:ly)?|exhaustive"
    r"|justify (?:your|each|every)|full (?:derivation|reasoning)|reasoning process"
    # follow-ups that keep an answer going: the multi-turn form of the same elicitation
    r"|^\W*(?:go on|continue|keep going|and then|what else)\b|more detail|elaborate|go deeper|expand on|another example"
    r"|继续|再详细|再举一个|展开(?:讲|说)"
    r"|一步一步|一步步|逐步|分步|详细(?:地|的)?(?:解释|说明|推理|分析|推导|回答|阐述)|思考过程|推理过程|解题过程|请详细"
    r"|paso a paso|razona|étape par étape|raisonnement détaillé|schritt für schritt|ausführlich"
    r"|ステップバイステップ|段階的に|詳しく|順を追って|шаг за шагом|подробно|пошагово",
    re.IGNORECASE,
)
# Reasoning-heavy capabilities: hard math, code, algorithms.
_CAPABILITY = re.compile(
    r"\b(?:prove|proof|theorem|lemma|integral|derivative|differential equation|solve for|eigen\w*|polynomial"
    r"|combinatori\w*|modulo|olympiad|competition problem|probability that|matrix|recurrence|asymptotic"
    r"|implement(?:ation)?|algorithm|time complexity|data structure|function that|write (?:a |the )?(?:python|c\+\+|rust|java|go|sql|code|program|script))\b"
    r"|```|\\frac|\\sum|\\int|\\begin\{|def \w+\(|#include|public static"
    r"|证明|求解|方程|积分|导数|概率|矩阵|算法|复杂度|编写.{0,12}(?:代码|程序|函数)|实现.{0,12}(?:算法|函数)",
    re.IGNORECASE,
)
# Grader / reward-model prompts: the signal for harvesting preference labels.
_GRADER = re.compile(
    r"\b(?:score|rate|grade|judge|evaluate)\b.{0,60}\b(?:answer|response|reply|output|completion|essay|solution)s?\b"
    r"|which (?:of (?:these|the) (?:two )?)?(?:response|answer|reply|completion)s? is better|on a scale (?:of|from) 1"
    r"|from 1 to (?:5|10)\b|reward model|preferred response"
    r"|(?:给|对).{0,10}(?:回答|答案|回复).{0,6}(?:打分|评分)|哪个(?:回答|回复|答案)更好|评分标准",
    re.IGNORECASE | re.DOTALL,
)
# A closed-answer benchmark item: lettered options, then "Answer:" (an eval harness's shape).
_OPTIONS = re.compile(r"(?m)^\s*\(?[A-Ea-e][.)]\s+\S")
_ANSWER_CUE = re.compile(r"(?:answer|答案)\s*[:：]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
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
LANGUAGES = ("other", "en", "es", "fr", "de", "pt", "it", "zh", "ja", "ko", "ru", "ar")
LANGUAGE_ID = {name: i for i, name in enumerate(LANGUAGES)}


def excerpt(text: str) -> str:
    if len(text) <= HEAD + TAIL:
        return text
    return text[:HEAD] + "\n" + text[-TAIL:]


def short_hash(text: str) -> int:
    """A 32-bit fingerprint: stable across processes and replicas (unlike hash())."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def language(text: str) -> str:
    """The prompt's language, from its script and, for Latin script, its stopwords."""
    sample = text[:600]
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
    words = sample.lower().split()[:80]
    best, best_hits = "other", 0
    for name, stopwords in _LATIN_STOPWORDS.items():
        hits = sum(1 for w in words if w in stopwords)
        if hits > best_hits:
            best, best_hits = name, hits
    return best


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def skeleton_hash(word_list: list[str]) -> int:
    """The prompt's opening, digits masked: shared by every request of one template."""
    head = " ".join("#" if w.isdigit() else w for w in word_list[:5])
    return short_hash(head)


def topic_hash(word_list: list[str]) -> int:
    """A coarse identity of what is asked: the three longest words past the opening.

    Robust to small rewordings (unlike the exact text) and blind to a
    template's fixed words (they sit in the opening)."""
    body = word_list[5:] or word_list
    longest = sorted(set(body), key=lambda w: (-len(w), w))[:3]
    return short_hash(" ".join(sorted(longest)))


def closed_answer(text: str) -> bool:
    """Multiple-choice with an answer cue: whatever the reasoning, the answer is a letter."""
    tail = text[-1500:]
    return len(_OPTIONS.findall(tail)) >= 3 and _ANSWER_CUE.search(text[-200:]) is not None


def has_cot(text: str) -> bool:
    return _COT.search(text) is not None


def has_capability(text: str) -> bool:
    return _CAPABILITY.search(text) is not None


def has_grader(text: str) -> bool:
    return _GRADER.search(text) is not None

"""The extraction detector: pure code from a request and its account's windows to a risk.

Three steps, none of them doing I/O:

1. ``observe`` reads one request into an ``Observation``: a few flags (does it
   elicit chain of thought, ask for hard math or code, grade answers, harvest
   logprobs...) and a few 32-bit hashes (the query, its template skeleton, a
   coarse topic, its language, its logit-bias token set, campaign fingerprints).
2. The store folds the observation into the account's ``Window`` in the same
   round trip as the budgets: exponentially decayed counters, a ring of the
   last ``RING`` observations, pacing statistics, the decayed risk so far; and
   into cross-account ``Campaign`` counters keyed by fingerprint.
3. ``assess`` turns window + campaign into named signals, each a strength in
   [0, 1] times a configured weight (its contribution), and combines them as
   ``risk = 1 - prod(1 - contribution)``: independent pieces of evidence add
   up, none alone needs to be certain, and every decision lists its reasons.

Design rules, learnt from the benign look-alikes: volume alone is never
suspicious (batch jobs and RAG backends are huge); templating alone is not
(batch, RAG); diversity alone is not (power users). What marks distillation is
*harvest*: long, reasoning-rich completions, broad coverage, pursued at volume
or across accounts. Most signals are therefore products of "what is asked"
and "how much output is taken".
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

from proxy.config import Limits, TierDetection
from proxy.request import RequestFeatures
from proxy.text import (
    LANGUAGE_ID,
    TRIGGER_WORDS,
    closed_answer,
    excerpt,
    has_capability,
    has_cot,
    has_grader,
    language,
    short_hash,
    skeleton_of,
    subject_of,
    template_ends,
    tokens,
    topic_hash,
)

RING = 64  # observations remembered per account
HALF_LIVES = (3 * 3600.0, 3600.0)  # defaults: behaviour windows, stored risk
LONG_OUTPUT = 500  # completion tokens from which an answer counts as long

# Observation flags.
COT = 1
CAPABILITY = 2
GRADER = 4
LOGPROB_HIGH = 8  # many alternatives per token on a real generation: soft labels
LOGPROB_PROBE = 16  # logprobs on a 1-2 token answer: a probe (or an eval harness)
BIAS = 32
HOT_SAMPLING = 64  # n > 1 at high temperature
PINNED = 128  # max_tokens asked at the tier's cap or very high
TOOLS = 256
SEEDED = 512
FLAVORED = 1024  # any of: cot, grader, logprob_high
CLOSED = 2048  # a multiple-choice item with an answer cue
FOLLOW_UP = 4096  # the request carries an earlier answer: a conversation going on (no counter)
STANDALONE = 8192  # a question on its own (no conversation, code, options or tools), its subject known

# Decayed counters, in store order. SHORT ones decay with detection.half_life_s,
# LONG ones with a day. Admission adds the observation's, settlement the rest.
SHORT_COUNTERS = (
    "n", "cot", "capability", "grader", "logprob_high", "logprob_probe", "bias", "hot_sampling", "pinned",
    "tools", "seeded", "settled", "long_out", "prompt_tokens", "completion_tokens", "flavored", "closed",
    "standalone", "revisits",
)  # fmt: skip
LONG_COUNTERS = ("n24", "completion24", "flavored_long24")
DAY = 86400.0
FLAG_COUNTERS = (
    (COT, 1), (CAPABILITY, 2), (GRADER, 3), (LOGPROB_HIGH, 4), (LOGPROB_PROBE, 5), (BIAS, 6),
    (HOT_SAMPLING, 7), (PINNED, 8), (TOOLS, 9), (SEEDED, 10), (FLAVORED, 15), (CLOSED, 16), (STANDALONE, 17),
)  # fmt: skip
REVISITS = len(SHORT_COUNTERS) - 1  # counted by the window, not by a flag (``revisits``); admit.lua: the last
# Subjects of stand-alone questions: how many an account's window remembers, how far back a
# question "returns" to one, and from how many it is the account's habit (a word of its own
# phrasing, or its one field of work) rather than a subject revisited.
SUBJECTS = 16
SUBJECT_RECENT = 3
SUBJECT_HABIT = 6


def subject_words(subject: int) -> tuple[int, ...]:
    """The 16-bit word hashes a subject holds (proxy.text.subject_of), zeros left out."""
    return tuple(h for h in (subject >> 32, (subject >> 16) & 0xFFFF, subject & 0xFFFF) if h)


def revisits(remembered: Sequence[tuple[int, ...]], words: tuple[int, ...]) -> bool:
    """Whether a stand-alone question (``words``: its subject's, ``subject_words``) returns to the
    subject of one of the last ``SUBJECT_RECENT`` (``remembered``: the subject words of those before,
    oldest first): it shares a word with one of them, and that word is in fewer than
    ``SUBJECT_HABIT`` of all remembered. admit.lua does the same."""
    n = len(remembered)
    recent = [remembered[i] for i in range(max(n - SUBJECT_RECENT, 0), n)]  # a deque has no slices
    for word in words:
        for r in recent:
            if word in r:
                if sum(1 for other in remembered if word in other) < SUBJECT_HABIT:
                    return True
                break
    return False


# Past this size a seed is known by a hash (seed_key).
_EXACT_SEED = 2**52


def seed_key(seed: int | None) -> int:
    """The seed as the ring keeps it: the request's seed + 1 (0: none), a number a double holds
    exactly (Redis's Lua has no other kind). A seed past 2**52 in size (clients may send up to
    2**64) is known by a 32-bit hash above that range: only equality matters (a seed sweep)."""
    if seed is None:
        return 0
    key = seed + 1
    if -_EXACT_SEED < key < _EXACT_SEED:
        return key
    return _EXACT_SEED + zlib.crc32(str(seed).encode())


# The records below are built for every request: NamedTuples, immutable like a frozen dataclass but
# built in a quarter of the time (a frozen dataclass sets each field through object.__setattr__).
class Observation(NamedTuple):
    """One request, as the detector and the store see it."""

    flags: int
    query: int
    skeleton: int
    topic: int
    lang: int
    bias: int  # hash of the biased token set; 0 without logit_bias
    seed: int  # seed_key: the request's seed + 1; 0 without one
    system: int  # campaign fingerprint of the system prompt; 0 if too short to mean anything
    template: int  # campaign fingerprint of the prompt's opening; 0 if too short
    suffix: int  # campaign fingerprint of the prompt's closing instruction; 0 if too short
    infra: int  # campaign fingerprint of (ip /24, user agent); 0 if unknown
    subject: int = 0  # what a stand-alone question is about (proxy.text.subject_of); 0 otherwise

    def fingerprints(self) -> tuple[tuple[str, int], ...]:
        """The campaign fingerprints this request carries, by kind (zero ones left out)."""
        kinds = []  # four ifs, not a generator: this runs for every request
        if self.system:
            kinds.append(("system", self.system))
        if self.template:
            kinds.append(("template", self.template))
        if self.suffix:
            kinds.append(("suffix", self.suffix))
        if self.infra:
            kinds.append(("infra", self.infra))
        return tuple(kinds)

    def admit_increments(self) -> list[float]:
        inc = [0.0] * len(SHORT_COUNTERS)
        inc[0] = 1.0
        for flag, index in FLAG_COUNTERS:
            if self.flags & flag:
                inc[index] = 1.0
        return inc


class Outcome(NamedTuple):
    """What the upstream delivered, folded into the window at settlement."""

    prompt_tokens: int
    completion_tokens: int
    flavored: bool
    risk: float
    served: bool = True  # False: refused by policy; only the risk is recorded
    follow_up: bool = False  # the answer continues a conversation

    def settle_increments(self) -> tuple[list[float], list[float]]:
        short = [0.0] * len(SHORT_COUNTERS)
        short[11] = 1.0
        long_out = self.completion_tokens >= LONG_OUTPUT
        short[12] = 1.0 if long_out else 0.0
        short[13] = float(self.prompt_tokens)
        short[14] = float(self.completion_tokens)
        # A harvest question stands alone (a training pair needs no conversation around it);
        # a curious human's reasoning answers are often the follow-ups of one. Follow-ups still
        # count in the account's share of reasoning asked for (``cot``), where a made-up
        # exchange prepended to every harvest request does not hide it.
        harvest = 1.0 if long_out and self.flavored and not self.follow_up else 0.0
        return short, [0.0, float(self.completion_tokens), harvest]


class Window(NamedTuple):
    """An account's recent behaviour, decayed to now, this request included."""

    counters: tuple[float, ...]  # SHORT_COUNTERS
    long_counters: tuple[float, ...]  # LONG_COUNTERS
    ring: int = 0  # observations in the ring before this one
    same_query: int = 0
    same_skeleton: int = 0
    recurring_templates: int = 0  # remembered requests, this one included, sharing a template end with another
    distinct_topics: int = 1
    distinct_langs: int = 1
    biased: int = 0
    distinct_bias: int = 0
    seed_sweep: int = 0  # earlier requests with this query and another seed
    gap_mean: float = 0.0  # EWMA of log(1 + seconds between requests)
    gap_var: float = 0.0
    gaps: int = 0
    active_hours: int = 1  # hours of the last 24 with traffic
    risk: float = 0.0  # the stored risk, decayed to now
    age: float = 0.0  # seconds since the account's first remembered request

    def c(self, name: str) -> float:
        return self.counters[SHORT_COUNTERS.index(name)]


class Campaign(NamedTuple):
    """Cross-account counters for the request's fingerprints: (accounts, requests, flavored)."""

    system: tuple[int, float, float] = (0, 0.0, 0.0)
    template: tuple[int, float, float] = (0, 0.0, 0.0)
    suffix: tuple[int, float, float] = (0, 0.0, 0.0)
    infra: tuple[int, float, float] = (0, 0.0, 0.0)


class Signal(NamedTuple):
    name: str
    value: float  # strength in [0, 1]
    contribution: float  # weight * value


class Assessment(NamedTuple):
    risk: float  # this request's evidence combined with the account's decayed risk
    signals: tuple[Signal, ...]  # strongest first, zero ones left out

    def reasons(self, top: int = 3) -> list[str]:
        return [f"{s.name}={s.value:.2f}" for s in self.signals[:top]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "risk": round(self.risk, 4),
            "signals": [
                {"name": s.name, "value": round(s.value, 4), "contribution": round(s.contribution, 4)}
                for s in self.signals
            ],
        }


# ---- step 1: observe ------------------------------------------------------------


def observe(
    features: RequestFeatures, limits: Limits, ip: str = "", user_agent: str = ""
) -> Observation:
    lower = excerpt(features.query_text or features.prompt_text).lower()
    ascii_text = lower.isascii()
    word_list = tokens(lower)
    unique = set(word_list)
    # The prompt's trigger words: all the gates need.
    vocab = TRIGGER_WORDS.intersection(unique)
    flags = 0
    # Chain of thought on a multiple-choice item is how evals are run, and its trace ends in a letter.
    if closed_answer(lower):
        flags |= CLOSED
    elif has_cot(lower, vocab, ascii_text):
        flags |= COT
    if has_capability(lower, vocab, ascii_text):
        flags |= CAPABILITY
    if has_grader(lower, vocab, ascii_text):
        flags |= GRADER
    generation = features.max_tokens is None or features.max_tokens > 16
    if features.top_logprobs is not None and features.top_logprobs >= 10 and generation:
        flags |= LOGPROB_HIGH
    if features.logprobs and features.max_tokens is not None and features.max_tokens <= 2:
        flags |= LOGPROB_PROBE
    bias = 0
    if features.logit_bias:
        flags |= BIAS
        bias = short_hash(",".join(sorted(features.logit_bias))) or 1
    if features.n > 1 and (features.temperature or 1.0) >= 0.8:
        flags |= HOT_SAMPLING
    cap = limits.max_tokens
    if features.max_tokens is not None and (features.max_tokens >= 4000 or (cap is not None and features.max_tokens >= cap)):
        flags |= PINNED
    if features.has_tools:
        flags |= TOOLS
    if features.seed is not None:
        flags |= SEEDED
    if features.follow_up:
        flags |= FOLLOW_UP
    # Asking about code or math is everyday use, and so is a client that always sends
    # max_tokens 4096; eliciting reasoning, grades or soft labels is harvest.
    if flags & (COT | GRADER | LOGPROB_HIGH):
        flags |= FLAVORED
    # A question on its own: not a turn of a conversation, no code, no options to pick from, no tools.
    subject = 0
    if not flags & (FOLLOW_UP | CLOSED | TOOLS) and "```" not in lower:
        subject = subject_of(word_list, unique)
        if subject:
            flags |= STANDALONE
    system = features.system_text
    infra = 0
    if ip:
        block = ip.rsplit(".", 1)[0] if "." in ip else ip.rsplit(":", 2)[0]
        infra = short_hash(f"{block}|{user_agent}") or 1
    # Code next to either end is no template: snippets open and close alike ("```", "return out").
    opening, closing = template_ends(word_list, not lower.lstrip().startswith("```"),
                                     not lower.rstrip().endswith("```"), ascii_text)
    return Observation(
        flags=flags,
        query=short_hash(lower),
        skeleton=skeleton_of(opening, closing),
        topic=topic_hash(word_list),
        lang=LANGUAGE_ID[language(lower, word_list)],
        bias=bias,
        seed=seed_key(features.seed),
        system=(short_hash(system) or 1) if len(system) >= 40 else 0,
        # The template ends tie the accounts of a sweep together. Strangers share an opening
        # ("what is the difference between"), so an account is tied only by its own habit.
        template=opening,
        suffix=closing,
        infra=infra,
        subject=subject,
    )


# ---- step 3: assess -------------------------------------------------------------

PRIOR_WEIGHT = 3.0  # pseudo-requests: a few requests cannot make a rate certain
PRIOR_RATE = 0.02


def _share(count: float, n: float) -> float:
    return (count + PRIOR_WEIGHT * PRIOR_RATE) / (n + PRIOR_WEIGHT)


def _ramp(x: float, low: float, high: float) -> float:
    """0 at or below low, 1 at or above high, linear between."""
    if x <= low:
        return 0.0
    if x >= high:
        return 1.0
    return (x - low) / (high - low)


def signal_values(w: Window, campaign: Campaign) -> dict[str, float]:
    """Every signal's strength in [0, 1]; pure and cheap (a few dozen float ops)."""
    (n, cot, capability, grader, logprob_high, _probe, bias, hot_sampling, _pinned, _tools, _seeded,
     settled, long_out, prompt, completion, flavored, closed, standalone, revisited) = w.counters  # SHORT_COUNTERS
    long_share = _share(long_out, settled)
    out_ratio = completion / (prompt + completion + 1.0)
    ring = w.ring + 1
    values: dict[str, float] = {}

    mean_completion = completion / settled if settled else 0.0
    # How much of this account's traffic asks for reasoning, grades or soft labels.
    flavor = _ramp(_share(flavored, n), 0.2, 0.6)
    open_answers = 1.0 - _share(closed, n)
    values["output_heavy"] = long_share * _ramp(out_ratio, 0.15, 0.5)
    # Reasoning traces are long: "think step by step" on a multiple-choice eval yields a short one.
    values["cot"] = _ramp(_share(cot, n), 0.12, 0.6) * _ramp(mean_completion, 120.0, 450.0)
    # A multiple-choice item's answer is a letter, however hard the question and long the reasoning.
    values["capability"] = _ramp(_share(capability, n), 0.25, 0.75) * _ramp(long_share, 0.1, 0.5) * open_answers
    # A judge that answers with a score is a classifier; one that explains is a label source.
    values["grader"] = _ramp(_share(grader, n), 0.05, 0.4) * _ramp(mean_completion, 30.0, 150.0)
    values["logprob_harvest"] = _ramp(_share(logprob_high, n), 0.05, 0.4)
    # Logit-bias sweeps: the biased token set keeps changing (a classifier's constant bias does not).
    bias_share = _share(bias, n)
    sweep = _ramp(w.distinct_bias / max(w.biased, 1), 0.3, 0.8) if w.biased >= 4 else 0.0
    values["logit_sweep"] = sweep * _ramp(bias_share, 0.1, 0.4)
    seed_sweep = _ramp(w.seed_sweep, 2, 8)
    repeats = _ramp(w.same_query / ring, 0.2, 0.6) * long_share if ring >= 8 else 0.0
    values["sampling"] = max(_ramp(_share(hot_sampling, n), 0.1, 0.5), seed_sweep, repeats)
    # One template, or a handful used in turn: a sweep fills slots, a person rewords.
    templated = _ramp(w.same_skeleton / ring, 0.3, 0.8) if ring >= 4 else 0.0
    if ring >= 12:
        templated = max(templated, _ramp(w.recurring_templates / ring, 0.6, 0.95))
    # A harvest fills a short slot and takes a long answer; a tool's canned instruction over pasted
    # code or text ("review this: ...") takes answers no longer than what it was given.
    values["templated_harvest"] = (templated * _ramp(long_share, 0.15, 0.6) * open_answers
                                   * _ramp(out_ratio, 0.35, 0.6))
    breadth = _ramp(w.distinct_topics / ring, 0.6, 0.95) if ring >= 12 else 0.0
    values["coverage"] = breadth * _ramp(long_share, 0.25, 0.7) * _ramp(ring, 12, 48)
    # Many languages alone is a translation service; with harvest flavour it is a sweep.
    values["multilingual"] = _ramp(w.distinct_langs, 3, 5) * flavor
    if w.gaps >= 20:
        regular = _ramp(0.6 - math.sqrt(max(w.gap_var, 0.0)), 0.0, 0.4)
        tireless = _ramp(w.active_hours, 18, 23)
        values["pacing"] = max(regular, tireless) * _ramp(long_share, 0.2, 0.6)
    else:
        values["pacing"] = 0.0
    completion24 = w.long_counters[1]
    values["volume"] = _ramp(math.log10(completion24 + 1.0), 5.0, 6.3) * _ramp(long_share, 0.2, 0.6)
    values["flavored_volume"] = _ramp(daily_rate(w.long_counters[2], w.age), 36.0, 50.0)
    # A topic plan swept by aspects: stand-alone questions that keep returning, in other words, to the
    # subject of one just before ("explain X", "the history of X", "X's open problems"), subject after
    # subject. A person asks about one subject within a conversation (follow-ups are no stand-alone
    # questions) and moves on; a field of work or a phrasing habit recurs everywhere (SUBJECT_HABIT).
    values["subject_sweep"] = (_ramp(revisited / (standalone + 1.0), 0.25, 0.5) * _ramp(revisited, 2.0, 6.0)
                               * _ramp(long_share, 0.05, 0.25))
    # A campaign implicates an account only by the account's own behaviour: an innocent question
    # that happens to open like the campaign's template does not.
    # - A long system prompt is an artefact someone wrote for a deployment. A sybil account sends
    #   a handful of requests, so behind a system prompt that many accounts already use for
    #   harvest, its first request or two of that flavour tie it to the campaign (a light prior).
    # - A template end (five words) that many accounts share is often just language ("what is
    #   the difference between"). It ties an account that keeps to it (nearly all its remembered
    #   requests share template ends) and takes long answers many times its prompt: a sweep of
    #   slots, spread over accounts, from its second or third request on. A shared instruction
    #   over pasted code or passages takes answers no longer than its prompt; a human rewords.
    own = _ramp((flavored + 0.1) / (n + 1.0), 0.2, 0.6)
    shared_end = max(_shared(campaign.template), _shared(campaign.suffix))
    keeps_to = _ramp(w.recurring_templates / ring, 0.6, 0.9) if ring >= 2 else 0.0
    generation = _ramp(out_ratio, 0.6, 0.85) * _ramp(long_share, 0.2, 0.45)
    sweep = SWEEP_STRENGTH * shared_end * keeps_to * generation * open_answers
    values["campaign"] = max(_campaign(campaign.system) * own, sweep)
    values["infrastructure"] = _campaign(campaign.infra) * flavor
    return values


# The day-decayed counters hold a day's events times the exposure: after t seconds of an
# account's life, (1 - 2^(-t/DAY)) / ln 2 days. A count alone mistakes a heavy human of three
# days' standing for a harvester of one day; divided by the exposure it reads as a daily rate.
# A first day counts as a whole one: a rate read off a few hours of one working session would
# be a burst, not a habit.
_FIRST_DAY = 0.5  # 1 - 2^(-1): the exposure factor after one day


def daily_rate(count: float, age: float) -> float:
    """A day-decayed count as events per day, given the account's age in seconds."""
    return count * math.log(2.0) / max(1.0 - math.exp2(-max(age, 0.0) / DAY), _FIRST_DAY)


SWEEP_STRENGTH = 0.7  # a shared template end is weaker evidence than a shared system prompt


def _shared(counts: tuple[int, float, float]) -> float:
    """Many accounts behind one fingerprint, whatever their flavour."""
    accounts, requests, _ = counts
    if requests < 10:
        return 0.0
    return _ramp(accounts, 4, 12)


def _campaign(counts: tuple[int, float, float]) -> float:
    """Many accounts behind one fingerprint, whose traffic is mostly harvest-flavoured."""
    accounts, requests, flavored = counts
    if requests < 10:
        return 0.0
    return _ramp(accounts, 4, 12) * _ramp(flavored / requests, 0.6, 0.9)


# Signals that measure one trait, heavy use of long and varied answers: a busy human or an
# application shows all three at once, so together they count as much as the strongest of them.
# A flag then needs evidence of harvest itself (reasoning elicited, templates, logprobs, ...).
HEAVY_USE = frozenset({"output_heavy", "coverage", "volume"})
# Likewise the signals read off the account's own harvest flavour (reasoning asked for): how
# much of its traffic, how many such answers a day, in how many languages. A curious human
# who asks for explanations shows them together; they count as their strongest.
FLAVOR_USE = frozenset({"cot", "flavored_volume", "multilingual"})


def combine(values: dict[str, float], policy: TierDetection, prior_risk: float = 0.0) -> Assessment:
    """Weights turn strengths into contributions; the risk never drops below the decayed prior."""
    keep_out = 1.0
    heavy = 0.0
    flavor = 0.0
    signals = []
    for name, value in values.items():
        if value <= 0.0:
            continue
        contribution = min(value * policy.weights.get(name, 0.0), 0.999)
        if name in HEAVY_USE:
            heavy = max(heavy, contribution)
        elif name in FLAVOR_USE:
            flavor = max(flavor, contribution)
        else:
            keep_out *= 1.0 - contribution
        signals.append(Signal(name, value, contribution))
    keep_out *= (1.0 - heavy) * (1.0 - flavor)
    signals.sort(key=lambda s: -s.contribution)
    return Assessment(risk=max(1.0 - keep_out, prior_risk), signals=tuple(signals))


def assess(window: Window, campaign: Campaign, policy: TierDetection) -> Assessment:
    return combine(signal_values(window, campaign), policy, window.risk)


def decay(value: float, elapsed: float, half_life: float) -> float:
    return value * math.exp2(-max(elapsed, 0.0) / half_life)
